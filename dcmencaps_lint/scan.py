"""Counting what a Huffman-coded JPEG scan holds, without decoding a pixel (DEC003).

A JPEG frame cut short and closed again with EOI decodes without an error or a warning
in libjpeg-turbo and libjpeg: the missing part comes out grey. Its markers are all
right; only its entropy-coded data is short. So this module walks every scan of a
sequential Huffman-coded frame (processes 1, 2/4: SOF0, SOF1; lossless process 14:
SOF3) with the frame's own Huffman tables, code by code, and counts the units coded:
8 x 8 blocks grouped in MCUs (ISO 10918-1 A.2, F.1.2), or samples (lossless, H.1.2),
honouring restart intervals (RSTm markers: F.1.2.3) and byte stuffing (FF 00, B.1.1.5).
A scan whose data runs out before the frame header's count (or goes on after it) is
reported at the byte where it did.

Everything else is left to the header rules: a frame this module cannot count (another
process, a table missing, a DNL-defined height, a header cut short) gives no finding.
Every read is bounded by the frame's bytes; a hostile length costs nothing.

The compiled core has the same walk in C (`_core.c` `jpeg_scan`, about 45 times faster);
this one runs without it, and tests/test_rules_dec.py checks both give the same answer.
Both walk the coded data code by code, which costs bits, not allocations: every unit
takes at least one bit, so the walk ends with the data whatever the header claims.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from dcmencaps_lint import core

# Frame and table markers (ISO 10918-1 B.1.1.3, table B.1)
SOF_COUNTED = {0xC0: "DCT", 0xC1: "DCT", 0xC3: "lossless"}  # Huffman, sequential
SOF_OTHER = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC} - set(SOF_COUNTED)
DHT, DRI, SOS, EOI, DNL = 0xC4, 0xDD, 0xDA, 0xD9, 0xDC
RST = range(0xD0, 0xD8)
LOOKUP_BITS = 16  # every Huffman code is at most 16 bits long


class ScanProblem(NamedTuple):
    """Where a frame's coded data stops matching its header."""

    position: int  # in the frame's bytes: where the data ran out, or where extra begins
    message: str


class _Component(NamedTuple):
    ident: int
    h: int
    v: int


class _Frame(NamedTuple):
    mode: str  # "DCT" or "lossless"
    width: int
    height: int
    components: tuple[_Component, ...]

    @property
    def hmax(self) -> int:
        return max(c.h for c in self.components)

    @property
    def vmax(self) -> int:
        return max(c.v for c in self.components)


class _Uncountable(Exception):
    """The frame is not one this module counts; the header rules say why, if anything."""


# What a walk found, as the compiled core gives it too (core.jpeg_scan): (position,
# how: "short" | "invalid" | "more" | "missing" | "rst", scan number, units done, units
# required, lossless, the components without a scan or the RST's number)
Raw = tuple[int, str, int, int, int, bool, tuple[int, ...]]


def check_frame(data: bytes) -> ScanProblem | None:
    """The first place where a frame's scans hold fewer or more units than its header
    requires; None when they match, or when the frame cannot be counted. The compiled
    core's walk when it is built (one pass in C), else this module's: the same answer."""
    raw = core.jpeg_scan(data) if core.enabled() else walk_frame(data)
    return None if raw is None else _problem(raw)


def walk_frame(data: bytes) -> Raw | None:
    """The pure-Python walk (the compiled core's twin)."""
    try:
        return _Walk(data).run()
    except _Uncountable:
        return None


def _problem(raw: Raw) -> ScanProblem:
    position, how, scan, done, units, lossless, extra = raw
    unit = "samples" if lossless else "MCUs"
    if how == "missing":
        names = ", ".join(str(i) for i in extra)
        return ScanProblem(position, f"EOI before a scan of component(s) {names}")
    if how == "rst":
        return ScanProblem(position, f"an RST{extra[0]} marker outside a scan")
    if how == "more":
        said = f"coded data goes on after the {units} {unit} the frame header requires"
    elif how == "invalid":
        said = f"an invalid Huffman code after {done} of {units} {unit}"
    else:
        said = f"the coded data ends after {done} of {units} {unit}"
    return ScanProblem(position, f"scan {scan}: {said}")


