"""The JPEG / JPEG-LS and JPEG 2000 header parsers, on codestream headers made here.

`jpeg()` and `j2k()` assemble real marker segments and say where each marker landed;
test_rules_csm_header.py builds its frames with them too.
"""

from __future__ import annotations

import struct
from collections.abc import Callable
from dataclasses import dataclass

import pytest
from hypothesis import given
from hypothesis import strategies as st

from dcmencaps_lint.codestream import (
    FILL_LIMIT,
    SOF55,
    J2kHeader,
    JpegHeader,
    j2k_is_lossy,
    jpeg_is_lossy,
    parse_j2k,
    parse_jpeg,
)

SOF0, SOF1, SOF2, SOF3, SOF9 = 0xC0, 0xC1, 0xC2, 0xC3, 0xC9
RPCL, LRCP = 2, 0
NO_QUANTIZATION, SCALAR_EXPOUNDED = 0x40, 0x42  # Sqcd with 2 guard bits


@dataclass(frozen=True)
class Stream:
    """A codestream and the offset of each marker in it (by name: "SOF", "SIZ"...)."""

    data: bytes
    at: dict[str, int]


class _Writer:
    def __init__(self) -> None:
        self.data = bytearray()
        self.at: dict[str, int] = {}

    def raw(self, data: bytes, name: str | None = None) -> None:
        if name is not None:
            self.at[name] = len(self.data)
        self.data += data

    def segment(self, marker: int, body: bytes, name: str | None = None) -> None:
        self.raw(bytes([0xFF, marker]) + struct.pack(">H", len(body) + 2) + body, name)

    def stream(self, end_marker: bytes) -> Stream:
        if (len(self.data) + len(end_marker)) % 2:
            self.data += b"\x00"  # one more byte of coded data keeps the frame even
        self.raw(end_marker, "end")
        return Stream(bytes(self.data), self.at)


def dqt_body() -> bytes:
    return b"\x00" + bytes(range(1, 65))  # 8-bit table 0


def dht_body() -> bytes:
    return b"\x00" + bytes([0, 1] + [0] * 14) + b"\x00"  # DC table 0, one 2-bit code


def jpeg(
    *,
    sof: int = SOF0,
    precision: int = 8,
    rows: int = 4,
    columns: int = 4,
    components: int = 1,
    dqt: bool = True,
    dht: bool = True,
    ss: int = 0,
    fill: int = 0,
    app: bytes = b"",
) -> Stream:
    """SOI, [APP segments], [DQT], SOFn, [DHT], SOS (Ss = predictor or NEAR), data, EOI.

    Ss of the SOS is the predictor of lossless JPEG, or NEAR of JPEG-LS (sof=SOF55).
    """
    w = _Writer()
    w.raw(b"\xff" * fill + b"\xff\xd8", "SOI")
    w.raw(app)
    if dqt:
        w.segment(0xDB, dqt_body(), "DQT")
    specs = b"".join(bytes([i + 1, 0x11, 0]) for i in range(components))
    w.segment(sof, struct.pack(">BHHB", precision, rows, columns, components) + specs, "SOF")
    if dht:
        w.segment(0xC4, dht_body(), "DHT")
    scan = bytes([components]) + b"".join(bytes([i + 1, 0]) for i in range(components))
    w.segment(0xDA, scan + bytes([ss, 0 if sof == SOF55 else 63, 0]), "SOS")
    w.raw(b"\x12\x34\x56")
    return w.stream(b"\xff\xd9")


