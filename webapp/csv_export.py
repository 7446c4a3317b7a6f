"""CSV that is safe to open in a spreadsheet: cells that a spreadsheet would run as a formula are
neutralised (OWASP "CSV injection": a leading = + - @ tab or carriage return gets a leading quote)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
BOM = "\ufeff"  # so Excel opens UTF-8 with accents intact


def safe_cell(value: object) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def csv_row(values: Iterable[object]) -> str:
    """One CSV line; callers stream these one by one, so memory stays constant."""
    buffer = io.StringIO()
    csv.writer(buffer).writerow([safe_cell(v) for v in values])
    return buffer.getvalue()
