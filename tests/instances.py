"""Instances a PACS would receive, for the Orthanc gate's tests and benchmark: real
frames (pydicom-data's JPEG Baseline, JPEG 2000 and RLE files) in files that carry what
Orthanc needs to store them (Patient ID, Study, Series and SOP Instance UIDs), each with
a SOP Instance UID of its own, valid or with one defect.

`KINDS` names each kind: the codes the gate finds in it, and whether a safe fix repairs
it (`repairable`) or not.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

from builders import J2K_LOSSLESS, JPEG_BASELINE, RLE_LOSSLESS, bot_item, encapsulated

STUDY = "1.2.826.0.1.3680043.8.498.4242"
SERIES = STUDY + ".1"
UID_ROOT = SERIES + "."  # + the instance's number


class Kind(NamedTuple):
    codes: frozenset[str]  # what the gate finds
    fails: bool  # with the default FailOn, error
    repairable: bool  # a safe fix leaves it lint clean
    ts: str


KINDS = {
    "jpeg": Kind(frozenset(), False, False, JPEG_BASELINE),
    "j2k": Kind(frozenset(), False, False, J2K_LOSSLESS),
    "rle": Kind(frozenset(), False, False, RLE_LOSSLESS),
    # lossy, and no Lossy Image Compression: a warning (its fix is unsafe)
    "jpeg-no-lossy-flag": Kind(frozenset({"TSX006"}), False, False, JPEG_BASELINE),
    # the BOT's entry for frame 2 points inside frame 1: RebuildBot
    "jpeg-bot": Kind(frozenset({"BOT004"}), True, True, JPEG_BASELINE),
    "j2k-bot": Kind(frozenset({"BOT004"}), True, True, J2K_LOSSLESS),
    # frame 2's fragment without its pad byte (odd length): PadFragment
    "jpeg-odd": Kind(frozenset({"ITM004"}), True, True, JPEG_BASELINE),
    # frame 2 cut short, no EOI: no safe fix
    "jpeg-no-eoi": Kind(frozenset({"CSM002"}), True, False, JPEG_BASELINE),
}
# storescu's option that proposes each transfer syntax (with -R: only it, as a modality
# proposes its files' own)
STORESCU_OPTION = {JPEG_BASELINE: "-xy", J2K_LOSSLESS: "-xv", RLE_LOSSLESS: "-xr"}
SOURCES = {  # pydicom-data files the frames come from
    JPEG_BASELINE: "color3d_jpeg_baseline.dcm",
    J2K_LOSSLESS: "emri_small_jpeg_2k_lossless.dcm",
    RLE_LOSSLESS: "emri_small_RLE.dcm",
}
ATTRIBUTES = (
    "Rows",
    "Columns",
    "SamplesPerPixel",
    "PhotometricInterpretation",
    "BitsAllocated",
    "BitsStored",
    "HighBit",
    "PixelRepresentation",
    "PlanarConfiguration",
)


@functools.cache
def file_frames(name: str) -> tuple[tuple[bytes, ...], tuple[tuple[str, object], ...]]:
    """The frames of one of pydicom's multi-frame files, and the attributes that
    describe them."""
    import pydicom
    from pydicom.data import get_testdata_file
    from pydicom.encaps import generate_frames

    ds = pydicom.dcmread(get_testdata_file(name))
    frames = tuple(generate_frames(ds.PixelData, number_of_frames=int(ds.NumberOfFrames)))
    return frames, tuple((k, ds[k].value) for k in ATTRIBUTES if k in ds)


def real_frames(ts: str) -> tuple[tuple[bytes, ...], tuple[tuple[str, object], ...]]:
    """The frames of the pydicom-data file for `ts` (SOURCES), and their attributes."""
    return file_frames(SOURCES[ts])


def uid(number: int) -> str:
    return f"{UID_ROOT}{number}"


def instance(kind: str, number: int, *, frames: int = 3, first: int = 0) -> bytes:
    """One instance of `kind`, SOP Instance UID `uid(number)`: `frames` real frames from
    the `first`-th on (the benchmark varies both so that no two instances are alike)."""
    ts = KINDS[kind].ts
    every, attributes = real_frames(ts)
    chosen = [every[(first + i) % len(every)] for i in range(frames)]
    extra: dict[str, object] = dict(attributes)
    extra.update(
        PatientID="ENCAPS-GATE",
        PatientName="Gate^Test",
        StudyInstanceUID=STUDY,
        SeriesInstanceUID=SERIES,
        SOPInstanceUID=uid(number),
        InstanceNumber=str(number),
    )
    if kind == "jpeg-no-lossy-flag":
        extra["LossyImageCompression"] = None
    if kind.endswith("-bot"):
        starts = [0, 8 + len(chosen[0]) - 16] + [
            sum(8 + len(f) for f in chosen[:i]) for i in range(2, len(chosen))
        ]
        return encapsulated(chosen, ts=ts, bot=bytes(bot_item(starts)), extra=extra).data
    if kind == "jpeg-odd":
        # a codestream of odd length and its pad byte, written without the pad
        padded = next(f for f in every if f.endswith(b"\xff\xd9\x00"))
        chosen[1] = padded[:-1]
        return encapsulated(chosen, ts=ts, extra=extra).data
    if kind == "jpeg-no-eoi":
        chosen[1] = chosen[1][:-4] + b"\x00\x00"  # the EOI and two bytes before it lost
        return encapsulated(chosen, ts=ts, extra=extra).data
    return encapsulated(chosen, ts=ts, extra=extra).data
