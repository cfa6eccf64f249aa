"""CSM009-CSM013, CSM015-CSM021: codestream headers against the TS and the data set.

Frames are real marker segments (test_codestream.jpeg / j2k); each finding's offset is
the fragment's value offset plus the marker's place in the frame.
"""

from __future__ import annotations

from builders import (
    HTJ2K_LOSSLESS,
    J2K_LOSSLESS,
    JPEG_BASELINE,
    JPEG_LOSSLESS_SV1,
    JPEG_LS_LOSSLESS,
    Built,
    assert_findings,
    encapsulated,
    jpeg_frame,
)
from test_codestream import (
    RPCL,
    SCALAR_EXPOUNDED,
    SOF0,
    SOF1,
    SOF2,
    SOF3,
    SOF9,
    Stream,
    j2k,
    jpeg,
)

from dcmencaps_lint.codestream import SOF55
from dcmencaps_lint.engine import lint_file
from dcmencaps_lint.model import Severity

JPEG_EXTENDED = "1.2.840.10008.1.2.4.51"
JPEG_LOSSLESS = "1.2.840.10008.1.2.4.57"
JPEG_LS_NEAR = "1.2.840.10008.1.2.4.81"
J2K = "1.2.840.10008.1.2.4.91"
J2K_PART2_LOSSLESS = "1.2.840.10008.1.2.4.92"
HTJ2K_RPCL = "1.2.840.10008.1.2.4.202"
HTJ2K = "1.2.840.10008.1.2.4.203"
ERROR, WARNING = Severity.ERROR, Severity.WARNING
CODES = ("CSM009", "CSM010", "CSM011", "CSM012", "CSM013", "CSM015", "CSM016", "CSM017")
CODES += ("CSM018", "CSM019", "CSM020", "CSM021")
RGB = {"SamplesPerPixel": 3, "PhotometricInterpretation": "RGB", "PlanarConfiguration": 0}
BITS_16 = {"BitsAllocated": 16, "BitsStored": 16, "HighBit": 15}
# Valid frames, each under its transfer syntax (a Part 15 frame has CAP; .202 RPCL + TLM)
VALID = {
    JPEG_BASELINE: jpeg(),
    JPEG_EXTENDED: jpeg(sof=SOF1),
    JPEG_LOSSLESS: jpeg(sof=SOF3, dqt=False, ss=6),
    JPEG_LOSSLESS_SV1: jpeg(sof=SOF3, dqt=False, ss=1),
    JPEG_LS_LOSSLESS: jpeg(sof=SOF55, dqt=False, dht=False),
    JPEG_LS_NEAR: jpeg(sof=SOF55, dqt=False, dht=False, ss=2),
    J2K_LOSSLESS: j2k(),
    J2K: j2k(reversible=False, sqcd=SCALAR_EXPOUNDED),
    J2K_PART2_LOSSLESS: j2k(),
    HTJ2K_LOSSLESS: j2k(cap=True),
    HTJ2K_RPCL: j2k(cap=True, progression=RPCL, tlm=True),
    HTJ2K: j2k(cap=True, reversible=False, sqcd=SCALAR_EXPOUNDED),
}


Row = tuple[str, Severity, int | None, int | None, int | None]


def messages(built: Built, code: str) -> list[str]:
    return [f.message for f in lint_file(built.data).findings if f.code == code]


def at(built: Built, stream: Stream, marker: str, fragment: int = 1) -> int:
    """Absolute offset of `marker` in the frame held by `fragment`."""
    return built.fragment_value(fragment) + stream.at[marker]


class TestValidFramesAreQuiet:
    def test_every_syntax(self) -> None:
        for ts, stream in VALID.items():
            built = encapsulated([stream.data, stream.data], ts=ts)
            found = [f for f in lint_file(built.data).findings if f.code in CODES]
            assert found == [], ts

    def test_colour_and_16_bits(self) -> None:
        ybr = {**RGB, **BITS_16, "PhotometricInterpretation": "YBR_RCT"}
        cases = [
            (JPEG_BASELINE, jpeg(components=3), RGB),
            (JPEG_LOSSLESS_SV1, jpeg(sof=SOF3, precision=16, dqt=False, ss=1), BITS_16),
            (J2K_LOSSLESS, j2k(components=3, precision=16, mct=1), ybr),
            (J2K_LOSSLESS, j2k(components=3), RGB),
        ]
        for ts, stream, extra in cases:
            built = encapsulated([stream.data], ts=ts, extra=extra)
            assert [f for f in lint_file(built.data).findings if f.code in CODES] == [], ts

    def test_unreadable_headers_are_unknown(self) -> None:
        # filler frames (no SOF, a SIZ of impossible length) and a header cut short
        tall = jpeg(rows=9)
        cut = tall.data[: tall.at["SOF"] + 7]  # inside the SOF's Y field
        for ts, frame in [
            (JPEG_BASELINE, jpeg_frame()),
            (JPEG_BASELINE, cut),
            (J2K_LOSSLESS, b"\xff\x4f\xff\x51" + b"\x22" * 26 + b"\xff\xd9"),
            (HTJ2K_RPCL, j2k().data[:30]),
        ]:
            built = encapsulated([frame], ts=ts)
            assert [f for f in lint_file(built.data).findings if f.code in CODES] == [], ts