def j2k(
    *,
    rows: int = 4,
    columns: int = 4,
    components: int = 1,
    precision: int = 8,
    signed: bool = False,
    origin: tuple[int, int] = (0, 0),
    progression: int = LRCP,
    mct: int = 0,
    levels: int = 1,
    reversible: bool = True,
    sqcd: int = NO_QUANTIZATION,
    cap: bool = False,
    tlm: bool = False,
) -> Stream:
    """SOC, SIZ, [CAP], COD, QCD, [TLM], SOT, SOD, data, EOC: a one-tile codestream.

    origin is (YOsiz, XOsiz): Ysiz and Xsiz are rows and columns plus the origin.
    """
    w = _Writer()
    w.raw(b"\xff\x4f", "SOC")
    y0, x0 = origin
    ssiz = (precision - 1) | (0x80 if signed else 0)
    size = struct.pack(
        ">HIIIIIIIIH", 0x4000 if cap else 0, columns + x0, rows + y0, x0, y0,
        columns + x0, rows + y0, 0, 0, components,
    )  # fmt: skip
    w.segment(0x51, size + bytes([ssiz, 1, 1]) * components, "SIZ")
    if cap:
        w.segment(0x50, struct.pack(">IH", 0x00020000, 0), "CAP")  # Pcap: Part 15, Ccap15
    transform = 1 if reversible else 0
    w.segment(0x52, bytes([0, progression, 0, 1, mct, levels, 4, 4, 0, transform]), "COD")
    subbands = 3 * levels + 1
    steps = bytes(subbands * (2 if sqcd & 0x1F else 1))
    w.segment(0x5C, bytes([sqcd]) + steps, "QCD")
    if tlm:
        w.segment(0x55, bytes([0, 0x50, 0]) + struct.pack(">I", 20), "TLM")
    w.segment(0x90, struct.pack(">HIBB", 0, 20, 0, 1), "SOT")
    w.raw(b"\xff\x93\x80\x00")
    return w.stream(b"\xff\xd9")


def reader(data: bytes, reads: list[tuple[int, int]] | None = None) -> Callable[[int, int], bytes]:
    """A read(offset, count) over `data` that records every read when asked to."""

    def read(offset: int, count: int) -> bytes:
        assert offset >= 0 and count >= 0
        if reads is not None:
            reads.append((offset, count))
        return data[offset : offset + count]

    return read


def jpeg_of(data: bytes, start: int = 0, end: int | None = None) -> JpegHeader | None:
    """The parsed header, less how far the parse read (compared on its own)."""
    header = parse_jpeg(reader(data), start, len(data) if end is None else end)
    return header and header._replace(reached=0)


def j2k_of(data: bytes, start: int = 0, end: int | None = None) -> J2kHeader | None:
    """The parsed header, less how far the parse read (compared on its own)."""
    header = parse_j2k(reader(data), start, len(data) if end is None else end)
    return header and header._replace(reached=0)


