"""The transfer-syntax table knows every current syntax, including those pydicom 3.0 lacks."""

from __future__ import annotations

import pytest

from dcmencaps_lint.transfer_syntax import TRANSFER_SYNTAXES, Codec, lookup

# TSX003 (rules/TSX003.md): syntaxes pydicom 3.0 does not know, which must not be "unknown" here.
NOT_IN_PYDICOM_3_0 = [
    "1.2.840.10008.1.2.1.98",
    "1.2.840.10008.1.2.4.110",
    "1.2.840.10008.1.2.4.111",
    "1.2.840.10008.1.2.4.112",
    "1.2.840.10008.1.2.8.1",
    *(f"1.2.840.10008.1.2.4.{n}" for n in range(201, 206)),
    *(f"1.2.840.10008.1.2.4.{n}.1" for n in range(100, 107)),
]


@pytest.mark.parametrize("uid", NOT_IN_PYDICOM_3_0)
def test_knows_syntaxes_pydicom_lacks(uid: str) -> None:
    assert lookup(uid) is not None


@pytest.mark.parametrize(
    ("uid", "codec", "lossy", "one_fragment"),
    [
        ("1.2.840.10008.1.2.4.50", Codec.JPEG, True, False),
        ("1.2.840.10008.1.2.4.70", Codec.JPEG, False, False),
        ("1.2.840.10008.1.2.4.80", Codec.JPEG_LS, False, False),
        ("1.2.840.10008.1.2.4.81", Codec.JPEG_LS, None, False),
        ("1.2.840.10008.1.2.4.90", Codec.JPEG_2000, False, False),
        ("1.2.840.10008.1.2.4.91", Codec.JPEG_2000, None, False),
        ("1.2.840.10008.1.2.4.202", Codec.HTJ2K, False, False),
        ("1.2.840.10008.1.2.5", Codec.RLE, False, True),
        ("1.2.840.10008.1.2.8.1", Codec.DEFLATE, False, True),
        ("1.2.840.10008.1.2.1.98", Codec.UNCOMPRESSED, False, True),
    ],
)
def test_codec_lossiness_and_fragment_rule(
    uid: str, codec: Codec, lossy: bool | None, one_fragment: bool
) -> None:
    ts = lookup(uid)
    assert ts is not None and ts.encapsulated
    assert (ts.codec, ts.lossy, ts.one_fragment_per_frame) == (codec, lossy, one_fragment)


def test_video_is_not_frame_based_and_fragmentable_video_is_marked() -> None:
    plain, fragmentable = lookup("1.2.840.10008.1.2.4.102"), lookup("1.2.840.10008.1.2.4.102.1")
    assert plain is not None and fragmentable is not None
    assert plain.video and not plain.frame_based and not plain.fragmentable
    assert fragmentable.video and fragmentable.fragmentable


def test_native_syntaxes_are_not_encapsulated() -> None:
    for uid in ("1.2.840.10008.1.2", "1.2.840.10008.1.2.1", "1.2.840.10008.1.2.2"):
        ts = lookup(uid)
        assert ts is not None and not ts.encapsulated


def test_retired_jpeg_processes_are_marked_retired() -> None:
    retired = [ts.uid for ts in TRANSFER_SYNTAXES.values() if ts.retired]
    assert "1.2.840.10008.1.2.4.52" in retired and "1.2.840.10008.1.2.4.66" in retired
    assert "1.2.840.10008.1.2.4.50" not in retired


def test_lookup_tolerates_padding_and_rejects_unknown() -> None:
    assert lookup("1.2.840.10008.1.2.4.50\0") is not None
    assert lookup("1.2.3.4") is None
