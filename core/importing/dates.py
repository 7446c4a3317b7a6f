"""Dates in any common spreadsheet format, with day/month order decided per file."""

from __future__ import annotations

import datetime
import re
from typing import Literal

import msgspec

from core.importing.contact import NormaliseError
from core.importing.text import clean_text, shown

DateOrder = Literal["DMY", "MDY", "YMD"]

# Regions that write month first. Everyone else (GB, IE, AU, NZ, EU...) writes day first.
MDY_REGIONS = frozenset({"US", "CA", "PH", "FM", "MH", "PW"})

# Cells that mean "no date yet" on a lead, rather than a broken date.
_PLACEHOLDERS = frozenset(
    {
        "tbc",
        "tbd",
        "tba",
        "n/a",
        "na",
        "none",
        "null",
        "-",
        "--",
        "?",
        "unknown",
        "not set",
        "0",
        "0000-00-00",
        # Outlook's empty birthday or anniversary, as English and localised Outlook write it.
        "0/0/00",
        "0/0/0000",
        "00/00/0000",
        "0.0.00",
        "0.0.0000",
        "00.00.0000",
        "0-0-00",
    }
)

_MONTHS = {
    name: number
    for number, names in enumerate(
        (
            ("jan", "january"), ("feb", "february"), ("mar", "march"), ("apr", "april"),
            ("may",), ("jun", "june"), ("jul", "july"), ("aug", "august"),
            ("sep", "sept", "september"), ("oct", "october"), ("nov", "november"), ("dec", "december"),
        ),
        start=1,
    )
    for name in names
}  # fmt: skip
_WEEKDAYS = frozenset(
    {"mon", "monday", "tue", "tues", "tuesday", "wed", "wednesday", "thu", "thur", "thurs", "thursday",
     "fri", "friday", "sat", "saturday", "sun", "sunday"}
)  # fmt: skip

_ISO = re.compile(r"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})(?:$|[T ]\d)")
_COMPACT = re.compile(r"(\d{4})(\d{2})(\d{2})")
_NUMERIC = re.compile(r"(\d{1,2})[-/. ](\d{1,2})[-/. ](\d{2}|\d{4})(?:$|[T ,]+\d)")
_SERIAL = re.compile(r"\d{5}(?:\.\d+)?")
_TOKEN = re.compile(r"[a-z]+|\d+")
_ORDINAL = re.compile(r"(\d+)(?:st|nd|rd|th)\b")

# Excel's day 0 is 1899-12-30 (it counts a 29 Feb 1900 that never was). Only serials
# landing in 1950-2100 are read as dates, so a stray number is not silently a date.
_EXCEL_EPOCH = datetime.date(1899, 12, 30)
_SERIAL_MIN, _SERIAL_MAX = 18_264, 73_415


def default_order(region: str) -> DateOrder:
    return "MDY" if region.upper() in MDY_REGIONS else "DMY"


def _full_year(year: int, digits: int) -> int:
    # Two-digit years: 00-69 -> 2000s, 70-99 -> 1900s (the strptime %y rule).
    if digits > 2:
        return year
    return 2000 + year if year < 70 else 1900 + year


def _make(year: int, month: int, day: int, original: str) -> datetime.date:
    try:
        return datetime.date(year, month, day)
    except ValueError:
        raise NormaliseError(f"'{shown(original)}' isn't a real date") from None


def numeric_parts(text: str) -> tuple[int, int] | None:
    """The first two components of a d/m/y-or-m/d/y date, for day/month order detection."""
    match = _NUMERIC.match(text.strip())
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


def _parse_words(text: str, original: str) -> datetime.date | None:
    lowered = _ORDINAL.sub(r"\1", text.lower())
    tokens = _TOKEN.findall(lowered)
    month = None
    numbers: list[str] = []
    for token in tokens:
        if token.isdigit():
            numbers.append(token)
        elif token in _MONTHS and month is None:
            month = _MONTHS[token]
        elif token in _WEEKDAYS or token in ("of", "at", "am", "pm", "t", "z"):
            continue
        else:
            return None
    if month is None:
        return None
    if len(numbers) < 2:
        missing = "a day" if numbers and len(numbers[0]) == 4 else "a year"
        raise NormaliseError(f"'{shown(original)}' needs {missing} as well")
    # Whether the month name comes first ("June 14, 2027") or second ("14-Jun-27"), the
    # day is the first number and the year the second; "2027 June 14" leads with the year.
    if len(numbers[0]) == 4:
        year_text, day_text = numbers[0], numbers[1]
    else:
        day_text, year_text = numbers[0], numbers[1]
    return _make(_full_year(int(year_text), len(year_text)), month, int(day_text), original)