class _Walk:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.tables: dict[tuple[int, int], list[int]] = {}  # (class, id) -> lookup table
        self.restart = 0
        self.frame: _Frame | None = None
        self.scans = 0
        self.covered: set[int] = set()  # components with a scan

    def run(self) -> Raw | None:
        data = self.data
        if data[:2] != b"\xff\xd8":
            raise _Uncountable
        position = 2
        while True:
            position, marker = self._marker(position)
            if marker == EOI:
                return self._all_components(position)
            if marker in RST:
                return (position, "rst", self.scans, 0, 0, False, (marker - 0xD0,))
            if position + 4 > len(data):
                raise _Uncountable
            length = data[position + 2] << 8 | data[position + 3]
            end = position + 2 + length
            if length < 2 or end > len(data):
                raise _Uncountable
            segment = data[position + 4 : end]
            if marker in SOF_COUNTED:
                self.frame = _sof(SOF_COUNTED[marker], segment)
            elif marker in SOF_OTHER or marker == DNL:
                raise _Uncountable  # progressive, hierarchical, arithmetic; DNL heights
            elif marker == DHT:
                self._dht(segment)
            elif marker == DRI:
                if len(segment) < 2:
                    raise _Uncountable
                self.restart = segment[0] << 8 | segment[1]
            elif marker == SOS:
                problem, position = self._scan(segment, end)
                if problem is not None:
                    return problem
                continue
            position = end

    def _marker(self, position: int) -> tuple[int, int]:
        """(position of the FF, marker) of the marker at `position`, fill bytes skipped."""
        data = self.data
        if position >= len(data) or data[position] != 0xFF:
            raise _Uncountable  # a header the header rules judge
        while position + 1 < len(data) and data[position + 1] == 0xFF:
            position += 1  # fill bytes (B.1.1.2)
        if position + 1 >= len(data):
            raise _Uncountable
        return position, data[position + 1]

    def _all_components(self, position: int) -> Raw | None:
        frame = self.frame
        if frame is None or not self.scans:
            raise _Uncountable
        missing = tuple(c.ident for c in frame.components if c.ident not in self.covered)
        if missing:
            return (position, "missing", self.scans, 0, 0, frame.mode != "DCT", missing)
        return None

    def _dht(self, segment: bytes) -> None:
        at = 0
        while at < len(segment):
            if at + 17 > len(segment):
                raise _Uncountable
            kind, ident = segment[at] >> 4, segment[at] & 15
            counts = segment[at + 1 : at + 17]
            total = sum(counts)
            values = segment[at + 17 : at + 17 + total]
            if kind > 1 or len(values) < total:
                raise _Uncountable
            self.tables[kind, ident] = _lookup(counts, values)
            at += 17 + total

    def _scan(self, segment: bytes, end: int) -> tuple[Raw | None, int]:
        """Count one scan's units; (problem, position of the marker after the scan)."""
        frame = self.frame
        if frame is None or len(segment) < 1:
            raise _Uncountable
        count = segment[0]
        if count < 1 or len(segment) < 1 + 2 * count + 3:
            raise _Uncountable
        by_id = {c.ident: c for c in frame.components}
        members = []
        for n in range(count):
            ident, selectors = segment[1 + 2 * n], segment[2 + 2 * n]
            component = by_id.get(ident)
            dc = self.tables.get((0, selectors >> 4))
            ac = self.tables.get((1, selectors & 15))
            if component is None or dc is None or (frame.mode == "DCT" and ac is None):
                raise _Uncountable
            members.append((component, dc, ac))
        self.scans += 1
        self.covered.update(c.ident for c, _, _ in members)
        units = _units(frame, [c for c, _, _ in members])
        blocks = [(dc, ac) for c, dc, ac in members for _ in range(c.h * c.v)]
        if count == 1:  # non-interleaved: one data unit per MCU (A.2.2)
            blocks = blocks[:1]
        segments, after = self._entropy_segments(end)
        decode = _decode_dct if frame.mode == "DCT" else _decode_lossless
        interval = self.restart or units
        intervals = -(-units // interval)
        done = 0
        lossless = frame.mode != "DCT"

        def found(position: int, how: str) -> tuple[Raw, int]:
            return (position, how, self.scans, done, units, lossless, ()), after

        for number, (start, coded, stop_at) in enumerate(segments):
            if number >= intervals:  # a restart interval more than the units fill
                return found(start, "more")
            wanted = min(interval, units - done)
            got, stop, invalid = decode(coded, blocks, wanted)
            done += got
            where = start + _stuffed_length(self.data, start, stop)
            if invalid:
                return found(where, "invalid")
            if got < wanted:  # at the marker that ends its data
                return found(stop_at, "short")
            if coded[-(-stop // 8) :].strip(b"\xff"):  # whole bytes after the last unit
                # that are not padding (1-bits: some encoders pad a whole byte, FF 00)
                return found(where, "more")
        if done < units:  # restart intervals missing
            return found(after, "short")
        return None, after

    def _entropy_segments(self, start: int) -> tuple[list[tuple[int, bytes, int]], int]:
        """The scan's restart intervals: (start in the frame's bytes, unstuffed bytes,
        where the marker after them is); and where the marker that ends the scan is."""
        data = self.data
        segments = []
        position = start
        while True:
            marker_at = _next_marker(data, position)
            coded = data[position:marker_at].replace(b"\xff\x00", b"\xff")
            segments.append((position, coded, marker_at))
            if marker_at + 1 < len(data) and data[marker_at + 1] in RST:
                position = marker_at + 2
                continue
            return segments, marker_at


def _next_marker(data: bytes, position: int) -> int:
    """Where the next marker (FF then neither 00 nor FF... a fill FF belongs to it)
    starts at or after `position`; the end of the data when there is none."""
    while True:
        found = data.find(b"\xff", position)
        if found < 0 or found + 1 >= len(data):
            return len(data)
        if data[found + 1] != 0x00:
            return found
        position = found + 2


def _stuffed_length(data: bytes, start: int, bits: int) -> int:
    """How many bytes of the stuffed data from `start` hold the first `bits` bits of
    its unstuffed form (each FF 00 is one byte of data)."""
    wanted = -(-bits // 8)
    position = start
    while wanted > 0 and position < len(data):
        position += 2 if data[position] == 0xFF else 1
        wanted -= 1
    return position - start


def _sof(mode: str, segment: bytes) -> _Frame:
    if len(segment) < 6:
        raise _Uncountable
    height = segment[1] << 8 | segment[2]
    width = segment[3] << 8 | segment[4]
    count = segment[5]
    if not width or not height or not count or len(segment) < 6 + 3 * count:
        raise _Uncountable  # a DNL height, or a header the header rules judge
    components = []
    for n in range(count):
        ident, sampling = segment[6 + 3 * n], segment[7 + 3 * n]
        h, v = sampling >> 4, sampling & 15
        if not 1 <= h <= 4 or not 1 <= v <= 4:
            raise _Uncountable
        components.append(_Component(ident, h, v))
    return _Frame(mode, width, height, tuple(components))


def _units(frame: _Frame, members: Sequence[_Component]) -> int:
    """The units a scan of these components codes: MCUs of 8x8 blocks (DCT), of
    samples (lossless) (A.2.2-A.2.4, H.1.2)."""
    size = 8 if frame.mode == "DCT" else 1
    hmax, vmax = frame.hmax, frame.vmax
    if len(members) == 1:  # non-interleaved: one data unit per MCU
        c = members[0]
        columns = -(-frame.width * c.h // hmax)
        rows = -(-frame.height * c.v // vmax)
        return -(-columns // size) * -(-rows // size)
    return -(-frame.width // (size * hmax)) * -(-frame.height // (size * vmax))


def _lookup(counts: bytes, values: bytes) -> list[int]:
    """A table of 2^16 entries: for any 16 bits, (code length << 8 | value) of the code
    they start with; 0 where no code starts so (an invalid code). C.2 / F.2.2.3."""
    table = [0] * (1 << LOOKUP_BITS)
    code = 0
    k = 0
    for length in range(1, 17):
        for _ in range(counts[length - 1]):
            if code >= 1 << length:
                raise _Uncountable  # more codes than fit: a broken table
            first = code << (LOOKUP_BITS - length)
            span = 1 << (LOOKUP_BITS - length)
            table[first : first + span] = [length << 8 | values[k]] * span
            code += 1
            k += 1
        code <<= 1
    return table


def _peek(coded: bytes, bit: int) -> int:
    """The 16 bits from `bit` on (zeros past the end)."""
    byte = bit >> 3
    word = int.from_bytes(coded[byte : byte + 3].ljust(3, b"\0"), "big")
    return (word >> (8 - (bit & 7))) & 0xFFFF


def _decode_dct(
    coded: bytes, blocks: Sequence[tuple[list[int], list[int] | None]], wanted: int
) -> tuple[int, int, bool]:
    """Decode up to `wanted` MCUs of 8x8 blocks (F.2.2.1, F.2.2.2): (MCUs whole, the
    bit after the last whole one or where an invalid code starts, invalid)."""
    limit = len(coded) * 8
    bit = 0
    for mcu in range(wanted):
        start = bit
        for dc, ac in blocks:
            entry = dc[_peek(coded, bit)]
            if not entry or (entry & 0xFF) > 15:
                return (mcu, bit, True) if bit < limit else (mcu, start, False)
            bit += (entry >> 8) + (entry & 0xFF)  # the code, then SSSS extra bits
            assert ac is not None
            k = 1
            while k < 64:
                entry = ac[_peek(coded, bit)]
                if not entry:
                    return (mcu, bit, True) if bit < limit else (mcu, start, False)
                size = entry & 15
                bit += (entry >> 8) + size
                if size:
                    k += (entry >> 4 & 15) + 1
                elif entry & 0xF0 == 0xF0:  # ZRL: sixteen zeros
                    k += 16
                else:  # EOB
                    break
            if bit > limit:  # the last unit needs bits the data does not have
                return mcu, start, False
            if k > 64:  # a run past the 63rd coefficient: not a valid block
                return mcu, start, True
    return wanted, bit, False


def _decode_lossless(
    coded: bytes, blocks: Sequence[tuple[list[int], list[int] | None]], wanted: int
) -> tuple[int, int, bool]:
    """Decode up to `wanted` units of lossless differences (H.1.2.2): (units whole, the
    bit after the last whole one or where an invalid code starts, invalid)."""
    limit = len(coded) * 8
    bit = 0
    for unit in range(wanted):
        start = bit
        for dc, _ in blocks:
            entry = dc[_peek(coded, bit)]
            size = entry & 0xFF
            if not entry or size > 16:
                return (unit, bit, True) if bit < limit else (unit, start, False)
            bit += (entry >> 8) + (size if size != 16 else 0)  # SSSS 16: no extra bits
        if bit > limit:
            return unit, start, False
    return wanted, bit, False
