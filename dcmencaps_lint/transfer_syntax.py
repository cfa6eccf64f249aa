"""Every DICOM transfer syntax the linter knows, with what the rules need of it.

pydicom 3.0 lacks several current syntaxes (Encapsulated Uncompressed, JPEG XL,
Deflated Image Frame) and raises on some of them, so the linter keeps its own table
(PS3.5 Annex A, PS3.6 Table A-1).
"""

# Annotations are evaluated here (no `from __future__ import annotations`): typing's
# NamedTuple compiles each string annotation, some 8 us a field at every start-up.
import enum
from collections.abc import Callable
from typing import NamedTuple


class Codec(enum.Enum):
    """The codestream family a transfer syntax puts in its fragments."""

    NATIVE = "native"
    UNCOMPRESSED = "uncompressed"  # Encapsulated Uncompressed (A.4.11)
    JPEG = "jpeg"  # ISO 10918-1
    JPEG_LS = "jpeg-ls"  # ISO 14495-1
    JPEG_2000 = "jpeg-2000"  # ISO 15444-1 / -2
    HTJ2K = "htj2k"  # ISO 15444-15
    JPEG_XL = "jpeg-xl"  # ISO 18181-1
    RLE = "rle"  # PS3.5 Annex G
    DEFLATE = "deflate"  # Deflated Image Frame Compression (A.4.13)
    MPEG2 = "mpeg2"
    H264 = "h264"
    HEVC = "hevc"
    JPIP = "jpip"  # Pixel Data shall not be present at all

    # Members are singletons compared by identity, so the identity hash is right, and
    # it is C-level: enum's own __hash__ is a Python call, and rules ask `codec in
    # JPEG_FAMILY` dozens of times per file.
    __hash__ = object.__hash__


#: Codecs whose frames start with SOI and end with EOI.
JPEG_FAMILY = frozenset({Codec.JPEG, Codec.JPEG_LS})
#: Codecs whose frames start with SOC + SIZ and end with EOC.
J2K_FAMILY = frozenset({Codec.JPEG_2000, Codec.HTJ2K})
#: Codecs whose frames are marker-delimited codestreams (SOI or SOC ... FF D9) with a
#: header the linter parses: frames can be told apart by their markers and grouped.
MARKER_CODED = JPEG_FAMILY | J2K_FAMILY
#: Codecs whose whole video is one stream, not frames (TransferSyntax.video).
VIDEO = frozenset({Codec.MPEG2, Codec.H264, Codec.HEVC})
#: Encapsulated codecs that encode each frame on its own (TransferSyntax.frame_based).
FRAME_BASED = frozenset(Codec) - VIDEO - {Codec.NATIVE}
#: Codecs that put each frame in exactly one fragment (A.4.2, A.4.11, A.4.13).
ONE_FRAGMENT_PER_FRAME = frozenset({Codec.RLE, Codec.UNCOMPRESSED, Codec.DEFLATE})


class TransferSyntax(NamedTuple):
    uid: str
    name: str
    codec: Codec
    encapsulated: bool
    lossy: bool | None  # None: the syntax allows either
    one_fragment_per_frame: bool = False  # A.4.2 RLE, A.4.11, A.4.13
    fragmentable: bool = False  # for video: may the stream span fragments
    retired: bool = False

    @property
    def video(self) -> bool:
        return self.codec in VIDEO

    @property
    def frame_based(self) -> bool:
        """Frames are encoded separately, one or more fragments each."""
        return self.encapsulated and not self.video


def _native(uid: str, name: str, retired: bool = False) -> TransferSyntax:
    return TransferSyntax(uid, name, Codec.NATIVE, False, False, retired=retired)


def _encaps(uid: str, name: str, codec: Codec, lossy: bool | None, **kw: bool) -> TransferSyntax:
    return TransferSyntax(uid, name, codec, True, lossy, **kw)


