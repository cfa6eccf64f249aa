"""What reports for people show beyond the findings: hex excerpts, the layout of the
items, the device, and (only on request) the patient.

One small read per finding; the values that may identify a patient are masked in the
excerpts unless --show-phi.
"""

from __future__ import annotations

from dcmencaps_lint.context import Context
from dcmencaps_lint.dataset import ParsedDataset
from dcmencaps_lint.model import Device, Excerpt, FileReport, Layout

EXCERPT_CONTEXT = 32  # bytes shown before and after a finding's bytes
EXCERPT_MARKED = 64  # at most this many of a finding's own bytes


def add_details(
    report: FileReport, dataset: ParsedDataset, ctx: Context, *, details: bool, show_phi: bool
) -> FileReport:
    """What a report for people shows beyond the findings: one small read per finding."""
    text = dict(dataset.descriptive)
    if show_phi:
        report = report._replace(
            patient_name=text.get("PatientName"),
            patient_id=text.get("PatientID"),
            institution_name=text.get("InstitutionName"),
        )
    if not details:
        return report
    excerpts: dict[int, Excerpt] = {}
    for f in report.findings:
        if f.offset is None or f.offset in excerpts:
            continue
        start = max(0, f.offset - EXCERPT_CONTEXT)
        end = f.offset + min(max(f.length or 1, 1), EXCERPT_MARKED) + EXCERPT_CONTEXT
        data = ctx.reader.read(start, end - start)
        if not show_phi:
            data = _masked(data, start, dataset.identifying)
        excerpts[f.offset] = Excerpt(f.offset, start, data)
    maker = (text.get(k) for k in ("Manufacturer", "ManufacturerModelName", "SoftwareVersions"))
    device = Device(*maker)
    return report._replace(
        excerpts=tuple(excerpts.values()),
        layout=_layout(ctx),
        device=device if device != Device() else None,
    )


def _masked(data: bytes, start: int, ranges: tuple[tuple[int, int], ...]) -> bytes:
    """`data` (read at `start`) with the bytes of identifying values shown as '*'."""
    out = bytearray(data)
    for low, high in ranges:
        low, high = max(low, start), min(high, start + len(out))
        if low < high:
            out[low - start : high - start] = b"*" * (high - low)
    return bytes(out)


def _layout(ctx: Context) -> Layout | None:
    w = ctx.walk
    if w is None:
        return None
    frames = ctx.frame_map.frames if ctx.frame_map else ()
    return Layout(
        element=ctx.element,
        bot=(w.bot.offset, w.bot.available) if w.bot else None,
        fragments=tuple((f.offset, f.available) for f in w.fragments),
        frames=tuple((fr.first_fragment, fr.last_fragment) for fr in frames),
        delimiter=w.delimiter.offset if w.delimiter else None,
        stop=w.stop.value,
        stop_offset=w.stop_offset,
    )
