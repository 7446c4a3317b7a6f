"""Streaming reader for delimited text files (CSV, TSV, semicolon-separated).

Memory stays constant: the file is decoded incrementally and rows are yielded one by one.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from typing import BinaryIO

import msgspec

from core.importing.decoding import open_text
from core.importing.mapping import header_key
from core.importing.records import ImportFileError, RawRow
from core.sources import DERIVED, GROUPINGS, Grouping

DELIMITERS = ",\t;"
EXTRA_KEY = "_extra"

# A physical line or a quoted cell longer than this is not a client record; we stop
# rather than buffer an unbounded amount of memory. Per-cell limits (10,000 characters)
# are enforced later, per row, in validation.
MAX_LINE_CHARS = 1024 * 1024

_SEP_HINT = re.compile(r"^\s*sep=(.)\s*$", re.IGNORECASE)
# Google's typed pairs of columns: "Event 1 - Type" (or "- Label") and "Event 1 - Value".
_TYPED_PAIR = re.compile(r"^(.+?) (\d+) - (type|label|value)$", re.IGNORECASE)
# Lines whose NUL characters were removed, kept to report (the count covers them all).
NUL_LINES_KEPT = 5


def _raise_field_size_limit() -> None:
    # The csv module's default limit (131,072) would abort the whole import on one long
    # cell. This is process-wide, but only ever raised, never lowered.
    if csv.field_size_limit() < MAX_LINE_CHARS:
        csv.field_size_limit(MAX_LINE_CHARS)


class _Dialect(csv.Dialect):
    delimiter = ","
    quotechar = '"'
    doublequote = True
    skipinitialspace = False
    lineterminator = "\r\n"
    quoting = csv.QUOTE_MINIMAL
    strict = False


def _count_outside_quotes(line: str, char: str) -> int:
    count = 0
    quoted = False
    for ch in line:
        if ch == '"':
            quoted = not quoted
        elif ch == char and not quoted:
            count += 1
    return count


def _first_content_line(lines: list[str]) -> str:
    for line in lines:
        if line.strip():
            return line
    return ""


def sniff_delimiter(sample_text: str) -> tuple[str, bool]:
    """Return (delimiter, skip_first_line). Honours Excel's `sep=;` first line."""
    lines = sample_text.splitlines()
    if lines and (hint := _SEP_HINT.match(lines[0])):
        return hint.group(1), True
    # Sniff on complete lines only, and not too many: the sniffer's regexes are slow on
    # big samples and more lines add no certainty.
    head = "\n".join(lines[:50]) if len(lines) > 1 else sample_text
    header = _first_content_line(lines)
    counts = {d: _count_outside_quotes(header, d) for d in DELIMITERS}
    try:
        sniffed: str | None = csv.Sniffer().sniff(head[:32768], delimiters=DELIMITERS).delimiter
    except csv.Error:
        sniffed = None
    # The sniffer is easily fooled (commas in decimals, semicolons in notes). Trust it
    # only if the header row agrees; otherwise take the delimiter the header uses most.
    if sniffed in counts and (counts[sniffed] > 0 or not any(counts.values())):
        return sniffed, False
    best = max(DELIMITERS, key=lambda d: counts[d])  # ties keep the DELIMITERS order
    return (best if counts[best] else ","), False


def _dedupe_headers(cells: list[str]) -> list[str]:
    headers: list[str] = []
    seen: set[str] = {EXTRA_KEY}
    for index, cell in enumerate(cells, start=1):
        name = " ".join(cell.replace("\ufeff", "").split()) or f"Column {index}"
        candidate, n = name, 1
        while candidate.lower() in seen:
            n += 1
            candidate = f"{name} ({n})"
        seen.add(candidate.lower())
        headers.append(candidate)
    return headers


class _Derivation:
    """One core.sources.Derived column of this file: its (type column, value column) pairs, in order."""

    __slots__ = ("header", "pairs", "types")

    def __init__(self, header: str, pairs: list[tuple[str, str]], types: frozenset[str]) -> None:
        self.header, self.pairs, self.types = header, pairs, types

    def value(self, values: dict[str, str]) -> str:
        for type_column, value_column in self.pairs:
            value = values.get(value_column, "").strip()
            # Google writes a date without its year as "--06-15": no wedding date can come of it.
            if value and not value.startswith("--") and header_key(values.get(type_column, "")) in self.types:
                return value
        return ""