class TestDimensionsMismatch:
    def test_jpeg_rows(self) -> None:
        s = jpeg(rows=8)
        built = encapsulated([s.data])
        assert_findings(built, "CSM009", [(ERROR, at(built, s, "SOF"), 1, 1)])
        assert messages(built, "CSM009") == ["frame 1: SOF0 says 8 rows (Rows is 4)"]

    def test_rows_and_columns_once(self) -> None:
        s = jpeg(sof=SOF55, rows=8, columns=2, dqt=False, dht=False)
        built = encapsulated([s.data], ts=JPEG_LS_LOSSLESS)
        assert_findings(built, "CSM009", [(ERROR, at(built, s, "SOF"), 1, 1)])
        assert messages(built, "CSM009") == [
            "frame 1: SOF55 says 8 rows (Rows is 4) and 2 columns (Columns is 4)"
        ]

    def test_j2k_second_frame_only(self) -> None:
        good, bad = j2k(), j2k(columns=6, origin=(0, 3))
        built = encapsulated([good.data, bad.data], ts=J2K_LOSSLESS)
        assert_findings(built, "CSM009", [(ERROR, at(built, bad, "SIZ", 2), 2, 2)])

    def test_item_bytes_over_siz(self) -> None:
        # Like pydicom's JPEG2000-embedded-sequence-delimiter.dcm: FE FF DD E0 written
        # over Rsiz and the high half of Xsiz
        s = j2k(columns=256)
        data = bytearray(s.data)
        data[s.at["SIZ"] + 4 : s.at["SIZ"] + 8] = b"\xfe\xff\xdd\xe0"
        built = encapsulated([bytes(data)], ts=J2K, extra={"Columns": 256})
        assert_findings(built, "CSM009", [(ERROR, at(built, s, "SIZ"), 1, 1)])
        assert messages(built, "CSM009") == [
            "frame 1: SIZ says 3722445056 columns (Columns is 256)"
        ]

    def test_rows_zero_means_dnl(self) -> None:
        built = encapsulated([jpeg(rows=0).data])
        assert_findings(built, "CSM009", [])


class TestComponentsMismatch:
    def test_jpeg_three_components_under_one_sample(self) -> None:
        s = jpeg(components=3)
        built = encapsulated([s.data])
        assert_findings(built, "CSM010", [(ERROR, at(built, s, "SOF"), 1, 1)])
        assert messages(built, "CSM010") == [
            "frame 1: SOF0 has 3 components, Samples per Pixel is 1"
        ]

    def test_j2k_one_component_under_three_samples(self) -> None:
        s = j2k()
        built = encapsulated([s.data, s.data], ts=HTJ2K_LOSSLESS, extra=RGB)
        assert_findings(
            built,
            "CSM010",
            [(ERROR, at(built, s, "SIZ", 1), 1, 1), (ERROR, at(built, s, "SIZ", 2), 2, 2)],
        )

    def test_matching_components(self) -> None:
        built = encapsulated([j2k(components=3).data], ts=J2K_LOSSLESS, extra=RGB)
        assert_findings(built, "CSM010", [])


