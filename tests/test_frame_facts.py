"""The per-frame facts (facts.py): every per-frame rule gives the same findings whether
frames with equal facts share a verdict or every frame is judged on its own, with the
compiled core's grouping and with the pure-Python one.

The files are whole-slide-like: 48 frames each, in runs written by one "encoder" and
runs that differ (tables, comment segments, lengths, odd codestreams with a pad byte,
fill bytes, defects of every kind a per-frame rule reports), each frame with entropy-
coded bytes of its own. Each per-frame rule is run alone and all of them together, on
the bytes (the careful walk) and on a file (the windowed walk and the walker's alike
grouped and ungrouped.
"""

from __future__ import annotations

import random
import struct
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from builders import (
    HTJ2K_LOSSLESS,
    J2K_LOSSLESS,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    Built,
    context_of,
    encapsulated,
)
from test_codestream import RPCL, SCALAR_EXPOUNDED, SOF0, SOF1, SOF2, SOF3, j2k, jpeg

from dcmencaps_lint import facts, reader
from dcmencaps_lint.codestream import SOF55
from dcmencaps_lint.context import EncapsulatedContext
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import FileReport
from dcmencaps_lint.registry import load_rules

PER_FRAME = sorted(r.code for r in load_rules() if r.per_frame)
FRAMES = 48
JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
J2K = "1.2.840.10008.1.2.4.91"
HTJ2K_RPCL = "1.2.840.10008.1.2.4.202"
JP2_BOX = b"\x00\x00\x00\x0cjP  \r\n\x87\n"
RGB = {"SamplesPerPixel": 3, "PhotometricInterpretation": "RGB", "PlanarConfiguration": 0}

Variant = Callable[[random.Random], bytes]


def coded(header_and_end: bytes, rng: random.Random) -> bytes:
    """The codestream with entropy-coded bytes of its own (no FF: no marker) before its
    end marker; an odd codestream gets one pad byte after the end marker, as writers do."""
    data = rng.randbytes(rng.choice([300, 301, 420, 421, 600]))
    stream = header_and_end[:-2] + data.replace(b"\xff", b"\x7f") + header_and_end[-2:]
    return stream + b"\x00" * (len(stream) % 2)


def comment(rng: random.Random) -> bytes:
    """A COM segment (FF FE) of varying text: headers that differ from frame to frame."""
    text = b"tile %d" % rng.randrange(10 ** rng.randrange(1, 6))
    return b"\xff\xfe" + struct.pack(">H", len(text) + 2) + text


def no_end(stream: bytes) -> bytes:
    end = stream.rindex(b"\xff\xd9")
    return stream[:end] + b"\x00\x00" + stream[end + 2 :]


def jpeg_variants(good: dict[str, Any]) -> dict[str, Variant]:
    """The good frame of a JPEG-family syntax and its defective or unusual relatives."""

    def make(**changes: Any) -> Variant:
        return lambda rng: coded(jpeg(**{**good, **changes}).data, rng)

    app = good.get("app", b"")
    return {
        "good": make(),
        "commented": lambda rng: make(app=app + comment(rng))(rng),
        "rows": make(rows=8),
        "components": make(components=3),
        "precision": make(precision=12),
        "fill": lambda rng: make(fill=rng.choice([1, 3, 120, 300]))(rng),
        "no-soi": lambda rng: make()(rng)[2:],
        "no-eoi": lambda rng: no_end(make()(rng)),
        "trailing": lambda rng: make()(rng) + b"\x00\x00\x00\x00",
        "zeros": lambda rng: bytes(rng.choice([300, 400])),
    }


def j2k_variants(good: dict[str, Any]) -> dict[str, Variant]:
    def make(**changes: Any) -> Variant:
        return lambda rng: coded(j2k(**{**good, **changes}).data, rng)

    return {
        "good": make(),
        "rows": make(rows=8),
        "signed": make(signed=True),
        "precision": make(precision=12),
        "no-siz": lambda rng: b"\xff\x4f\xff\x52" + make()(rng)[4:],
        "no-eoc": lambda rng: no_end(make()(rng)),
        "trailing": lambda rng: make()(rng) + b"\x00\x00\x00\x00",
        "jp2": lambda rng: JP2_BOX + make()(rng),
        "jpeg": lambda rng: coded(jpeg().data, rng),
    }


