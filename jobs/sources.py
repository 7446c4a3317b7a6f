"""Where raw records come from: an uploaded file (CSV/TSV/vCard, streamed from PostgreSQL in chunks)
or a CRM API. Each source yields ``Batch``es whose checkpoint says how to resume after that batch."""

from __future__ import annotations

import collections
import io
import itertools
from collections.abc import Iterator
from typing import Any

import msgspec
from psycopg_pool import ConnectionPool

from core import job_lifecycle as store
from core.db.pool import tenant_sync
from core.importing.mapping import Mapping
from core.importing.normalise import NormaliseContext
from core.importing.parallel import clean_rows, shared_pool
from core.importing.pipeline import PreparedImport
from core.importing.readers import TableReader, json_rows, open_table
from core.importing.records import ClientRecord, ImportFileError, ImportItem, RawRow, RowError, RowWarning
from core.importing.vcard import read_vcards
from core.providers.errors import ProviderError
from core.providers.tave import TaveClient
from core.providers.tave_models import TaveCouple, TaveCursor, TavePage
from core.settings import settings

BATCH_SIZE = 2_000


def max_file_rows() -> int:
    """The row cap (``IMPORT_MAX_ROWS``): a bigger spreadsheet is almost certainly not a client list."""
    return settings().import_max_rows


class Batch(msgspec.Struct):
    items: list[ImportItem]
    checkpoint: dict[str, Any]
    total: int | None = None
    skipped: int = 0  # source records that are not clients (e.g. a Tave portrait job): processed, not imported
    # Set on the last batch of an incremental sync: saved with that batch, never earlier.
    cursor: dict[str, Any] | None = None


class RowCapReached(Exception):
    pass


class UploadStream(io.RawIOBase):
    """The uploaded file, read chunk by chunk from ``import_upload_chunks``: constant memory, any machine."""

    def __init__(self, pool: ConnectionPool, supplier_id: int, job_id: int) -> None:
        self._pool, self._supplier_id, self._job_id = pool, supplier_id, job_id
        self._seq = 0
        self._buffer = b""
        self._eof = False

    def readable(self) -> bool:
        return True

    def readinto(self, target: Any) -> int:
        while not self._buffer and not self._eof:
            with tenant_sync(self._pool, self._supplier_id) as conn:
                row = conn.execute(store.READ_CHUNK, {"id": self._job_id, "seq": self._seq}).fetchone()
            if row is None:
                self._eof = True
            else:
                self._buffer = bytes(row[0])
                self._seq += 1
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        return n


def mark_repeats(items: Iterator[ImportItem]) -> Iterator[ImportItem]:
    """Two rows of one file that are one client (the same ID; without an ID column, the same email, else phone,
    else names, with the same wedding date) are saved as one, the later row's details winning as in a spreadsheet
    read top-down: the later row says so, instead of a client silently standing for two rows."""
    first: dict[str, int] = {}
    for item in items:
        if isinstance(item, ClientRecord) and item.line:
            earlier = first.setdefault(item.external_id, item.line)
            if earlier != item.line:
                same = "person and wedding date" if item.external_id.startswith(("h-", "vcard-")) else "ID"
                note = RowWarning(
                    item.line,
                    "external_id",
                    f"Row {item.line}: the same {same} as row {earlier}, so both rows are one client, "
                    f"with this row's details",
                )
                item = msgspec.structs.replace(item, warnings=(*item.warnings, note))
        yield item


def file_batches(
    stream: io.BufferedReader,
    options: dict[str, Any],
    checkpoint: dict[str, Any] | None,
    stored: dict[bytes, str] | None = None,
) -> Iterator[Batch]:
    """Batches from an uploaded file; resumes after ``checkpoint["items"]`` already-committed rows. ``stored``: the
    digests of the rows the studio's clients from this source were imported from (core.importing.digest)."""
    kind = options.get("format", "table")
    rows: Iterator[RawRow]
    table: TableReader | None = None
    if kind == "vcard":
        rows = read_vcards(stream)
    elif kind == "json":
        rows = json_rows(stream.read())
    else:
        table = open_table(stream)
        rows = iter(table)

    def checkpoint_at(items: int) -> dict[str, Any]:
        # What the file needed fixing so far rides with the checkpoint, so the job's last message can say it
        # (a redelivered job reads the file from the start again and finds the same).
        notice = table.nul_notice() if table is not None else None
        return {"items": items, "notice": notice} if notice else {"items": items}

    mapping = msgspec.convert(options["mapping"], Mapping)
    prepared = PreparedImport(rows, mapping)
    done = int((checkpoint or {}).get("items", 0))
    cap = max_file_rows()
    items = mark_repeats(prepared.for_job(stored or {}))
    if done:
        next(itertools.islice(items, done - 1, done), None)  # skip what earlier attempts committed
    while True:
        chunk: list[ImportItem] = []
        failure: ImportFileError | None = None
        try:
            for item in itertools.islice(items, BATCH_SIZE):
                chunk.append(item)
        except ImportFileError as exc:
            # A broken line mid-file: the good rows read before it are committed first, then the
            # job stops with the reader's message (rows before a broken one are kept, as promised).
            failure = exc
        if done + len(chunk) > cap:
            chunk = chunk[: max(0, cap - done)]
            if chunk:
                yield Batch(chunk, checkpoint_at(done + len(chunk)))
            raise RowCapReached
        if chunk:
            done += len(chunk)
            yield Batch(chunk, checkpoint_at(done))
        if failure is not None:
            raise failure
        if len(chunk) < BATCH_SIZE:
            return


