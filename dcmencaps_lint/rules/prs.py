"""PRS: the file could not be linted. The engine emits these; they have no check function."""

from __future__ import annotations

from dcmencaps_lint.model import Severity
from dcmencaps_lint.registry import engine_rule

NOT_DICOM = engine_rule(
    "PRS001",
    "not-dicom",
    Severity.ERROR,
    ref="PS3.10 7.1",
    summary="A file named explicitly is not DICOM",
    doc="""
    What it checks
    --------------
    A path named on the command line (or passed to `lint_file`, or bytes
    given to it) has no `DICM` prefix at byte 128 and does not parse as a DICOM data
    set either. The finding has no offset.

    Decisions: files met while walking a folder are skipped quietly instead (counted
    as skipped in the summary), so that a folder of mixed files can be linted. Data
    without the prefix that pydicom parses into recognisable elements (an ACR-NEMA
    style bare data set) is linted, not reported here.

    Why it matters
    --------------
    The file was expected to be DICOM; a gate must not pass it silently.
    Typical causes: a ZIP, JPEG or text file with a .dcm name, a download that saved
    an HTML error page, or a file cut short before byte 132.

    Example
    -------
    A ZIP archive named `image.dcm`:

        00000000  50 4B 03 04 14 00 ...       "PK": a ZIP header, no preamble
        00000080  ...                         no 44 49 43 4D ("DICM") at 128

    Good: a 128-byte preamble, then `44 49 43 4D` ("DICM"), then the File Meta
    Information, group 0002.

    How to fix
    ----------
    Check that the right file was named, or that the writer wrote DICOM
    (with the preamble, prefix and File Meta Information of a DICOM file).

    Reference
    ---------
    PS3.10 7.1 (paraphrased): a DICOM file starts with a 128-byte File
    Preamble, then the 4-byte DICOM Prefix "DICM", then the File Meta Information.
    """,
)

UNREADABLE_DATASET = engine_rule(
    "PRS002",
    "unreadable-dataset",
    Severity.ERROR,
    ref="PS3.5 7",
    summary="The data set cannot be parsed up to Pixel Data",
    doc="""
    What it checks
    --------------
    pydicom cannot parse the data elements in front of Pixel Data, or a
    value there runs past the end of the file. The finding's offset is where parsing
    stopped (or where the overlong value starts), and the message gives pydicom's
    reason.

    Decisions: a file truncated in front of Pixel Data is reported here, not passed
    as a file without Pixel Data (pydicom reads such a value short without
    complaint, so the linter checks every top-level length against the file size).

    Why it matters
    --------------
    No reader can reach the pixel data of such a file, and those that try
    read garbage. Real case: pydicom's rtplan_truncated.dcm, whose Beam Sequence
    declares more bytes than remain.

    Example
    -------
    In an implicit VR file of 2129 bytes, at byte 1410:

        0A 30 B0 00 D0 03 00 00   (300A,00B0) Beam Sequence, length 976

    976 bytes from 1418 would end at 2394; only 711 remain.

    How to fix
    ----------
    The file is corrupt before its pixel data (usually truncated in
    transfer or storage); re-export it from the source.

    Reference
    ---------
    PS3.5 7.1 (paraphrased): a data set is a sequence of data elements,
    each a tag, a VR (explicit VR only), a value length and a value of exactly that
    many bytes.
    """,
)

MISSING_TRANSFER_SYNTAX = engine_rule(
    "PRS003",
    "missing-transfer-syntax",
    Severity.ERROR,
    ref="PS3.10 7.1",
    summary="No Transfer Syntax UID (0002,0010)",
    doc="""
    What it checks
    --------------
    The file has Pixel Data but no Transfer Syntax UID (0002,0010): the
    File Meta Information lacks it, or there is no File Meta Information at all (a
    bare ACR-NEMA style data set). The finding has no offset.

    Decisions: a file without Pixel Data is out of scope and is skipped, not
    reported. When Pixel Data has an undefined length its items are still walked
    and the item rules (ITM) run; with a defined length the message says Pixel Data
    is presumably native.

    Why it matters
    --------------
    Without it a reader cannot know whether Pixel Data is native or
    encapsulated, nor which codec made it; it has to guess, as pydicom does.
    Real cases: pydicom's meta_missing_tsyntax.dcm and pydicom-data's
    OT-PAL-8-face.dcm (no preamble, no File Meta Information).

    Example
    -------
    pydicom's meta_missing_tsyntax.dcm: its File Meta Information has
    (0002,0000), (0002,0001), (0002,0002), (0002,0003) and (0002,0012) only:

        02 00 12 00 55 49 14 00 31 32 ...   (0002,0012) UI "1234567890.1998.310"
        01 00 01 00 FF FF FF FF             the data set starts: no (0002,0010)

    Good: (0002,0010) UI 1.2.840.10008.1.2.1 (or whichever syntax encodes the data
    set) in the File Meta Information.

    How to fix
    ----------
    Write the File Meta Information with the transfer syntax actually used
    (e.g. `dcmconv` or pydicom's `dcmwrite(..., enforce_file_format=True)`).

    Reference
    ---------
    PS3.10 7.1, Table 7.1-1 (paraphrased): Transfer Syntax UID (0002,0010)
    is Type 1 in the File Meta Information and identifies the transfer syntax of the
    data set that follows.
    """,
)

IO_ERROR = engine_rule(
    "PRS004",
    "io-error",
    Severity.ERROR,
    ref="-",
    summary="The file cannot be opened or read",
    doc="""
    What it checks
    --------------
    Opening or reading the file failed: a missing file or no permission,
    a file that vanished or shrank while it was read, or a special file (a FIFO,
    a device, a folder passed where a file was expected). Special files are
    refused before they are opened, so a FIFO never blocks the linter.

    Why it matters
    --------------
    Nothing was checked; a gate must not mistake that for a pass, so the
    file's status is `error`.

    Example
    -------
    A file the linter may not read:

        encaps-lint /archive/study/IM0001
        /archive/study/IM0001: PRS004 error cannot read the file: Permission denied

    How to fix
    ----------
    Check the path and its permissions, and name regular files only.

    Reference
    ---------
    None in the DICOM Standard: this is about the file system.
    """,
)

INTERNAL_ERROR = engine_rule(
    "PRS005",
    "internal-error",
    Severity.ERROR,
    ref="-",
    summary="A rule raised an exception",
    doc="""
    What it checks
    --------------
    A rule raised an exception while checking this file. The other rules'
    findings stand and the file's status is `error`; `--verbose` logs the traceback.

    Why it matters
    --------------
    Part of the file was not checked, so a pass would be a false pass. It is
    a bug in encaps-lint or in a rule plugin, usually on input nobody anticipated.

    Example
    -------
    The message names the rule and the exception, e.g.:

        rule CSM009 (codestream-dimensions-mismatch) raised IndexError: index out of range

    How to fix
    ----------
    Report it to encaps-lint (or the rule plugin's authors) with the file
    or a copy with the pixel data and patient data removed, and the `--verbose`
    traceback. `--ignore` the rule meanwhile if it blocks a gate.

    Reference
    ---------
    None in the DICOM Standard: it reports the linter itself.
    """,
)