_RETIRED_JPEG = {
    # uid suffix: (name, lossy)
    "52": ("JPEG Extended (Process 3 and 5)", True),
    "53": ("JPEG Spectral Selection, Non-Hierarchical (Process 6 and 8)", True),
    "54": ("JPEG Spectral Selection, Non-Hierarchical (Process 7 and 9)", True),
    "55": ("JPEG Full Progression, Non-Hierarchical (Process 10 and 12)", True),
    "56": ("JPEG Full Progression, Non-Hierarchical (Process 11 and 13)", True),
    "58": ("JPEG Lossless, Non-Hierarchical (Process 15)", False),
    "59": ("JPEG Extended, Hierarchical (Process 16 and 18)", True),
    "60": ("JPEG Extended, Hierarchical (Process 17 and 19)", True),
    "61": ("JPEG Spectral Selection, Hierarchical (Process 20 and 22)", True),
    "62": ("JPEG Spectral Selection, Hierarchical (Process 21 and 23)", True),
    "63": ("JPEG Full Progression, Hierarchical (Process 24 and 26)", True),
    "64": ("JPEG Full Progression, Hierarchical (Process 25 and 27)", True),
    "65": ("JPEG Lossless, Hierarchical (Process 28)", False),
    "66": ("JPEG Lossless, Hierarchical (Process 29)", False),
}

_VIDEO = {
    # uid suffix: (name, codec)
    "100": ("MPEG2 Main Profile / Main Level", Codec.MPEG2),
    "101": ("MPEG2 Main Profile / High Level", Codec.MPEG2),
    "102": ("MPEG-4 AVC/H.264 High Profile / Level 4.1", Codec.H264),
    "103": ("MPEG-4 AVC/H.264 BD-compatible High Profile / Level 4.1", Codec.H264),
    "104": ("MPEG-4 AVC/H.264 High Profile / Level 4.2 For 2D Video", Codec.H264),
    "105": ("MPEG-4 AVC/H.264 High Profile / Level 4.2 For 3D Video", Codec.H264),
    "106": ("MPEG-4 AVC/H.264 Stereo High Profile / Level 4.2", Codec.H264),
}

_JPEG = "1.2.840.10008.1.2.4."
DEFLATED_EXPLICIT_VR_LE = "1.2.840.10008.1.2.1.99"