class TestPrecisionMismatch:
    def test_lossless_16_bits_holding_12_is_quiet(self) -> None:
        s = jpeg(sof=SOF3, precision=16, dqt=False, ss=1)
        extra = {"BitsAllocated": 16, "BitsStored": 12, "HighBit": 11}
        built = encapsulated([s.data], ts=JPEG_LOSSLESS_SV1, extra=extra)
        assert_findings(built, "CSM011", [])

    def test_precision_below_bits_stored(self) -> None:
        s = j2k(precision=14, signed=True)
        extra = {**BITS_16, "PixelRepresentation": 1}
        built = encapsulated([s.data], ts=J2K_LOSSLESS, extra=extra)
        assert_findings(built, "CSM011", [(WARNING, at(built, s, "SIZ"), 1, 1)])
        assert messages(built, "CSM011") == [
            "frame 1: SIZ precision 14 is less than Bits Stored 16"
        ]

    def test_precision_above_bits_allocated(self) -> None:
        s = jpeg(sof=SOF1, precision=12)
        built = encapsulated([s.data], ts=JPEG_EXTENDED)
        assert_findings(built, "CSM011", [(WARNING, at(built, s, "SOF"), 1, 1)])
        assert messages(built, "CSM011") == [
            "frame 1: SOF1 precision 12 is more than Bits Allocated 8"
        ]


class TestLossyCodestreamInLosslessTs:
    def test_dct_under_jpeg_lossless(self) -> None:
        for ts in (JPEG_LOSSLESS, JPEG_LOSSLESS_SV1):
            for sof in (SOF0, SOF1, SOF2):
                s = jpeg(sof=sof)
                built = encapsulated([s.data], ts=ts)
                assert_findings(built, "CSM012", [(ERROR, at(built, s, "SOF"), 1, 1)])
                assert_findings(built, "CSM016", [])  # the root cause once

    def test_near_under_jpeg_ls_lossless(self) -> None:
        s = jpeg(sof=SOF55, dqt=False, dht=False, ss=3)
        built = encapsulated([s.data], ts=JPEG_LS_LOSSLESS)
        assert_findings(built, "CSM012", [(ERROR, at(built, s, "SOS"), 1, 1)])

    def test_irreversible_wavelet_under_j2k_lossless(self) -> None:
        s = j2k(reversible=False, sqcd=SCALAR_EXPOUNDED)
        built = encapsulated([s.data], ts=J2K_LOSSLESS)
        assert_findings(built, "CSM012", [(ERROR, at(built, s, "COD"), 1, 1)])
        assert messages(built, "CSM012") == [
            "frame 1: COD selects the irreversible 9-7 wavelet and QCD quantization style is 2 "
            "under JPEG 2000 Image Compression (Lossless Only)"
        ]

    def test_quantization_alone_points_at_qcd(self) -> None:
        for ts in (J2K_PART2_LOSSLESS, HTJ2K_LOSSLESS, HTJ2K_RPCL):
            s = j2k(sqcd=SCALAR_EXPOUNDED, cap=True, progression=RPCL, tlm=True)
            built = encapsulated([s.data], ts=ts)
            assert_findings(built, "CSM012", [(ERROR, at(built, s, "QCD"), 1, 1)])

    def test_lossy_syntaxes_take_lossy_codestreams(self) -> None:
        for ts in (J2K, HTJ2K, JPEG_LS_NEAR):
            s = VALID[ts]
            assert_findings(encapsulated([s.data], ts=ts), "CSM012", [])


class TestHtj2kMissingCap:
    def test_no_cap(self) -> None:
        for ts in (HTJ2K_LOSSLESS, HTJ2K_RPCL, HTJ2K):
            s = j2k(progression=RPCL, tlm=True)
            built = encapsulated([s.data], ts=ts)
            assert_findings(built, "CSM013", [(WARNING, at(built, s, "SIZ"), 1, 1)])

    def test_part1_syntax_needs_no_cap(self) -> None:
        assert_findings(encapsulated([j2k().data], ts=J2K_LOSSLESS), "CSM013", [])

    def test_header_cut_before_sot_is_unknown(self) -> None:
        s = j2k()
        built = encapsulated([s.data[: s.at["SOT"]]], ts=HTJ2K_LOSSLESS)
        assert_findings(built, "CSM013", [])


class TestSignednessMismatch:
    def test_unsigned_codestream_signed_pixels(self) -> None:
        # Like pydicom's J2K_pixelrep_mismatch.dcm: Ssiz 0C, Pixel Representation 1
        s = j2k(precision=13)
        extra = {"BitsAllocated": 16, "BitsStored": 13, "HighBit": 12, "PixelRepresentation": 1}
        built = encapsulated([s.data], ts=J2K_LOSSLESS, extra=extra)
        assert_findings(built, "CSM015", [(ERROR, at(built, s, "SIZ"), 1, 1)])
        assert messages(built, "CSM015") == [
            "frame 1: SIZ says unsigned samples, Pixel Representation is 1"
        ]

    def test_signed_codestream_unsigned_pixels(self) -> None:
        s = j2k(signed=True, cap=True)
        built = encapsulated([s.data], ts=HTJ2K_LOSSLESS)
        assert_findings(built, "CSM015", [(ERROR, at(built, s, "SIZ"), 1, 1)])

    def test_jpeg_has_no_sign(self) -> None:
        built = encapsulated([jpeg().data], extra={"PixelRepresentation": 1})
        assert_findings(built, "CSM015", [])


