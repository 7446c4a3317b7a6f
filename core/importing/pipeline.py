"""The front half of every import: raw rows -> mapping -> normalisation -> validation."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator

from core.importing.dates import DateOrderDecision, DateOrderDetector
from core.importing.digest import KnownRows, cleaning_key
from core.importing.mapping import Mapping
from core.importing.normalise import NormaliseContext
from core.importing.parallel import clean_rows
from core.importing.phone_region import PhoneRegionDecision, PhoneRegionDetector
from core.importing.records import ClientRecord, ImportFileError, ImportItem, RawRow, RowError
from core.importing.validate import build_record

# Rows looked at before the first record comes out, to settle the file's date order.
LOOKAHEAD_ROWS = 1_000
_DATE_FIELDS = ("wedding_date", "inquiry_date", "booking_date")
_PHONE_FIELDS = ("partner1_phone", "partner2_phone")


class PreparedImport:
    """Reads ahead up to LOOKAHEAD_ROWS rows to decide the date order and the phones' country, then streams.

    `date_order` tells the caller how dates were read (and `date_order.message` why a file
    with mixed orders left some dates out), `phone_region` which country numbers written
    without a country code were read in, so the preview and the progress page can say so.
    """

    def __init__(
        self,
        rows: Iterable[RawRow],
        mapping: Mapping,
        lookahead: int = LOOKAHEAD_ROWS,
    ) -> None:
        self.mapping = mapping
        self._rows = iter(rows)
        # Buffer mapped rows so the look-ahead does not apply the mapping twice.
        self._buffer: list[tuple[RawRow, dict[str, str]]] = []
        # A file that breaks within the look-ahead still yields the rows before the break, then the
        # error: the caller commits the good rows and reports the problem.
        self._failure: ImportFileError | None = None
        detector = DateOrderDetector()
        phones = PhoneRegionDetector()
        apply = mapping.applier()
        try:
            for row in itertools.islice(self._rows, lookahead):
                fields = apply(row)
                self._buffer.append((row, fields))
                for name in _DATE_FIELDS:
                    if value := fields.get(name):
                        detector.feed(value, row.line)
                for name in _PHONE_FIELDS:
                    if value := fields.get(name):
                        phones.feed(value)
        except ImportFileError as exc:
            self._failure = exc
        studio = mapping.default_region.upper()
        if mapping.phone_region is not None:
            self.phone_region = PhoneRegionDecision(mapping.phone_region.upper(), "chosen", studio)
        else:
            self.phone_region = phones.decide(studio)
        if mapping.date_order is not None:
            self.date_order = DateOrderDecision(mapping.date_order, "chosen")
        else:  # dates no row settles are read as the file's country writes them (an American file: month first)
            self.date_order = detector.decide(self.phone_region.region)
        self.context = NormaliseContext(date_order=self.date_order.order, default_region=self.phone_region.region)

    def __iter__(self) -> Iterator[ClientRecord | RowError]:
        """Every row cleaned in this thread (the web preview of a file's first rows, tests)."""
        ctx = self.context
        buffered, self._buffer = self._buffer, []
        for row, fields in buffered:
            yield build_record(fields, row.line, row, ctx)
        del buffered
        if self._failure is not None:
            raise self._failure
        apply = self.mapping.applier()
        for row in self._rows:
            yield build_record(apply(row), row.line, row, ctx)

    def for_job(self, stored: dict[bytes, str]) -> Iterator[ImportItem]:
        """Every row, for an import job: cleaned in the process pool (core.importing.parallel), each record with its
        raw row's digest, and rows whose digest is in ``stored`` (the studio's source) not cleaned again."""
        known = KnownRows(cleaning_key(self.mapping, self.context), stored)
        return clean_rows(self._read_on(), self.mapping, self.context, known)

    def _read_on(self) -> Iterator[RawRow]:
        buffered, self._buffer = self._buffer, []
        for row, _ in buffered:
            yield row
        del buffered
        if self._failure is not None:
            raise self._failure
        yield from self._rows


def prepare(rows: Iterable[RawRow], mapping: Mapping) -> PreparedImport:
    return PreparedImport(rows, mapping)


def iter_records(rows: Iterable[RawRow], mapping: Mapping) -> Iterator[ClientRecord | RowError]:
    """Lazily turn raw rows into client records or row errors, in input order."""
    return iter(PreparedImport(rows, mapping))