def frames_of(variants: dict[str, Variant], seed: int, bad: dict[str, Variant]) -> list[bytes]:
    """At least 48 frames in runs of one variant each: every variant at least once (1 to
    3 frames), good ones (1 to 8 frames) around them, in a shuffled order."""
    rng = random.Random(seed)
    choices = {**variants, **bad}
    runs = [(name, rng.randrange(1, 4)) for name in choices if name != "good"]
    while sum(length for _, length in runs) < FRAMES:
        runs.append(("good", rng.randrange(1, 9)))
    rng.shuffle(runs)
    runs.insert(0, ("good", 2))  # the first frame sets how many leading bytes are compared
    return [choices[name](rng) for name, length in runs for _ in range(length)]


def _corpus() -> dict[str, Built]:
    lossless_jpeg: dict[str, Any] = {"sof": SOF3, "dqt": False, "ss": 1}
    # an application segment makes the header longer than the parser's first read (32
    # bytes): frames whose first 32 bytes hold coded data cannot be alike
    jpeg_ls: dict[str, Any] = {
        "sof": SOF55,
        "dqt": False,
        "dht": False,
        "app": b"\xff\xe8\x00\x10SPIFF" + bytes(9),
    }
    lossy_j2k: dict[str, Any] = {"reversible": False, "sqcd": SCALAR_EXPOUNDED}
    files = {
        "jpeg-baseline": encapsulated(
            frames_of(
                jpeg_variants({}),
                1,
                {
                    "progressive": lambda rng: coded(jpeg(sof=SOF2).data, rng),
                    "no-dht": lambda rng: coded(jpeg(dht=False).data, rng),
                },
            ),
            extra={"LossyImageCompression": "01"},
        ),
        "jpeg-extended": encapsulated(
            frames_of(
                jpeg_variants({"sof": SOF1}),
                2,
                {"baseline": lambda rng: coded(jpeg(sof=SOF0).data, rng)},
            ),
            ts=JPEG_EXTENDED,
            extra={"LossyImageCompression": "01"},
        ),
        "jpeg-lossless": encapsulated(
            frames_of(
                jpeg_variants(lossless_jpeg),
                3,
                {"dct": lambda rng: coded(jpeg(sof=SOF0).data, rng)},
            ),
            ts=JPEG_LOSSLESS,
        ),
        "jpeg-lossless-sv1": encapsulated(
            frames_of(
                jpeg_variants(lossless_jpeg),
                4,
                {"predictor-7": lambda rng: coded(jpeg(**{**lossless_jpeg, "ss": 7}).data, rng)},
            ),
            ts=JPEG_LOSSLESS_SV1,
            bot="empty",
            eot="auto",
        ),
        "jpeg-ls": encapsulated(
            frames_of(
                jpeg_variants(jpeg_ls),
                5,
                {"near": lambda rng: coded(jpeg(**jpeg_ls, ss=2).data, rng)},
            ),
            ts=JPEG_LS_LOSSLESS,
            bot="empty",
        ),
        "j2k-flagged-lossless": encapsulated(
            frames_of(
                j2k_variants({}),
                6,
                {"irreversible": lambda rng: coded(j2k(**lossy_j2k).data, rng)},
            ),
            ts=J2K,
            extra={"LossyImageCompression": "00"},
        ),
        "j2k-unflagged": encapsulated(
            frames_of(
                j2k_variants({}),
                7,
                {"irreversible": lambda rng: coded(j2k(**lossy_j2k).data, rng)},
            ),
            ts=J2K,
            bot="empty",
            eot="auto",
        ),
        "j2k-lossless-rgb": encapsulated(
            frames_of(
                j2k_variants({"components": 3}),
                8,
                {
                    "mct": lambda rng: coded(j2k(components=3, mct=1).data, rng),
                    "irreversible": lambda rng: coded(j2k(components=3, **lossy_j2k).data, rng),
                },
            ),
            ts=J2K_LOSSLESS,
            extra=RGB,
        ),
        "htj2k": encapsulated(
            frames_of(
                j2k_variants({"cap": True}),
                9,
                {"no-cap": lambda rng: coded(j2k().data, rng)},
            ),
            ts=HTJ2K_LOSSLESS,
        ),
        "htj2k-rpcl": encapsulated(
            frames_of(
                j2k_variants({"cap": True, "progression": RPCL, "tlm": True}),
                10,
                {
                    "lrcp": lambda rng: coded(j2k(cap=True, tlm=True).data, rng),
                    "no-tlm": lambda rng: coded(j2k(cap=True, progression=RPCL).data, rng),
                },
            ),
            ts=HTJ2K_RPCL,
        ),
    }
    return files