class TestJpegProcessNotAllowed:
    def test_wrong_sof(self) -> None:
        cases = [
            (JPEG_BASELINE, jpeg(sof=SOF2)),
            (JPEG_BASELINE, jpeg(sof=SOF1)),
            (JPEG_BASELINE, jpeg(sof=SOF3, dqt=False, ss=1)),
            (JPEG_EXTENDED, jpeg(sof=SOF9, dht=False)),
            (JPEG_LOSSLESS, jpeg(sof=0xC7, dqt=False, ss=1)),
            (JPEG_LOSSLESS_SV1, jpeg(sof=SOF55, dqt=False, dht=False)),
            (JPEG_LS_LOSSLESS, jpeg(sof=SOF3, dqt=False, ss=1)),
            (JPEG_LS_NEAR, jpeg()),
        ]
        for ts, s in cases:
            built = encapsulated([s.data], ts=ts)
            assert_findings(built, "CSM016", [(ERROR, at(built, s, "SOF"), 1, 1)])

    def test_message(self) -> None:
        built = encapsulated([jpeg(sof=SOF2).data])
        assert messages(built, "CSM016") == [
            "frame 1: SOF2 (progressive DCT) is not allowed under JPEG Baseline (Process 1), "
            "which takes SOF0"
        ]

    def test_predictor_other_than_1_under_70(self) -> None:
        good, bad = jpeg(sof=SOF3, dqt=False, ss=1), jpeg(sof=SOF3, dqt=False, ss=7)
        built = encapsulated([good.data, bad.data], ts=JPEG_LOSSLESS_SV1)
        assert_findings(built, "CSM016", [(ERROR, at(built, bad, "SOS", 2), 2, 2)])

    def test_any_predictor_under_57(self) -> None:
        built = encapsulated([jpeg(sof=SOF3, dqt=False, ss=7).data], ts=JPEG_LOSSLESS)
        assert_findings(built, "CSM016", [])

    def test_baseline_under_extended_is_csm017s(self) -> None:
        assert_findings(encapsulated([jpeg().data], ts=JPEG_EXTENDED), "CSM016", [])


class TestJpegBaselineUnderExtended:
    def test_sof0_under_51(self) -> None:
        s = jpeg()
        built = encapsulated([s.data, s.data], ts=JPEG_EXTENDED)
        assert_findings(
            built,
            "CSM017",
            [(WARNING, at(built, s, "SOF", 1), 1, 1), (WARNING, at(built, s, "SOF", 2), 2, 2)],
        )

    def test_sof0_under_50(self) -> None:
        assert_findings(encapsulated([jpeg().data]), "CSM017", [])


class TestJpegAbbreviatedFormat:
    def test_no_dht(self) -> None:
        s = jpeg(dht=False)
        built = encapsulated([s.data])
        assert_findings(built, "CSM018", [(ERROR, at(built, s, "SOS"), 1, 1)])
        assert messages(built, "CSM018") == [
            "frame 1: no DHT (Huffman tables) before the first SOS (SOF0 frame)"
        ]

    def test_no_tables_once(self) -> None:
        s = jpeg(sof=SOF1, dqt=False, dht=False)
        built = encapsulated([s.data], ts=JPEG_EXTENDED)
        assert_findings(built, "CSM018", [(ERROR, at(built, s, "SOS"), 1, 1)])
        assert messages(built, "CSM018") == [
            "frame 1: no DQT (quantization tables) and no DHT (Huffman tables) before the "
            "first SOS (SOF1 frame)"
        ]

    def test_lossless_needs_dht(self) -> None:
        s = jpeg(sof=SOF3, dqt=False, dht=False, ss=1)
        built = encapsulated([s.data], ts=JPEG_LOSSLESS_SV1)
        assert_findings(built, "CSM018", [(ERROR, at(built, s, "SOS"), 1, 1)])

    def test_arithmetic_and_jpeg_ls_need_no_dht(self) -> None:
        arithmetic = encapsulated([jpeg(sof=SOF9, dht=False).data], ts=JPEG_EXTENDED)
        jpeg_ls = encapsulated([VALID[JPEG_LS_LOSSLESS].data], ts=JPEG_LS_LOSSLESS)
        assert_findings(arithmetic, "CSM018", [])
        assert_findings(jpeg_ls, "CSM018", [])

    def test_header_cut_before_sos_is_unknown(self) -> None:
        s = jpeg(dht=False)
        built = encapsulated([s.data[: s.at["SOS"]]])
        assert_findings(built, "CSM018", [])