def parse_date(text: str, order: DateOrder) -> datetime.date | None:
    """Parse one cell. `order` is the file's day/month order (see DateOrderDetector).

    Returns None for empty cells and "TBC"-style placeholders; raises NormaliseError for
    text that is not a date, impossible dates (31/02) and dates that contradict `order`.
    """
    original = clean_text(text)
    if not original or original.lower() in _PLACEHOLDERS:
        return None
    value = original
    if match := _ISO.match(value) or _COMPACT.fullmatch(value):
        year, month, day = (int(group) for group in match.groups())
        return _make(year, month, day, original)
    if _SERIAL.fullmatch(value):
        serial = float(value)
        if _SERIAL_MIN <= serial <= _SERIAL_MAX:
            return _EXCEL_EPOCH + datetime.timedelta(days=int(serial))
        raise NormaliseError(f"'{shown(original)}' doesn't look like a date")
    if match := _NUMERIC.match(value):
        first, second, year_text = match.groups()
        year = _full_year(int(year_text), len(year_text))
        day, month = (int(first), int(second)) if order != "MDY" else (int(second), int(first))
        if month > 12 and day <= 12:
            expected = "month/day/year" if order == "MDY" else "day/month/year"
            raise NormaliseError(
                f"'{shown(original)}' doesn't fit the {expected} order used by the other dates in this file"
            )
        return _make(year, month, day, original)
    parsed = _parse_words(value, original)
    if parsed is None:
        raise NormaliseError(f"'{shown(original)}' doesn't look like a date")
    return parsed


class DateOrderDecision(msgspec.Struct, frozen=True):
    """How a file writes its numeric dates, and why we think so."""

    order: DateOrder
    reason: str  # "proved" | "region default" | "contradictory" | "chosen"
    day_first_line: int | None = None  # first line proving day-first
    month_first_line: int | None = None  # first line proving month-first
    message: str | None = None  # plain words for the photographer when the file disagrees


class DateOrderDetector:
    """Looks at every numeric date cell of a sample and decides DMY vs MDY for the file.

    A first component above 12 proves day-first, a second above 12 proves month-first.
    Deciding per file, not per row, means "03/04/2027" in row 2 is read the same way as
    "23/04/2027" in row 40.
    """

    def __init__(self) -> None:
        self.day_first = 0
        self.month_first = 0
        self.day_first_line: int | None = None
        self.month_first_line: int | None = None

    def feed(self, text: str, line: int = 0) -> None:
        parts = numeric_parts(text)
        if parts is None:
            return
        first, second = parts
        if first > 12 >= second:
            self.day_first += 1
            if self.day_first_line is None:
                self.day_first_line = line
        elif second > 12 >= first:
            self.month_first += 1
            if self.month_first_line is None:
                self.month_first_line = line

    def decide(self, region: str) -> DateOrderDecision:
        day_line, month_line = self.day_first_line, self.month_first_line
        if self.day_first and self.month_first:
            order: DateOrder = "DMY" if self.day_first >= self.month_first else "MDY"
            words = "day/month/year" if order == "DMY" else "month/day/year"
            message = (
                f"Dates in this file are mixed: row {self.day_first_line} puts the day first "
                f"but row {self.month_first_line} puts the month first. We read them as {words}; "
                "rows that don't fit are listed as errors."
            )
            return DateOrderDecision(order, "contradictory", day_line, month_line, message)
        if self.day_first:
            return DateOrderDecision("DMY", "proved", day_first_line=day_line)
        if self.month_first:
            return DateOrderDecision("MDY", "proved", month_first_line=month_line)
        return DateOrderDecision(default_order(region), "region default")