CORPUS = _corpus()


def lint(target: bytes | Path, select: list[str]) -> FileReport:
    return lint_file(target, select=select, path="x")


def grouped_and_not(
    target: bytes | Path, select: list[str], monkeypatch: pytest.MonkeyPatch
) -> tuple[FileReport, FileReport]:
    grouped = lint(target, select)
    with monkeypatch.context() as patched:
        patched.setattr(facts, "MIN_FRAMES", 10**9)  # every frame on its own
        alone = lint(target, select)
    return grouped, alone


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("wsi")
    paths = {}
    for name, built in CORPUS.items():
        paths[name] = root / f"{name}.dcm"
        paths[name].write_bytes(built.data)
    return paths


@pytest.mark.parametrize("read", ["bytes", "file"])
@pytest.mark.parametrize("code", [*PER_FRAME, "all"])
def test_every_per_frame_rule_gives_the_same_findings_grouped(
    code: str,
    read: str,
    files: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
    implementation: str,
) -> None:
    select = PER_FRAME if code == "all" else [code]
    monkeypatch.setattr(reader, "SMALL_FILE", 0)  # a file: read through its descriptor
    for name, built in CORPUS.items():
        target = built.data if read == "bytes" else files[name]
        grouped, alone = grouped_and_not(target, [*select, "PRS"], monkeypatch)
        assert grouped == alone, name
        assert "PRS005" not in {f.code for f in grouped.findings}, (name, grouped.findings)


def test_the_corpus_makes_every_per_frame_rule_fire() -> None:
    """Guards the test above against comparing empty reports."""
    found = {f.code for built in CORPUS.values() for f in lint(built.data, PER_FRAME).findings}
    assert found == set(PER_FRAME)


@pytest.mark.parametrize("name", list(CORPUS))
def test_frames_are_grouped_by_their_facts(
    name: str, monkeypatch: pytest.MonkeyPatch, implementation: str
) -> None:
    """Guards the comparison against grouping that never happens: in every file, frames
    share a verdict (fewer groups than frames), frames whose bytes differ among them;
    and the members of a group have equal facts."""
    formed: list[list[facts.FrameGroup] | None] = []
    group = facts.group_frames

    def recorded(*args: object) -> list[facts.FrameGroup] | None:
        formed.append(group(*args))  # type: ignore[arg-type]
        return formed[-1]

    monkeypatch.setattr("dcmencaps_lint.engine.group_frames", recorded)
    built = CORPUS[name]
    report = lint(built.data, PER_FRAME)
    assert len(formed) == 1 and formed[0] is not None
    assert 1 < len(formed[0]) < report.frames_found
    heads = {
        built.data[built.fragment_value(f.first_fragment) :][:64]
        for g in formed[0]
        for f in g.members
        if len(g.members) > 1
    }
    assert len(heads) > 1  # frames unlike in their bytes share a verdict
    ctx = context_of(built)
    assert isinstance(ctx, EncapsulatedContext)
    for g in formed[0]:
        keys = {facts.facts_key(ctx.frame_facts(f)) for f in g.members}
        assert len(keys) == 1, (name, g.representative)
    distinct = {facts.facts_key(ctx.frame_facts(g.representative)) for g in formed[0]}
    assert len(distinct) == len(formed[0])  # and groups do not share facts
