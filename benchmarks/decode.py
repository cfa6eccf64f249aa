"""What --decode costs: a whole-slide-like file of real JPEG tiles, linted without it,
with the scan count alone (DEC003) and with every DEC rule (the decoders too).

    python benchmarks/decode.py [--tiles 2000] [--runs 3] [--workdir /tmp/encaps-lint-bench]

generate.py's workloads cannot serve here: their entropy-coded bytes are random, made
for the header rules, and no scan of them is valid. These tiles are encoded by Pillow
(libjpeg-turbo) from images that differ tile by tile (noise and gradients), each at a
quality of its own (60-95), half with 4:2:0 and half with 4:4:4 subsampling, every
fifth with restart intervals: 256 x 256 colour tiles in one JPEG Baseline file with an
Extended Offset Table, as a scanner writes them. Reported: median wall time of whole
processes (`--jobs 1`), per tile.
"""

from __future__ import annotations

import argparse
import io
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

try:  # python benchmarks/decode.py puts benchmarks/ on sys.path
    from benchmarks import generate
except ImportError:
    import generate  # type: ignore[no-redef]


def tile(number: int) -> bytes:
    from PIL import Image

    chooser = random.Random(number)
    image = Image.effect_noise((256, 256), chooser.randrange(10, 60)).convert("RGB")
    gradient = Image.linear_gradient("L").resize((256, 256)).convert("RGB")
    image = Image.blend(image, gradient, chooser.random())
    options: dict[str, object] = {
        "quality": chooser.randrange(60, 96),
        "subsampling": 2 if number % 2 else 0,
    }
    if number % 5 == 0:
        options["restart_marker_blocks"] = chooser.randrange(4, 64)
    out = io.BytesIO()
    image.save(out, "JPEG", **options)
    data = out.getvalue()
    return data + b"\x00" if len(data) % 2 else data


def write_slide(path: Path, tiles: int) -> None:
    import pydicom
    from pydicom.dataset import Dataset, FileMetaDataset
    from pydicom.encaps import encapsulate_extended
    from pydicom.uid import JPEGBaseline8Bit, generate_uid

    frames = [tile(n) for n in range(tiles)]
    meta = FileMetaDataset()
    meta.MediaStorageSOPClassUID = "1.2.840.10008.5.1.4.1.1.77.1.6"
    meta.MediaStorageSOPInstanceUID = generate_uid()
    meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds = Dataset()
    ds.file_meta = meta
    ds.SOPClassUID = meta.MediaStorageSOPClassUID
    ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
    ds.Rows = ds.Columns = 256
    ds.SamplesPerPixel = 3
    ds.PhotometricInterpretation = "YBR_FULL_422"
    ds.PlanarConfiguration = 0
    ds.BitsAllocated = ds.BitsStored = 8
    ds.HighBit = 7
    ds.PixelRepresentation = 0
    ds.LossyImageCompression = "01"
    ds.NumberOfFrames = tiles
    pixel_data, offsets, lengths = encapsulate_extended(frames)
    ds.PixelData = pixel_data
    ds.ExtendedOffsetTable = offsets
    ds.ExtendedOffsetTableLengths = lengths
    ds["PixelData"].VR = "OB"
    ds["PixelData"].is_undefined_length = True
    pydicom.dcmwrite(path, ds, enforce_file_format=True)


def timed(command: list[str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)}: exit {done.returncode} {done.stderr.decode()}")
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--workdir", type=Path, default=generate.DEFAULT_WORKDIR)
    parser.add_argument("--tiles", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args(argv)
    workdir = generate.check_workdir(args.workdir)
    path = workdir / f"decode-{args.tiles}-tiles.dcm"
    if not path.exists():
        write_slide(path, args.tiles)
    lint = [str(Path(sys.executable).parent / "encaps-lint"), "--jobs", "1"]
    commands = {
        "header rules": [*lint, str(path)],
        "--select ALL,DEC003 (scan count)": [*lint, "--extend-select", "DEC003", str(path)],
        "--decode (decoders and scan count)": [*lint, "--decode", str(path)],
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for run in range(args.runs + 1):
        for name, command in commands.items():
            took = timed(command)
            if run:  # the first round warms the page cache
                times[name].append(took)
    size = path.stat().st_size
    print(f"{args.tiles:,} tiles, {size / 1e6:.1f} MB, median of {args.runs}:")
    print("| run | wall | per tile |")
    print("|---|---|---|")
    for name, measured in times.items():
        wall = statistics.median(measured)
        print(f"| {name} | {wall:,.2f} s | {wall / args.tiles * 1000:.2f} ms |")


if __name__ == "__main__":
    main()