def _derivations(headers: list[str]) -> list[_Derivation]:
    pairs: dict[tuple[str, str], dict[str, str]] = {}
    for header in headers:
        if match := _TYPED_PAIR.match(header):
            kind, number, part = match.groups()
            pairs.setdefault((kind.lower(), number), {})["value" if part.lower() == "value" else "type"] = header
    found: list[_Derivation] = []
    taken = {h.lower() for h in headers}
    for derived in DERIVED:
        columns = [
            (both["type"], both["value"])
            for (kind, _), both in sorted(pairs.items(), key=lambda item: int(item[0][1]))
            if kind == derived.kind.lower() and len(both) == 2
        ]
        if columns and derived.header.lower() not in taken:
            found.append(_Derivation(derived.header, columns, derived.types))
    return found


class _Grouper:
    """A core.sources.Grouping that this file's headers have: which columns say "same project", whose person."""

    __slots__ = ("keys", "partner", "person")

    def __init__(self, keys: list[str], person: list[str], partner: tuple[str, ...]) -> None:
        self.keys, self.person, self.partner = keys, person, partner

    @classmethod
    def find(cls, headers: list[str]) -> _Grouper | None:
        by_key: dict[str, str] = {}
        for header in headers:
            by_key.setdefault(header_key(header), header)
        lowered = {h.lower() for h in headers}
        for grouping in GROUPINGS:
            if cls._fits(grouping, by_key, lowered):
                return cls([by_key[k] for k in grouping.keys], [by_key[k] for k in grouping.person], grouping.partner)
        return None

    @staticmethod
    def _fits(grouping: Grouping, by_key: dict[str, str], lowered: set[str]) -> bool:
        return (
            all(k in by_key for k in grouping.keys + grouping.person)
            and not any(h.lower() in lowered for h in grouping.partner)
            and not any(header_key(h) in by_key for h in grouping.partner)
        )

    def project(self, row: RawRow) -> tuple[str, ...] | None:
        key = tuple(row.values.get(k, "").strip().casefold() for k in self.keys)
        return key if key[0] else None

    def merge(self, first: RawRow, second: RawRow) -> RawRow | None:
        """The couple of two rows of one project, or None when they are not two people of one project."""
        project = self.project(first)
        if project is None or project != self.project(second) or first.values.get(self.partner[0]):
            return None
        values = dict(first.values)
        theirs = [second.values.get(column, "") for column in self.person]
        mine = [first.values.get(column, "") for column in self.person]
        if [v.strip().casefold() for v in theirs] != [v.strip().casefold() for v in mine]:  # not the same row twice
            values.update(zip(self.partner, theirs, strict=True))
        return RawRow(line=first.line, values=values)


