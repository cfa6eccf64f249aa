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
    A path named on the command line (or passed to `lint_file`) has no
    `DICM` prefix at byte 128 and does not parse as a DICOM data set either.

    Why it matters
    --------------
    The file was expected to be DICOM; a gate must not pass it silently.
    Files met while walking a folder are skipped quietly instead (counted as skipped).

    How to fix
    ----------
    Check that the right file was named, or that the writer wrote DICOM.
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
    pydicom cannot parse the data elements in front of Pixel Data. The
    message gives the byte offset where parsing stopped and pydicom's reason.

    Why it matters
    --------------
    No reader can reach the pixel data of such a file.

    How to fix
    ----------
    The file is corrupt before its pixel data; re-export it from the source.
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
    The file meta information has no Transfer Syntax UID (0002,0010).

    Why it matters
    --------------
    Without it a reader cannot know whether Pixel Data is native or
    encapsulated, nor which codec made it. When Pixel Data has an undefined length the
    linter still walks its items and runs the ITM rules.

    How to fix
    ----------
    Write the File Meta Information with the transfer syntax actually used.
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
    Opening or reading the file failed: permissions, a file that
    vanished, or a special file (FIFO, device, folder named as a file).

    Why it matters
    --------------
    Nothing was checked; a gate must not mistake that for a pass.

    How to fix
    ----------
    Check the path and its permissions.
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
    A rule raised while checking this file. The other rules' findings
    stand; `--verbose` logs the traceback.

    Why it matters
    --------------
    Part of the file was not checked.

    How to fix
    ----------
    Report it to encaps-lint (or the rule plugin's authors) with the file.
    """,
)