class TestParseJpeg:
    def test_baseline_header(self) -> None:
        s = jpeg(rows=512, columns=256, components=3)
        assert jpeg_of(s.data) == JpegHeader(
            fill_bytes=0,
            sof=SOF0,
            sof_offset=s.at["SOF"],
            precision=8,
            rows=512,
            columns=256,
            components=3,
            has_dqt=True,
            has_dht=True,
            predictor=0,
            sos_offset=s.at["SOS"],
            complete=True,
        )

    def test_offsets_are_absolute(self) -> None:
        s = jpeg()
        data = b"\x00" * 10 + s.data
        header = jpeg_of(data, 10)
        assert header is not None
        assert (header.sof_offset, header.sos_offset) == (10 + s.at["SOF"], 10 + s.at["SOS"])

    def test_lossless_predictor(self) -> None:
        header = jpeg_of(jpeg(sof=SOF3, precision=16, dqt=False, ss=7).data)
        assert header is not None
        assert (header.sof, header.precision, header.predictor, header.near) == (SOF3, 16, 7, None)
        assert not header.has_dqt and header.has_dht

    def test_jpeg_ls_near(self) -> None:
        header = jpeg_of(jpeg(sof=SOF55, dqt=False, dht=False, ss=3).data)
        assert header is not None
        assert (header.sof, header.near, header.predictor) == (SOF55, 3, None)

    def test_fill_bytes_before_soi(self) -> None:
        s = jpeg(fill=2)
        header = jpeg_of(s.data)
        assert header is not None
        assert (header.fill_bytes, header.sof_offset) == (2, s.at["SOF"])

    def test_too_many_fill_bytes_is_not_jpeg(self) -> None:
        assert jpeg_of(jpeg(fill=FILL_LIMIT + 1).data) is None

    @pytest.mark.parametrize("data", [b"", b"\xff", b"\x00\x00\xff\xd8", b"\xff\xd9\xff\xd8"])
    def test_no_soi(self, data: bytes) -> None:
        assert jpeg_of(data) is None

    def test_first_sof_counts(self) -> None:
        s = jpeg(rows=8)
        extra = b"\xff\xc3\x00\x0b\x10\x00\x02\x00\x02\x01\x01\x11\x00"
        data = s.data[: s.at["SOF"]] + extra + s.data[s.at["SOF"] :]
        header = jpeg_of(data)
        assert header is not None
        assert (header.sof, header.sof_offset, header.rows) == (SOF3, s.at["SOF"], 2)

    def test_sof_cut_by_the_end_of_the_fragment(self) -> None:
        s = jpeg()
        header = jpeg_of(s.data, end=s.at["SOF"] + 7)
        assert header is not None
        assert (header.sof, header.sof_offset, header.rows, header.complete) == (
            SOF0,
            s.at["SOF"],
            None,
            False,
        )

    def test_reads_stay_inside_the_fragment(self) -> None:
        s = jpeg()
        data = s.data[: s.at["SOS"]] + b"\xff\xda" + b"\x00" * 64  # "SOS" past the end
        reads: list[tuple[int, int]] = []
        header = parse_jpeg(reader(data, reads), 0, s.at["SOS"])
        assert header is not None and not header.complete
        assert all(offset + count <= s.at["SOS"] for offset, count in reads)

    def test_every_truncation_parses(self) -> None:
        s = jpeg()
        for end in range(len(s.data)):
            header = jpeg_of(s.data[:end])
            if end < 2:
                assert header is None
            else:
                assert header is not None and header.complete == (end >= s.at["SOS"] + 4)

    def test_long_app_segment_without_identifier_stops(self) -> None:
        # SOI, then bytes that read as an APP0 of 0x1111 bytes: garbage, not a header
        data = b"\xff\xd8\xff\xe0" + b"\x11" * 200
        reads: list[tuple[int, int]] = []
        header = parse_jpeg(reader(data, reads), 0, len(data))
        assert header == JpegHeader(fill_bytes=0, reached=32)  # how far its reads went
        assert all(offset < 64 for offset, _ in reads)

    def test_app_segments_with_identifiers_are_skipped(self) -> None:
        jfif = b"\xff\xe0\x00\x50JFIF\x00" + b"\x00" * 73  # 80 bytes: long, identified
        spiff_end = b"\xff\xe8\x00\x08\x00\x00\x00\x01\xff\xd8"  # short, no identifier
        s = jpeg(app=jfif + spiff_end)
        header = jpeg_of(s.data)
        assert header is not None
        assert (header.sof_offset, header.complete) == (s.at["SOF"], True)

    @given(st.binary(max_size=300))
    def test_garbage_never_raises(self, data: bytes) -> None:
        jpeg_of(data)
        jpeg_of(b"\xff\xd8" + data)
        jpeg_of(b"\xff\xd8\xff\xc0" + data)

    @given(st.integers(0, 200), st.integers(0, 300))
    def test_any_window_never_raises(self, start: int, length: int) -> None:
        data = jpeg(app=b"\xff\xfe\x00\x04ab").data * 2
        jpeg_of(data, start, min(len(data), start + length))


