"""Decoding frames with the decoders installed (DEC001, DEC002, DEC004; --decode).

pydicom's pixel decoders know which plugin decodes which transfer syntax and give each
plugin's own error; the extra `decode` installs pylibjpeg with its libjpeg, openjpeg
and RLE plugins (numpy with them); Pillow and pydicom's own RLE decoder are used when
present. Each frame is decoded on its own, once per plugin that can decode it, one at a
time: memory stays one frame.

A plugin that cannot decode a frame's process or precision is no evidence about the
frame. Which ones cannot was measured on real files (tests/test_rules_dec.py):
Pillow has no 12-bit JPEG and no lossless JPEG; pylibjpeg's libjpeg refuses 12-bit
JPEG Extended frames that libjpeg-turbo decodes (pydicom's JPEG-lossy.dcm).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from typing import Any, NamedTuple

from dcmencaps_lint.codestream import JpegHeader
from dcmencaps_lint.dataset import ImageAttributes

# A decoder's report that the frame decoded to another size than the attributes say
# (pydicom's RLE plugin, pylibjpeg-rle; pydicom's own check of a decoded frame's length)
_SIZE_MISMATCH = re.compile(r"(does ?n['o]t|doesn't) match the expected|expected length")
SOF1, SOF3 = 0xC1, 0xC3


class Decoded(NamedTuple):
    """What the decoders made of one frame."""

    decoded_by: str | None  # the first plugin that decoded it
    refusals: tuple[tuple[str, str], ...]  # (plugin, its error): the others that tried
    size_mismatch: tuple[str, str] | None  # (plugin, its error) saying the size differs


def plugins_for(ts_uid: str) -> tuple[str, ...]:
    """The installed decoders (pydicom's plugin names) whose verdict counts for a
    transfer syntax (see `trusted`)."""
    try:
        from pydicom.pixels import get_decoder

        return trusted(ts_uid, tuple(get_decoder(ts_uid).available_plugins))
    except Exception:  # no decoder, numpy missing: nothing decodes it
        return ()


JPEG_LS = ("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81")


def trusted(ts_uid: str, plugins: tuple[str, ...]) -> tuple[str, ...]:
    """The plugins whose verdict counts: libjpeg decodes cut JPEG-LS frames without an
    error (measured on pydicom-data's frames cut and closed with EOI), CharLS
    (pyjpegls) refuses them, so with CharLS installed libjpeg is not asked for JPEG-LS."""
    if ts_uid in JPEG_LS and "pyjpegls" in plugins:
        return tuple(p for p in plugins if p != "pylibjpeg")
    return plugins


def capable(plugin: str, header: JpegHeader | None) -> bool:
    """Whether a plugin decodes frames of this JPEG process and precision (measured)."""
    if header is None or header.sof is None:
        return True
    if plugin == "pillow":
        return header.sof != SOF3 and header.precision == 8
    if plugin == "pylibjpeg":
        return not (header.sof == SOF1 and header.precision == 12)
    return True


def decode(ts_uid: str, frame: bytes, image: ImageAttributes, plugins: tuple[str, ...]) -> Decoded:
    """Decode one frame with each plugin in turn until one succeeds."""
    from pydicom.encaps import encapsulate
    from pydicom.pixels import get_decoder

    decoder = get_decoder(ts_uid)
    options = _options(image)
    refusals: list[tuple[str, str]] = []
    mismatch = None
    for plugin in plugins:
        try:
            with _quiet_pydicom():
                decoder.as_array(encapsulate([frame]), index=0, decoding_plugin=plugin, **options)
        except Exception as exc:  # each plugin's own error: what the finding says
            said = _one_line(exc, plugin)
            if _SIZE_MISMATCH.search(said):
                mismatch = mismatch or (plugin, said)
            else:
                refusals.append((plugin, said))
            continue
        return Decoded(plugin, tuple(refusals), None)
    return Decoded(None, tuple(refusals), mismatch)


REQUIRED = ("rows", "columns", "samples_per_pixel", "bits_allocated", "bits_stored")


def decodable(image: ImageAttributes) -> bool:
    """The attributes a decoder needs are there (else the header rules say what is
    missing, and a decoder's refusal would say nothing about the frame)."""
    return all(getattr(image, name) for name in REQUIRED) and bool(image.photometric_interpretation)


@contextlib.contextmanager
def _quiet_pydicom() -> Iterator[None]:
    """pydicom logs each plugin's failure with its traceback (its decoders' module
    logger); here a failure is a finding, so that log is silenced while a frame is
    decoded."""
    import logging  # here: a run that decodes nothing does not load logging (start-up)

    logger = logging.getLogger("pydicom.pixels.decoders.base")
    disabled = logger.disabled
    logger.disabled = True
    try:
        yield
    finally:
        logger.disabled = disabled


def _options(image: ImageAttributes) -> dict[str, Any]:
    options: dict[str, Any] = {
        "rows": image.rows,
        "columns": image.columns,
        "samples_per_pixel": image.samples_per_pixel,
        "bits_allocated": image.bits_allocated,
        "bits_stored": image.bits_stored,
        "pixel_representation": image.pixel_representation,
        "photometric_interpretation": image.photometric_interpretation,
        "number_of_frames": 1,
    }
    if image.planar_configuration is not None:
        options["planar_configuration"] = image.planar_configuration
    return {k: v for k, v in options.items() if v is not None}


def _one_line(exc: BaseException, plugin: str) -> str:
    """The plugin's own words: pydicom wraps them ("...raised by all available plugins:
    <plugin>: <error>")."""
    text = str(exc)
    marker = f"{plugin}: "
    if marker in text:
        text = text[text.rindex(marker) + len(marker) :]
    return " ".join(text.split()) or type(exc).__name__