class TableReader:
    """Iterates RawRow objects of a delimited file; `headers` are trimmed and unique."""

    def __init__(self, text: io.TextIOWrapper, delimiter: str, skip_first: bool, encoding: str) -> None:
        self.encoding = encoding
        self.delimiter = delimiter
        self._text = text
        dialect = type("_Sniffed", (_Dialect,), {"delimiter": delimiter})
        # NUL characters (a broken export, a file stitched together) are removed wherever they are, and counted.
        self.nul_chars = 0
        self.nul_line_count = 0
        self.nul_lines: list[int] = []
        lines = self._bounded_lines(text)
        if skip_first:
            next(lines, None)
        self._reader = csv.reader(lines, dialect)
        # The csv reader never sees a skipped "sep=" line, so its line_num is offset by it.
        self._line_offset = 1 if skip_first else 0
        self._last_line = self._line_offset
        header = self._next_record()
        if header is None:
            raise ImportFileError("This file looks empty.")
        self.header_line, header_cells = header
        self.headers: list[str] = _dedupe_headers(header_cells)
        self._cell_headers = list(self.headers)  # the file's own columns; derived ones follow in ``headers``
        self._derived = _derivations(self.headers)
        self.headers.extend(d.header for d in self._derived)
        self._grouper = _Grouper.find(self.headers)
        if self._grouper is not None:
            self.headers.extend(self._grouper.partner)
        self._held: RawRow | None = None  # a row read to see whether it belongs with the one before
        self._held_error: ImportFileError | None = None
        self._pending = self._next_record()
        if self._pending is None:
            raise ImportFileError(
                "This file only has a header row and no clients in it. Check the export and try again."
            )

    def _bounded_lines(self, text: io.TextIOWrapper) -> Iterator[str]:
        line_no = 0
        while True:
            line = text.readline(MAX_LINE_CHARS + 1)
            if not line:
                return
            line_no += 1
            if len(line) > MAX_LINE_CHARS:
                raise ImportFileError(
                    f"Line {line_no} is over a million characters long, so this doesn't look like "
                    "a client list. Check the export and try again."
                )
            if "\x00" in line:
                self.nul_chars += line.count("\x00")
                self.nul_line_count += 1
                if len(self.nul_lines) < NUL_LINES_KEPT:
                    self.nul_lines.append(line_no)
                line = line.replace("\x00", "")
            yield line

    def nul_notice(self) -> str | None:
        """What the photographer is told about NUL characters removed so far, if any."""
        if not self.nul_chars:
            return None
        lines = ", ".join(str(n) for n in self.nul_lines) + (" …" if self.nul_line_count > len(self.nul_lines) else "")
        noun = "character" if self.nul_chars == 1 else "characters"
        return (
            f"We removed {self.nul_chars:,} invisible NUL {noun} (a sign of a damaged export) "
            f"from line{'s' if self.nul_line_count > 1 else ''} {lines}; the rest of each line was imported."
        )

    def _next_record(self) -> tuple[int, list[str]] | None:
        """Next non-blank record with the physical line it starts on."""
        while True:
            start = self._last_line + 1
            try:
                cells = next(self._reader, None)
            except csv.Error as exc:
                raise ImportFileError(
                    f"Row {start}: we couldn't read this row ({exc}). Often a quote mark (\") "
                    "opens a cell that never closes. Fix it in your spreadsheet and try again."
                ) from exc
            # line_num counts physical lines consumed, so a record with newlines inside
            # quoted cells still reports the line it started on.
            self._last_line = self._line_offset + self._reader.line_num
            if cells is None:
                return None
            joined = "".join(cells)  # some cell has a non-blank character (one C call, not a generator)
            if joined and not joined.isspace():
                return start, cells

    def _to_row(self, line: int, cells: list[str]) -> RawRow:
        headers = self._cell_headers
        width = len(headers)
        if len(cells) < width:
            cells = cells + [""] * (width - len(cells))
        values = dict(zip(headers, cells, strict=False))
        if len(cells) > width:
            extra = [cell for cell in cells[width:] if cell.strip()]
            if extra:
                values[EXTRA_KEY] = " | ".join(extra)
        for derived in self._derived:
            values[derived.header] = derived.value(values)
        return RawRow(line=line, values=values)

    def __iter__(self) -> TableReader:
        return self

    def __next__(self) -> RawRow:
        if self._grouper is None:
            return self._next_row()
        if self._held_error is not None:
            error, self._held_error = self._held_error, None
            raise error
        row = self._held if self._held is not None else self._next_row()
        self._held = None
        try:
            following = self._next_row()
        except StopIteration:
            return row
        except ImportFileError as exc:  # this row is whole: it goes first, the broken one after
            self._held_error = exc
            return row
        merged = self._grouper.merge(row, following)
        if merged is not None:
            return merged
        self._held = following
        return row

    def _next_row(self) -> RawRow:
        # Rows are read one at a time, so rows before a broken one reach the caller before
        # the ImportFileError does.
        if self._pending is not None:
            line, cells = self._pending
            self._pending = None
        else:
            record = self._next_record()
            if record is None:
                raise StopIteration
            line, cells = record
        return self._to_row(line, cells)

    def close(self) -> None:
        self._text.close()

    def __enter__(self) -> TableReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_table(stream: BinaryIO) -> TableReader:
    """Sniff encoding and delimiter from the first 64 KiB and return a streaming reader.

    Raises ImportFileError with a photographer-facing message for empty, header-only or
    binary files.
    """
    _raise_field_size_limit()
    text, detected = open_text(stream)
    delimiter, skip_first = sniff_delimiter(detected.sample_text)
    return TableReader(text, delimiter, skip_first, detected.encoding)


def json_rows(body: bytes) -> Iterator[RawRow]:
    """A webhook payload (one contact object, or a list of them) as rows: small by construction (capped at
    the door), so reading it whole is fine."""
    try:
        data = msgspec.json.decode(body)
    except msgspec.DecodeError as exc:
        raise ImportFileError("The webhook sent something that isn't JSON.") from exc
    items = data if isinstance(data, list) else [data]
    for number, item in enumerate(items, start=1):
        if not isinstance(item, dict):
            raise ImportFileError("The webhook sent JSON that isn't a contact (expected an object with fields).")
        yield RawRow(
            number, {str(k): "" if v is None else str(v) for k, v in item.items() if not isinstance(v, dict | list)}
        )