class TestParseJ2k:
    def test_main_header(self) -> None:
        s = j2k(rows=512, columns=256, components=3, precision=12, mct=1, levels=5)
        assert j2k_of(s.data) == J2kHeader(
            siz_offset=s.at["SIZ"],
            rows=512,
            columns=256,
            components=3,
            precision=12,
            signed=False,
            cod_offset=s.at["COD"],
            progression=LRCP,
            mct=1,
            levels=5,
            reversible=True,
            qcd_offset=s.at["QCD"],
            quantization=0,
            has_cap=False,
            has_tlm=False,
            complete=True,
        )

    def test_htj2k_markers_and_lossy_coding(self) -> None:
        lossy = {"reversible": False, "sqcd": SCALAR_EXPOUNDED}
        s = j2k(signed=True, progression=RPCL, cap=True, tlm=True, **lossy)  # type: ignore[arg-type]
        header = j2k_of(s.data)
        assert header is not None
        assert (header.signed, header.progression, header.reversible, header.quantization) == (
            True,
            RPCL,
            False,
            2,
        )
        assert header.has_cap and header.has_tlm and header.complete

    def test_image_offset_is_subtracted(self) -> None:
        header = j2k_of(j2k(rows=100, columns=200, origin=(7, 9)).data)
        assert header is not None
        assert (header.rows, header.columns) == (100, 200)

    def test_offsets_are_absolute(self) -> None:
        s = j2k()
        header = j2k_of(b"\x00" * 6 + s.data, 6)
        assert header is not None
        assert (header.siz_offset, header.cod_offset) == (6 + s.at["SIZ"], 6 + s.at["COD"])

    @pytest.mark.parametrize("data", [b"", b"\xff", b"\xff\xd8\xff\x4f", b"\x00\x00\x00\x0cjP  "])
    def test_no_soc(self, data: bytes) -> None:
        assert j2k_of(data) is None

    def test_siz_length_not_38_plus_3_csiz_stops(self) -> None:
        # SOC + SIZ marker, then filler that gives SIZ a length of 0x2222: not a SIZ
        data = b"\xff\x4f\xff\x51" + b"\x22" * 200
        reads: list[tuple[int, int]] = []
        header = parse_j2k(reader(data, reads), 0, len(data))
        assert header == J2kHeader(siz_offset=2, reached=45)  # how far its reads went
        assert all(offset < 64 for offset, _ in reads)

    def test_cod_cut_by_the_end_of_the_fragment(self) -> None:
        s = j2k()
        header = j2k_of(s.data, end=s.at["COD"] + 8)
        assert header is not None
        assert (header.rows, header.cod_offset, header.progression, header.complete) == (
            4,
            s.at["COD"],
            None,
            False,
        )

    def test_every_truncation_parses(self) -> None:
        s = j2k(cap=True, tlm=True)
        for end in range(len(s.data)):
            header = j2k_of(s.data[:end])
            if end < 2:
                assert header is None
            else:
                assert header is not None and header.complete == (end >= s.at["SOT"] + 4)

    @given(st.binary(max_size=300))
    def test_garbage_never_raises(self, data: bytes) -> None:
        j2k_of(data)
        j2k_of(b"\xff\x4f" + data)
        j2k_of(b"\xff\x4f\xff\x51\x00\x29" + data)


class TestJpegIsLossy:
    @pytest.mark.parametrize(
        ("header", "lossy"),
        [
            (JpegHeader(0, sof=SOF0), True),
            (JpegHeader(0, sof=SOF1), True),
            (JpegHeader(0, sof=SOF2), True),
            (JpegHeader(0, sof=SOF9), True),
            (JpegHeader(0, sof=SOF3), False),
            (JpegHeader(0, sof=SOF55, near=0), False),
            (JpegHeader(0, sof=SOF55, near=2), True),
            (JpegHeader(0, sof=SOF55), None),
            (JpegHeader(0), None),
        ],
    )
    def test_process(self, header: JpegHeader, lossy: bool | None) -> None:
        assert jpeg_is_lossy(header) is lossy

    def test_parsed_headers(self) -> None:
        lossless = jpeg_of(jpeg(sof=SOF3, dqt=False, ss=1).data)
        near_lossless = jpeg_of(jpeg(sof=SOF55, dqt=False, dht=False, ss=2).data)
        assert lossless is not None and near_lossless is not None
        assert (jpeg_is_lossy(lossless), jpeg_is_lossy(near_lossless)) == (False, True)


class TestJ2kIsLossy:
    @pytest.mark.parametrize(
        ("header", "lossy"),
        [
            (J2kHeader(reversible=True, quantization=0), False),
            (J2kHeader(reversible=False, quantization=0), True),
            (J2kHeader(reversible=True, quantization=2), True),
            (J2kHeader(reversible=True), False),
            (J2kHeader(quantization=1), True),
            (J2kHeader(), None),
        ],
    )
    def test_coding(self, header: J2kHeader, lossy: bool | None) -> None:
        assert j2k_is_lossy(header) is lossy

    def test_parsed_headers(self) -> None:
        lossless = j2k_of(j2k().data)
        irreversible = j2k_of(j2k(reversible=False, sqcd=SCALAR_EXPOUNDED).data)
        assert lossless is not None and irreversible is not None
        assert (j2k_is_lossy(lossless), j2k_is_lossy(irreversible)) == (False, True)
