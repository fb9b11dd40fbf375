"""Downloads that are safe to open: CSV neutralised against formula injection, and parquet.

Why: a project or error message such as `=HYPERLINK(...)` would run as a formula when a
manager opens the CSV in a spreadsheet. Every text cell (and header) starting with =, +, -,
@, tab or CR gets a leading apostrophe, which spreadsheets show as text.

Example:
    >>> csv_bytes(pd.DataFrame({"project": ["=1+1"]}))
    b"project\\r\\n'=1+1\\r\\n"
"""

from __future__ import annotations

import io

import pandas as pd

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> object:
    """Prefix a string that a spreadsheet would treat as a formula; anything else unchanged."""
    if isinstance(value, str) and value.startswith(FORMULA_PREFIXES):
        return "'" + value
    return value


def csv_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as UTF-8 CSV (RFC 4180 line ends, so a CR inside a cell is quoted), text cells neutralised."""
    safe = frame.copy()
    safe.columns = [str(neutralise(str(c))) for c in safe.columns]
    for column in safe.columns:
        if safe[column].dtype == object or pd.api.types.is_string_dtype(safe[column]):
            safe[column] = safe[column].map(neutralise)
    text: str = safe.to_csv(index=False, lineterminator="\r\n")
    return text.encode("utf-8")


def parquet_bytes(frame: pd.DataFrame) -> bytes:
    """The frame as a parquet file (typed, no neutralising needed)."""
    buffer = io.BytesIO()
    frame.to_parquet(buffer, index=False)
    return buffer.getvalue()