_TABLE: list[TransferSyntax] = [
    _native("1.2.840.10008.1.2", "Implicit VR Little Endian"),
    _native("1.2.840.10008.1.2.1", "Explicit VR Little Endian"),
    _native(DEFLATED_EXPLICIT_VR_LE, "Deflated Explicit VR Little Endian"),
    _native("1.2.840.10008.1.2.2", "Explicit VR Big Endian", retired=True),
    _encaps(
        "1.2.840.10008.1.2.1.98",
        "Encapsulated Uncompressed Explicit VR Little Endian",
        Codec.UNCOMPRESSED,
        False,
        one_fragment_per_frame=True,
    ),
    _encaps(_JPEG + "50", "JPEG Baseline (Process 1)", Codec.JPEG, True),
    _encaps(_JPEG + "51", "JPEG Extended (Process 2 and 4)", Codec.JPEG, True),
    *(
        _encaps(_JPEG + sfx, name, Codec.JPEG, lossy, retired=True)
        for sfx, (name, lossy) in _RETIRED_JPEG.items()
    ),
    _encaps(_JPEG + "57", "JPEG Lossless, Non-Hierarchical (Process 14)", Codec.JPEG, False),
    _encaps(
        _JPEG + "70",
        "JPEG Lossless, Non-Hierarchical, First-Order Prediction (Process 14 [Selection Value 1])",
        Codec.JPEG,
        False,
    ),
    _encaps(_JPEG + "80", "JPEG-LS Lossless Image Compression", Codec.JPEG_LS, False),
    _encaps(_JPEG + "81", "JPEG-LS Lossy (Near-Lossless) Image Compression", Codec.JPEG_LS, None),
    _encaps(_JPEG + "90", "JPEG 2000 Image Compression (Lossless Only)", Codec.JPEG_2000, False),
    _encaps(_JPEG + "91", "JPEG 2000 Image Compression", Codec.JPEG_2000, None),
    _encaps(
        _JPEG + "92",
        "JPEG 2000 Part 2 Multi-component Image Compression (Lossless Only)",
        Codec.JPEG_2000,
        False,
    ),
    _encaps(
        _JPEG + "93", "JPEG 2000 Part 2 Multi-component Image Compression", Codec.JPEG_2000, None
    ),
    _encaps(_JPEG + "94", "JPIP Referenced", Codec.JPIP, None),
    _encaps(_JPEG + "95", "JPIP Referenced Deflate", Codec.JPIP, None),
    *(_encaps(_JPEG + sfx, name, codec, True) for sfx, (name, codec) in _VIDEO.items()),
    *(
        _encaps(_JPEG + sfx + ".1", "Fragmentable " + name, codec, True, fragmentable=True)
        for sfx, (name, codec) in _VIDEO.items()
    ),
    _encaps(_JPEG + "107", "HEVC/H.265 Main Profile / Level 5.1", Codec.HEVC, True),
    _encaps(_JPEG + "108", "HEVC/H.265 Main 10 Profile / Level 5.1", Codec.HEVC, True),
    _encaps(_JPEG + "110", "JPEG XL Lossless", Codec.JPEG_XL, False),
    _encaps(_JPEG + "111", "JPEG XL JPEG Recompression", Codec.JPEG_XL, True),
    _encaps(_JPEG + "112", "JPEG XL", Codec.JPEG_XL, None),
    _encaps(
        _JPEG + "201",
        "High-Throughput JPEG 2000 Image Compression (Lossless Only)",
        Codec.HTJ2K,
        False,
    ),
    _encaps(
        _JPEG + "202",
        "High-Throughput JPEG 2000 with RPCL Options Image Compression (Lossless Only)",
        Codec.HTJ2K,
        False,
    ),
    _encaps(_JPEG + "203", "High-Throughput JPEG 2000 Image Compression", Codec.HTJ2K, None),
    _encaps(_JPEG + "204", "JPIP HTJ2K Referenced", Codec.JPIP, None),
    _encaps(_JPEG + "205", "JPIP HTJ2K Referenced Deflate", Codec.JPIP, None),
    _encaps("1.2.840.10008.1.2.5", "RLE Lossless", Codec.RLE, False, one_fragment_per_frame=True),
    _native("1.2.840.10008.1.2.7.1", "SMPTE ST 2110-20 Uncompressed Progressive Active Video"),
    _native("1.2.840.10008.1.2.7.2", "SMPTE ST 2110-20 Uncompressed Interlaced Active Video"),
    _native("1.2.840.10008.1.2.7.3", "SMPTE ST 2110-30 PCM Digital Audio"),
    _encaps(
        "1.2.840.10008.1.2.8.1",
        "Deflated Image Frame Compression",
        Codec.DEFLATE,
        False,
        one_fragment_per_frame=True,
    ),
]

TRANSFER_SYNTAXES: dict[str, TransferSyntax] = {ts.uid: ts for ts in _TABLE}


def lookup(uid: str) -> TransferSyntax | None:
    """The transfer syntax with this UID, or None when DICOM defines none."""
    return TRANSFER_SYNTAXES.get(uid.strip().rstrip("\0"))


def syntaxes_where(test: Callable[[TransferSyntax], bool]) -> frozenset[str]:
    """The UIDs of every transfer syntax that passes `test` (for rule declarations)."""
    return frozenset(ts.uid for ts in _TABLE if test(ts))


#: The retired syntaxes (TSX004).
RETIRED = syntaxes_where(lambda ts: ts.retired)
#: Video syntaxes whose whole stream must be one fragment (FRG006).
UNFRAGMENTABLE_VIDEO = syntaxes_where(lambda ts: ts.video and not ts.fragmentable)