def couple_fields(couple: TaveCouple) -> dict[str, str]:
    """A Tave couple as mapped fields, so it goes through the same normalisation as a spreadsheet row."""
    fields: dict[str, str | None] = {
        "external_id": couple.external_id,
        "wedding_date": couple.wedding_date,
        "booking_date": couple.booking_date,
        "inquiry_date": couple.inquiry_date,
        "status": couple.stage,
        "lead_source": couple.lead_source,
        "venue": couple.venue_name,
    }
    for n, partner in ((1, couple.partner1), (2, couple.partner2)):
        if partner is not None:
            fields[f"partner{n}_first"] = partner.first_name
            fields[f"partner{n}_last"] = partner.last_name
            fields[f"partner{n}_email"] = partner.email
            fields[f"partner{n}_phone"] = partner.phone
    return {k: v for k, v in fields.items() if v}


def tave_label(couple: TaveCouple) -> str:
    """How a photographer finds a Tave couple: their names and the Tave job ("Emma & Noah Davis (Tave job 01g4…)")."""
    names = " & ".join(
        " ".join(part for part in (p.first_name, p.last_name) if part)
        for p in (couple.partner1, couple.partner2)
        if p is not None and (p.first_name or p.last_name)
    )
    return f"{names or 'A couple'} (Tave job {couple.external_id})"


def tave_batches(
    client: TaveClient,
    *,
    kind: str,
    region: str,
    checkpoint: dict[str, Any] | None,
    saved_cursor: dict[str, Any] | None,
) -> Iterator[Batch]:
    ctx = NormaliseContext(date_order="YMD", default_region=region)
    if kind == "incremental_sync":
        cursor = msgspec.convert(saved_cursor, TaveCursor) if saved_cursor else None
        pages = client.iter_changed_since(cursor)
    else:
        start_page = int((checkpoint or {}).get("page", 0)) + 1
        pages = client.iter_couples(start_page=start_page)
        # A full import reads every contact, link and event (thousands of requests for a big studio)
        # before its first couple: the cleaning pool starts meanwhile rather than when the first couples
        # are waiting (they would be cleaned in this thread until it is up). Started once per worker.
        shared_pool()
    # Couples are cleaned in the shared process pool, as file rows are (couple_fields already names
    # the target fields, so the mapping is the identity); the grouper turns them back into whole pages.
    mapping = Mapping(columns={f: f for f in _COUPLE_FIELDS}, default_region=region)
    grouper = _PageGrouper()
    failure: list[ProviderError] = []

    def rows() -> Iterator[RawRow]:
        try:
            for page in pages:
                grouper.feed(page)
                for place, couple in enumerate(page.couples, start=1):
                    # The couple's place in Tave's job list (page 3's fifth: 205; pages hold at most 100), so
                    # each couple's warnings count once; the messages name the couple (tave_label), not a row.
                    yield RawRow((page.page - 1) * 100 + place, couple_fields(couple), label=tave_label(couple))
        except ProviderError as exc:
            # Tave failed for good: end the rows here, so every couple read before it is cleaned and
            # committed first (as a broken line in a file keeps the rows before it), then re-raise.
            failure.append(exc)

    for item in clean_rows(rows(), mapping, ctx):
        yield from grouper.add(item)
    yield from grouper.finish()
    if failure:
        raise failure[0]


_COUPLE_FIELDS = (
    "external_id", "wedding_date", "booking_date", "inquiry_date", "status", "lead_source", "venue",
    *(f"partner{n}_{part}" for n in (1, 2) for part in ("first", "last", "email", "phone")),
)  # fmt: skip


class _PageGrouper:
    """Cleaned couples (one per couple, in order) back into batches of whole Tave pages.

    Pages are grouped into batches of about BATCH_SIZE couples: one transaction per 100-couple page spent
    more time committing and reporting than importing. A batch holds only pages whose couples have all
    come back, its checkpoint is its last page (saved with the rows of every page in it), and it never
    spans two passes (page numbers restart when the list shifted and we went round again).
    """

    def __init__(self) -> None:
        self._fed: collections.deque[list[Any]] = collections.deque()  # [page, couples not back yet]
        self._items: list[ImportItem] = []
        self._skipped = 0
        self._pass: int | None = None  # the pass of what is held
        self._last: TavePage | None = None  # the last page whose couples have all come back

    def feed(self, page: TavePage) -> None:
        self._fed.append([page, len(page.couples)])

    def add(self, item: ClientRecord | RowError) -> Iterator[Batch]:
        yield from self._close_finished()
        head = self._fed[0]
        yield from self._new_pass(head[0])
        self._items.append(item)
        self._pass = head[0].pass_number
        head[1] -= 1
        yield from self._close_finished()

    def finish(self) -> Iterator[Batch]:
        yield from self._close_finished()
        if self._last is not None and (self._items or self._skipped):
            yield self._flush()

    def _new_pass(self, page: TavePage) -> Iterator[Batch]:
        if self._pass is not None and page.pass_number != self._pass:
            yield self._flush()

    def _close_finished(self) -> Iterator[Batch]:
        while self._fed and self._fed[0][1] == 0:
            page: TavePage = self._fed.popleft()[0]
            yield from self._new_pass(page)
            self._skipped += len(page.skipped_ids)
            self._pass, self._last = page.pass_number, page
            if page.is_last or len(self._items) + self._skipped >= BATCH_SIZE:
                yield self._flush()

    def _flush(self) -> Batch:
        assert self._last is not None
        batch = _tave_batch(self._items, self._skipped, self._last)
        self._items, self._skipped, self._pass = [], 0, None
        return batch


def _tave_batch(items: list[ImportItem], skipped: int, page: TavePage) -> Batch:
    return Batch(
        items,
        {"page": page.page},
        total=page.total_items or None,
        skipped=skipped,
        cursor=msgspec.to_builtins(page.cursor) if page.cursor is not None else None,
    )
