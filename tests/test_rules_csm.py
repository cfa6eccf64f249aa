"""CSM: the head and tail of every frame's codestream (CSM001, CSM002, CSM004, CSM005)."""

from __future__ import annotations

import pytest
from builders import (
    HTJ2K_LOSSLESS,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    Built,
    encapsulated,
    j2k_frame,
    jpeg_frame,
)

from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Finding, Severity

JPEG_SYNTAXES = [JPEG_BASELINE, JPEG_LOSSLESS_SV1, JPEG_LS_LOSSLESS]
J2K_SYNTAXES = [J2K_LOSSLESS, HTJ2K_LOSSLESS]

JPEG = jpeg_frame(32)
J2K = j2k_frame(32)
NO_SOI = b"\x00\x00" + JPEG[2:]
FILL_BEFORE_SOI = b"\xff\xff" + JPEG[:-2]  # FF FF FF D8 ...: CSM023's, not CSM001's
NO_EOI = JPEG[:-2] + b"\x00\x00"
EOI_AND_PAD = JPEG[:-3] + b"\xff\xd9\x00"
EOI_AND_MORE = JPEG[:-6] + b"\xff\xd9\x00\x00\x00\x00"  # CSM003's, not CSM002's
NO_SOC = b"\x00\x00\x00\x00" + J2K[4:]
SOC_WITHOUT_SIZ = b"\xff\x4f\xff\x52" + J2K[4:]
NO_EOC = J2K[:-2] + b"\x00\x00"
EOC_AND_PAD = J2K[:-3] + b"\xff\xd9\x00"


def findings(data: Built | bytes, code: str) -> list[Finding]:
    raw = data.data if isinstance(data, Built) else data
    return [f for f in lint_file(raw).findings if f.code == code]


def where(found: list[Finding]) -> list[tuple[str, Severity, int | None, int | None, int | None]]:
    return [(f.code, f.severity, f.offset, f.frame, f.item) for f in found]


def tail_of(built: Built, fragment: int, size: int) -> int:
    """Absolute offset of the last 2 bytes of a fragment whose value is `size` bytes."""
    return built.fragment_value(fragment) + size - 2


def truncated(frames: list[bytes], ts: str, cut: int) -> bytes:
    """A file whose last fragment loses its last `cut` bytes, with no delimiter."""
    return encapsulated(frames, ts=ts, end=b"").data[:-cut]


