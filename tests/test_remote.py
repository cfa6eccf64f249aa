"""Remote files (remote.py): a corpus served by a real nginx and a real S3 server (moto)
on loopback ports lints exactly as its local copy; a multi-GB whole-slide file over HTTP
costs under 1% of its bytes (counted from nginx's access log); errors are PRS004.
"""

from __future__ import annotations

import json
import os
import shutil
import struct
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest
from builders import JPEG_BASELINE, dataset_prefix, delimiter, item, pixel_data_header, u64
from instances import KINDS, instance, real_frames
from remote_servers import Moto, Nginx

from dcmencaps_lint import lint_paths

ROOT = Path(__file__).parent.parent
FRAME_SIZE = 4 << 20  # the whole-slide file's frames: 4 MiB, as 2048 x 2048 tiles


def run(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "dcmencaps_lint", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=600,
    )


@pytest.fixture(scope="module")
def corpus(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The samples, pydicom's and pydicom-data's test files (folders in folders), and
    instances of every kind: about 300 files."""
    import pydicom.data

    root = tmp_path_factory.mktemp("site") / "corpus"
    shutil.copytree(ROOT / "samples", root / "samples")
    bundled = Path(pydicom.data.__file__).parent / "test_files"
    for path in map(Path, pydicom.data.get_testdata_files()):
        if not path.is_file():
            continue
        if path.is_relative_to(bundled):
            target = root / "pydicom" / path.relative_to(bundled)
        else:
            target = root / "pydicom-data" / path.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    for n, kind in enumerate(sorted(KINDS) * 3):
        folder = root / "instances" / kind
        folder.mkdir(parents=True, exist_ok=True)
        (folder / f"{n:03d}.dcm").write_bytes(instance(kind, 7000 + n, frames=2 + n % 3))
    private = root.parent / "private"  # nginx refuses this folder (403)
    private.mkdir()
    shutil.copyfile(root / "samples" / "valid" / "rle-single-frame.dcm", private / "a.dcm")
    return root


@pytest.fixture(scope="module")
def nginx(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Nginx]:
    server = Nginx(corpus.parent, tmp_path_factory.mktemp("nginx"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def moto(corpus: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Moto]:
    server = Moto(tmp_path_factory.mktemp("moto"))
    server.upload(corpus, "archive", "corpus")
    yield server
    server.stop()


def local_report(corpus: Path, fmt: str) -> str:
    result = run("--format", fmt, "--jobs", "1", f"{corpus}/")
    assert result.returncode == 1, result.stderr  # the corpus has broken files
    return result.stdout


def as_local(output: str, prefix: str, corpus: Path) -> str:
    """A remote run's report with each URL written as the local path it was copied to."""
    return output.replace(prefix, f"{corpus}/").replace("%2B", "+")


@pytest.mark.parametrize("fmt", ["json", "jsonl"])
def test_a_folder_over_http_lints_as_its_local_copy(nginx: Nginx, corpus: Path, fmt: str) -> None:
    nginx.clear_log()
    result = run("--format", fmt, f"{nginx.url}/corpus/")
    assert result.returncode == 1, result.stderr
    local = local_report(corpus, fmt)
    assert as_local(result.stdout, f"{nginx.url}/corpus/", corpus) == local
    assert len(json.loads(local)["files"] if fmt == "json" else local.splitlines()) > 270
    # every request a range (the folder pages and HEADs aside), none past what it asked
    gets = [r for r in nginx.requests() if r[0] == "GET" and not r[1].endswith("/")]
    assert gets and all(status == 206 for _, _, status, _ in gets)


def test_a_bucket_lints_as_its_local_copy(moto: Moto, corpus: Path) -> None:
    result = run("--format", "json", "s3://archive/corpus/", env=moto.env)
    assert result.returncode == 1, result.stderr
    assert as_local(result.stdout, "s3://archive/corpus/", corpus) == local_report(corpus, "json")


def test_files_named_one_by_one_and_mixed_with_local_ones(nginx: Nginx, corpus: Path) -> None:
    remote = f"{nginx.url}/corpus/samples/broken/CSM002-missing-eoi.dcm"
    local = corpus / "samples" / "valid" / "rle-single-frame.dcm"
    result = run("--format", "json", remote, str(local))
    files = json.loads(result.stdout)["files"]
    assert [f["path"] for f in files] == [remote, str(local)]
    assert [f["status"] for f in files] == ["failed", "passed"]
    assert [x["code"] for x in files[0]["findings"]] == ["CSM002"]


def test_errors_are_prs004_and_the_run_goes_on(nginx: Nginx, moto: Moto, corpus: Path) -> None:
    good = f"{nginx.url}/corpus/samples/valid/rle-single-frame.dcm"
    result = run(
        "--format",
        "json",
        f"{nginx.url}/no-such-file.dcm",
        f"{nginx.url}/private/a.dcm",
        f"{nginx.url}/no-such-folder/",
        f"{nginx.url}/corpus/samples",  # a folder, without its "/"
        "s3://archive/corpus/no-such-file.dcm",
        "s3://no-such-bucket/a.dcm",
        good,
        env=moto.env,
    )
    assert result.returncode == 1, result.stderr
    files = json.loads(result.stdout)["files"]
    assert [f["status"] for f in files] == ["error"] * 6 + ["passed"]
    messages = [f["findings"][0]["message"] for f in files[:6]]
    assert all(f["findings"][0]["code"] == "PRS004" for f in files[:6])
    assert messages[0] == "cannot read the file: not found"
    assert messages[1] == "cannot read the file: HTTP 403 Forbidden"
    assert messages[2].startswith("cannot list the folder: not found")
    assert messages[3] == (
        "cannot read the file: the server does not say the file's size (a folder's URL ends with /)"
    )
    assert messages[4] == "cannot read the file: not found"
    assert messages[5].startswith("cannot read the file: ")


def test_fix_is_refused_on_urls(nginx: Nginx) -> None:
    for option in ("--fix", "--diff"):
        result = run(option, f"{nginx.url}/corpus/samples/")
        assert result.returncode == 2
        assert "--fix, --fix-dir and --diff work on local files only" in result.stderr
        assert "Traceback" not in result.stderr


def test_a_protocol_without_its_backend_is_a_usage_error() -> None:
    result = run("gs://bucket/a.dcm")  # gcsfs is not installed
    assert result.returncode == 2
    assert "gcsfs" in result.stderr and "Traceback" not in result.stderr


def whole_slide_file(path: Path, frames: int) -> int:
    """A whole-slide image of `frames` real JPEG codestreams stretched to 4 MiB each
    (zeros inside the entropy-coded data, written as holes: a sparse file), an empty
    BOT and an Extended Offset Table; its size."""
    real, attributes = real_frames(JPEG_BASELINE)
    codestreams = [real[n % len(real)] for n in range(frames)]
    offsets = [n * (8 + FRAME_SIZE) for n in range(frames)]
    prefix = dataset_prefix(
        JPEG_BASELINE,
        number_of_frames=frames,
        eot=u64(offsets),
        eot_lengths=u64([FRAME_SIZE] * frames),
        extra=dict(attributes),
    )
    with path.open("wb") as fh:
        fh.write(prefix + pixel_data_header() + item(b""))
        for codestream in codestreams:
            fh.write(struct.pack("<HHI", 0xFFFE, 0xE000, FRAME_SIZE))
            head = codestream[:-2]  # all but EOI; the rest of the scan: zeros, a hole
            fh.write(head)
            fh.seek(FRAME_SIZE - len(head) - 2, os.SEEK_CUR)
            fh.write(b"\xff\xd9")
        fh.write(delimiter())
        return fh.tell()


def test_a_multi_gb_whole_slide_file_costs_under_1_percent(nginx: Nginx, corpus: Path) -> None:
    size = whole_slide_file(corpus.parent / "slide.dcm", frames=600)
    assert size > 2 << 30
    nginx.clear_log()
    url = f"{nginx.url}/slide.dcm"
    remote = lint_paths([url])
    local = lint_paths([str(corpus.parent / "slide.dcm")])
    assert remote.files[0]._replace(path="") == local.files[0]._replace(path="")
    assert remote.files[0].status == "passed"
    requests = [r for r in nginx.requests() if r[1] == "/slide.dcm"]
    fetched = sum(sent for _, _, _, sent in requests)
    assert fetched * 100 < size, fetched
    assert len(requests) <= 600 + 3  # one per frame, the data set's, the size's (HEAD)


def test_a_run_over_http_uses_worker_processes(nginx: Nginx, corpus: Path) -> None:
    """Listed in the parent, read in forked workers (fsspec's I/O thread is not
    inherited: each worker starts its own)."""
    url = f"{nginx.url}/corpus/instances/"
    one = run("--format", "json", "--jobs", "1", url)
    two = run("--format", "json", "--jobs", "2", url)
    assert one.returncode == two.returncode == 1
    assert one.stdout == two.stdout
    assert urllib.parse.unquote(one.stdout).count(url) == len(KINDS) * 3