class TestJ2kMctPhotometricMismatch:
    def test_mct_on_with_rgb(self) -> None:
        s = j2k(components=3, mct=1)
        built = encapsulated([s.data], ts=J2K_LOSSLESS, extra=RGB)
        assert_findings(built, "CSM019", [(ERROR, at(built, s, "COD"), 1, 1)])
        assert messages(built, "CSM019") == [
            "frame 1: COD applies the multiple component transform, Photometric "
            "Interpretation is RGB, not YBR_RCT"
        ]

    def test_mct_off_with_ybr_rct(self) -> None:
        s = j2k(components=3)
        extra = {**RGB, "PhotometricInterpretation": "YBR_RCT"}
        built = encapsulated([s.data], ts=J2K_LOSSLESS, extra=extra)
        assert_findings(built, "CSM019", [(ERROR, at(built, s, "COD"), 1, 1)])

    def test_ict_label_on_reversible_transform(self) -> None:
        s = j2k(components=3, mct=1)
        extra = {**RGB, "PhotometricInterpretation": "YBR_ICT"}
        built = encapsulated([s.data], ts=J2K_LOSSLESS, extra=extra)
        assert_findings(built, "CSM019", [(ERROR, at(built, s, "COD"), 1, 1)])

    def test_irreversible_transform_with_ybr_ict(self) -> None:
        s = j2k(components=3, mct=1, reversible=False, sqcd=SCALAR_EXPOUNDED)
        extra = {**RGB, "PhotometricInterpretation": "YBR_ICT"}
        assert_findings(encapsulated([s.data], ts=J2K, extra=extra), "CSM019", [])

    def test_single_component_is_not_judged(self) -> None:
        extra = {"PhotometricInterpretation": "YBR_RCT"}
        assert_findings(encapsulated([j2k().data], ts=J2K_LOSSLESS, extra=extra), "CSM019", [])


class TestPlanarConfigurationNotZero:
    def test_planar_1(self) -> None:
        extra = {**RGB, "PlanarConfiguration": 1}
        for ts, s in [(JPEG_BASELINE, jpeg(components=3)), (J2K_LOSSLESS, j2k(components=3))]:
            built = encapsulated([s.data, s.data], ts=ts, extra=extra)
            assert_findings(built, "CSM020", [(ERROR, None, None, None)])

    def test_planar_0_and_rle(self) -> None:
        planar = {**RGB, "PlanarConfiguration": 1}
        assert_findings(encapsulated([jpeg(components=3).data], extra=RGB), "CSM020", [])
        rle = encapsulated([b"\x00" * 64], ts="1.2.840.10008.1.2.5", extra=planar)
        assert_findings(rle, "CSM020", [])


class TestHtj2kRpclRequirements:
    def test_not_rpcl(self) -> None:
        s = j2k(cap=True, tlm=True)
        built = encapsulated([s.data], ts=HTJ2K_RPCL)
        assert_findings(built, "CSM021", [(ERROR, at(built, s, "COD"), 1, 1)])
        assert messages(built, "CSM021") == ["frame 1: progression order is 0 (LRCP), not RPCL"]

    def test_no_tlm(self) -> None:
        s = j2k(cap=True, progression=RPCL)
        built = encapsulated([s.data], ts=HTJ2K_RPCL)
        assert_findings(built, "CSM021", [(ERROR, at(built, s, "SIZ"), 1, 1)])

    def test_both_once(self) -> None:
        s = j2k(cap=True)
        built = encapsulated([s.data], ts=HTJ2K_RPCL)
        assert_findings(built, "CSM021", [(ERROR, at(built, s, "COD"), 1, 1)])
        assert messages(built, "CSM021") == [
            "frame 1: progression order is 0 (LRCP), not RPCL and the main header has no TLM "
            "marker (FF 55)"
        ]

    def test_201_needs_neither(self) -> None:
        assert_findings(encapsulated([j2k(cap=True).data], ts=HTJ2K_LOSSLESS), "CSM021", [])