class TestMissingSoi:
    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_frame_starts_with_zeros(self, ts: str) -> None:
        built = encapsulated([NO_SOI], ts=ts)
        found = findings(built, "CSM001")
        assert where(found) == [("CSM001", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == 2

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        # Frame 1 spans two fragments, so frame 2 starts in fragment 3.
        built = encapsulated([[JPEG[:16], JPEG[16:]], NO_SOI, JPEG], ts=ts)
        assert where(findings(built, "CSM001")) == [
            ("CSM001", Severity.ERROR, built.fragment_value(3), 2, 3)
        ]

    def test_frame_found_by_markers(self) -> None:
        built = encapsulated([[JPEG[:16], JPEG[16:]], [NO_SOI[:16], NO_SOI[16:]]], bot="empty")
        assert where(findings(built, "CSM001")) == [
            ("CSM001", Severity.ERROR, built.fragment_value(3), 2, 3)
        ]

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_fill_before_soi_is_not_missing_soi(self, ts: str) -> None:
        built = encapsulated([FILL_BEFORE_SOI], ts=ts)
        assert findings(built, "CSM001") == []

    def test_not_checked_for_j2k(self) -> None:
        built = encapsulated([NO_SOI], ts=J2K_LOSSLESS)
        assert findings(built, "CSM001") == []

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([JPEG, [JPEG[:16], JPEG[16:]]], ts=ts), "CSM001") == []


class TestMissingEoi:
    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_frame_ends_without_eoi(self, ts: str) -> None:
        built = encapsulated([NO_EOI], ts=ts)
        found = findings(built, "CSM002")
        assert where(found) == [("CSM002", Severity.ERROR, tail_of(built, 1, len(NO_EOI)), 1, 1)]
        assert found[0].length == 2

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        # Frame 2 spans fragments 2-3: the finding is at the end of fragment 3.
        built = encapsulated([JPEG, [NO_EOI[:16], NO_EOI[16:]], JPEG], ts=ts)
        assert where(findings(built, "CSM002")) == [
            ("CSM002", Severity.ERROR, tail_of(built, 3, len(NO_EOI) - 16), 2, 3)
        ]

    def test_one_pad_byte_is_fine(self) -> None:
        assert findings(encapsulated([EOI_AND_PAD, EOI_AND_PAD]), "CSM002") == []

    def test_eoi_followed_by_more_bytes_is_not_missing_eoi(self) -> None:
        assert findings(encapsulated([EOI_AND_MORE]), "CSM002") == []

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_truncated_last_fragment_is_itm005(self, ts: str) -> None:
        data = truncated([JPEG, JPEG], ts, cut=6)
        assert findings(data, "ITM005") != []
        assert findings(data, "CSM002") == []

    def test_not_checked_for_j2k(self) -> None:
        assert findings(encapsulated([NO_EOI], ts=J2K_LOSSLESS), "CSM002") == []

    @pytest.mark.parametrize("ts", JPEG_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([JPEG, [JPEG[:16], JPEG[16:]]], ts=ts), "CSM002") == []


class TestMissingSoc:
    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    @pytest.mark.parametrize(
        "frame", [NO_SOC, SOC_WITHOUT_SIZ, JPEG], ids=["zeros", "no-siz", "jpeg"]
    )
    def test_frame_without_soc_siz(self, ts: str, frame: bytes) -> None:
        built = encapsulated([frame], ts=ts)
        found = findings(built, "CSM004")
        assert where(found) == [("CSM004", Severity.ERROR, built.fragment_value(1), 1, 1)]
        assert found[0].length == 4

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        built = encapsulated([[J2K[:16], J2K[16:]], NO_SOC, J2K], ts=ts)
        assert where(findings(built, "CSM004")) == [
            ("CSM004", Severity.ERROR, built.fragment_value(3), 2, 3)
        ]

    def test_not_checked_for_jpeg(self) -> None:
        assert findings(encapsulated([JPEG]), "CSM004") == []

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([J2K, [J2K[:16], J2K[16:]]], ts=ts), "CSM004") == []


class TestMissingEoc:
    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_frame_ends_without_eoc(self, ts: str) -> None:
        built = encapsulated([NO_EOC], ts=ts)
        found = findings(built, "CSM005")
        assert where(found) == [("CSM005", Severity.ERROR, tail_of(built, 1, len(NO_EOC)), 1, 1)]
        assert found[0].length == 2

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_only_frame_two_is_bad(self, ts: str) -> None:
        built = encapsulated([J2K, [NO_EOC[:16], NO_EOC[16:]], J2K], ts=ts)
        assert where(findings(built, "CSM005")) == [
            ("CSM005", Severity.ERROR, tail_of(built, 3, len(NO_EOC) - 16), 2, 3)
        ]

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_one_pad_byte_is_fine(self, ts: str) -> None:
        assert findings(encapsulated([EOC_AND_PAD], ts=ts), "CSM005") == []

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_truncated_last_fragment_is_itm005(self, ts: str) -> None:
        data = truncated([J2K, J2K], ts, cut=6)
        assert findings(data, "ITM005") != []
        assert findings(data, "CSM005") == []

    def test_not_checked_for_jpeg(self) -> None:
        assert findings(encapsulated([NO_EOC]), "CSM005") == []

    @pytest.mark.parametrize("ts", J2K_SYNTAXES)
    def test_valid(self, ts: str) -> None:
        assert findings(encapsulated([J2K, [J2K[:16], J2K[16:]]], ts=ts), "CSM005") == []
