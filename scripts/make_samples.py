"""Write the sample files under samples/ from the test builders.

    python scripts/make_samples.py            # (re)write samples/
    python scripts/make_samples.py --check    # exit 1 when samples/ is stale

Each broken sample has exactly one defect; its name says which rule finds it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from builders import (  # noqa: E402
    J2K_LOSSLESS,
    RLE_LOSSLESS,
    Built,
    encapsulated,
    item,
    j2k_frame,
    jpeg_frame,
    rle_frame,
)


def _three_jpeg_frames() -> list[bytes]:
    return [jpeg_frame(64, fill=n) for n in (1, 2, 3)]


SAMPLES: dict[str, Callable[[], Built]] = {
    "valid/jpeg-baseline-3-frames-bot.dcm": lambda: encapsulated(_three_jpeg_frames()),
    "valid/j2k-2-frames-eot.dcm": lambda: encapsulated(
        [j2k_frame(64), j2k_frame(64, fill=7)], ts=J2K_LOSSLESS, bot="empty", eot="auto"
    ),
    "valid/rle-single-frame.dcm": lambda: encapsulated([rle_frame()], ts=RLE_LOSSLESS, bot="empty"),
    "broken/BOT001-bot-length-10.dcm": lambda: encapsulated(
        _three_jpeg_frames(), bot=item(b"\x00" * 10)
    ),
    "broken/BOT004-offset-inside-fragment.dcm": lambda: encapsulated(
        _three_jpeg_frames(), bot=[0, 72, 150]
    ),
    "broken/ITM004-odd-fragment.dcm": lambda: encapsulated([jpeg_frame(63)], bot="empty"),
    "broken/ITM005-truncated.dcm": lambda: _truncated(),
    "broken/ITM006-missing-delimiter.dcm": lambda: encapsulated(_three_jpeg_frames(), end=b""),
    "broken/CSM002-missing-eoi.dcm": lambda: encapsulated(
        [jpeg_frame(64), jpeg_frame(64)[:-2] + b"\x00\x00", jpeg_frame(64)]
    ),
    "broken/EOT005-length-mismatch.dcm": lambda: encapsulated(
        [j2k_frame(64), j2k_frame(64)], ts=J2K_LOSSLESS, bot="empty", eot=([0, 72], [64, 60])
    ),
}


def _truncated() -> Built:
    built = encapsulated(_three_jpeg_frames())
    built.data = built.data[: built.items[-1] + 40]  # the last fragment loses its end
    return built


def main(argv: list[str]) -> int:
    check = "--check" in argv
    stale = []
    for name, build in SAMPLES.items():
        path = ROOT / "samples" / name
        data = build().data
        if check:
            if not path.exists() or path.read_bytes() != data:
                stale.append(name)
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    if stale:
        print("stale samples (run python scripts/make_samples.py):", *stale, sep="\n  ")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
