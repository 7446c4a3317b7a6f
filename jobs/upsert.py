"""The back half of every import: a batch of clean records into ``clients`` in one statement.

COPY into a session temp table, then one ``INSERT … ON CONFLICT DO UPDATE … WHERE`` something changed.
Rows that did not change are not written at all (no new tuple, no WAL, no version bump), which is
what makes re-importing an unchanged file cheap. ``xmax = 0`` on the returned rows tells inserts from
updates; the rest of the batch was unchanged. A source the studio has no clients from yet is written
with a plain ``INSERT`` instead (``INSERT_BATCH``), which is what a first import is.
"""

from __future__ import annotations

import operator

import psycopg
from psycopg import errors

from core import client_keys
from core.importing.records import ClientRecord
from core.job_lifecycle import BatchCounts

DATA_COLUMNS = (
    "partner1_first", "partner1_last", "partner1_email", "partner1_phone",
    "partner2_first", "partner2_last", "partner2_email", "partner2_phone",
    "wedding_date", "venue", "status", "lead_source", "inquiry_date", "booking_date",
)  # fmt: skip
_ALL = ("external_id", *DATA_COLUMNS, "import_digest")

CREATE_BATCH_TABLE = """
CREATE TEMP TABLE IF NOT EXISTS import_batch (
    ord            integer NOT NULL,
    external_id    text NOT NULL,
    partner1_first text NOT NULL, partner1_last text NOT NULL, partner1_email text, partner1_phone text,
    partner2_first text NOT NULL, partner2_last text NOT NULL, partner2_email text, partner2_phone text,
    wedding_date date, venue text, status text NOT NULL, lead_source text, inquiry_date date, booking_date date,
    import_digest bytea
) ON COMMIT DELETE ROWS
"""
COPY_BATCH = f"COPY import_batch (ord, {', '.join(_ALL)}) FROM STDIN"
# A temp table has no statistics until analysed, and plans need them. The table lives as long as the
# session and keeps them (ON COMMIT DELETE ROWS empties it, the statistics stay), and batches have the
# same shape, so it is analysed again only when this batch's size is far from the analysed one (-1:
# never analysed): ANALYZE cost ~5 ms a batch and made PostgreSQL plan the upsert again each time.
ANALYSED_ROWS = "SELECT reltuples FROM pg_class WHERE oid = 'pg_temp.import_batch'::regclass"

# One statement per batch. The last occurrence of an external id in a batch wins, as it would in a
# spreadsheet read top-down. Possible duplicates across sources (same email, or same name and
# wedding date) are looked up only for rows actually written, straight from RETURNING into the indexes
# clients_email1_idx and clients_wedding_date_idx; the lookups see the table as it was before this batch,
# which is right because a job writes one source and duplicates are, by definition, in another.
#
# The studio and source reach the lookups of stored rows through ``this``, a MATERIALIZED CTE, as columns rather
# than constants: PostgreSQL then estimates "supplier_id = this studio" as an average studio, not from the
# statistics' figure for this one. For a studio newer than the statistics (a new studio in a big table, statistics
# reset by a crash) that figure is ~1 row, and with constants the lookups read the studio's rows through
# clients_counts_idx and filtered them: every incoming row read all of the studio's rows, and 2,000-row batches
# slowed from 0.3 s to 45 s until an ANALYZE. With columns, clients_source_key answers each
# (tests/test_upsert_plans.py).
_WRITE = f"""
WITH this AS MATERIALIZED (SELECT %(sid)s::bigint AS supplier_id, %(source)s::text AS source),
incoming AS (
    -- A key a merge gave to another client (client_source_aliases, migrations/0025) is written as that client's own
    -- key, so the ON CONFLICT below (clients_source_key) updates the survivor and never recreates the merged one.
    SELECT DISTINCT ON (source, external_id) * FROM (
        SELECT coalesce(a.target_source, this.source) AS source, coalesce(a.target_external_id, b.external_id)
               AS external_id, a.source IS NOT NULL AS via_alias, b.ord, {", ".join(f"b.{c}" for c in _ALL[1:])}
        FROM import_batch b CROSS JOIN this
        LEFT JOIN client_source_aliases a
               ON a.supplier_id = this.supplier_id AND a.source = this.source AND a.external_id = b.external_id
    ) keyed
    ORDER BY source, external_id, ord DESC
){{changed}}, written AS (
    INSERT INTO clients (supplier_id, source, created_job_id, {", ".join(_ALL)})
    SELECT %(sid)s, source, %(job_id)s, {", ".join(_ALL)} FROM {{rows}}{{on_conflict}}
    RETURNING id, (xmax = 0) AS inserted, updated_at = now() AS touched, partner1_email, partner1_first,
              partner1_last, wedding_date, version
){{overwrites}}, other_sources AS (
    -- Two bounded probes of clients_source_key (sources below and above this one), not a scan of the
    -- supplier's own rows. None: the supplier has only this source, nothing can be a duplicate, and the
    -- lookups below (an index probe and heap visits per row written) are skipped by a one-time filter.
    -- Ordered by source, so only clients_source_key gives the first row without reading the others.
    SELECT EXISTS (SELECT FROM this, LATERAL (SELECT FROM clients c WHERE c.supplier_id = this.supplier_id
                   AND c.source < this.source ORDER BY c.source DESC LIMIT 1) below)
        OR EXISTS (SELECT FROM this, LATERAL (SELECT FROM clients c WHERE c.supplier_id = this.supplier_id
                   AND c.source > this.source ORDER BY c.source LIMIT 1) above) AS found
), duplicates AS (
    -- Candidates through the email and wedding-date indexes; duplicate_reason (migrations/0024) decides, as the
    -- preview's check does.
    INSERT INTO sync_job_duplicates (supplier_id, job_id, client_id, other_client_id, reason)
    SELECT %(sid)s, %(job_id)s, pair.written_id, pair.other_id, pair.reason
    FROM (
        SELECT w.id AS written_id, o.id AS other_id,
               duplicate_reason(o, w.partner1_email, w.partner1_first, w.partner1_last, w.wedding_date) AS reason
        FROM written w
        JOIN clients o ON o.supplier_id = %(sid)s AND o.partner1_email = w.partner1_email AND o.source <> %(source)s
             AND o.id <> w.id
        WHERE %(job_id)s::bigint IS NOT NULL AND (SELECT found FROM other_sources) AND w.touched
              AND w.partner1_email IS NOT NULL
        UNION ALL
        SELECT w.id, o.id, duplicate_reason(o, w.partner1_email, w.partner1_first, w.partner1_last, w.wedding_date)
        FROM written w
        JOIN clients o ON o.supplier_id = %(sid)s AND o.wedding_date = w.wedding_date AND o.source <> %(source)s
             AND o.id <> w.id
        WHERE %(job_id)s::bigint IS NOT NULL AND (SELECT found FROM other_sources) AND w.touched
              AND w.wedding_date IS NOT NULL AND w.partner1_first <> ''
    ) pair
    WHERE pair.reason IS NOT NULL
    ON CONFLICT DO NOTHING
    RETURNING 1
)
SELECT (SELECT count(*) FROM incoming),
       count(*) FILTER (WHERE inserted),
       count(*) FILTER (WHERE touched AND NOT inserted),
       (SELECT count(*) FROM duplicates)
FROM written
"""

# A source the studio has no clients from yet (most first imports, the biggest jobs there are): every row is new,
# so a plain INSERT. ON CONFLICT costs ~5 µs a row even when nothing conflicts (a probe of clients_source_key, a
# speculative-insertion lock taken and released, a confirmation record in the WAL): 0.5 of PostgreSQL's 3.5
# CPU-seconds for 100,000 rows. A key that is there after all (another job of the same source committed it, or the
# file repeats a client an earlier batch wrote) fails the statement, and the batch is written again with UPSERT_BATCH.
INSERT_BATCH = _WRITE.format(changed="", rows="incoming", on_conflict="", overwrites="")


def _merged(column: str) -> str:
    """Re-import is a three-way merge: a field the photographer changed in WedSync since its import (a key of
    ``app_edits``, migrations/0016) keeps the app's value; every other field takes the file's."""
    return f"CASE WHEN clients.app_edits ? '{column}' THEN clients.{column} ELSE EXCLUDED.{column} END"


_MERGED = ", ".join(_merged(c) for c in DATA_COLUMNS)
_DATA_CHANGED = f"(clients.{', clients.'.join(DATA_COLUMNS)}) IS DISTINCT FROM ({_MERGED})"
_DATE_COLUMNS = frozenset({"wedding_date", "inquiry_date", "booking_date"})
# A row that reached a client through a merged-away key (via_alias) brings, for each field pinned in ``app_edits``
# (the values chosen in the merge, and earlier edits), the value already recorded as that field's base: the app's
# value stays, as for any pinned field, and the other source neither lists a conflict nor moves the base, which
# belongs to the survivor's own source. Otherwise two sources disagreeing on a field would list a conflict on
# every import of each in turn. Fields not pinned (the ones the two clients agreed on) follow either source.
_ALIGNED = ", ".join(
    f"CASE WHEN via_alias AND stored_edits ? '{c}' THEN (stored_edits ->> '{c}')::"
    f"{'date' if c in _DATE_COLUMNS else 'text'} ELSE {c} END AS {c}"
    for c in DATA_COLUMNS
)
# Any other batch. Rows identical to the stored client, digest included, are dropped first, by one probe of
# clients_source_key each, so PostgreSQL never forms them as rows to insert: it would otherwise compute their
# generated columns (sort_name, search_words: most of an unchanged re-import's PostgreSQL time) before finding the
# conflict. A row whose values held but whose digest did not (the cleaning code or the mapping changed) only
# refreshes the digest: no new version, not counted as updated, not reported as a possible duplicate again.
# The probe reads clients_source_key by ``this`` (see _WRITE).
#
# Fields the photographer changed in WedSync since the import keep the app's value (_merged). Where the file changed
# such a field too, to something else than the app holds, the job lists the conflict with both values
# (sync_job_conflicts) for the photographer to pick; the value the file now has becomes the field's new base in
# ``app_edits``, so the same file imported again does not list it again. Only clients with app edits pay for this:
# the probe that finds the stored row already returns them.
UPSERT_BATCH = _WRITE.format(
    changed=f"""
, probed AS (
    SELECT i.*, stored.same, stored.id AS stored_id, stored.app_edits AS stored_edits, stored.fields AS stored_fields
    FROM incoming i CROSS JOIN this
    LEFT JOIN LATERAL (
        SELECT (c.{", c.".join(_ALL[1:])}) IS NOT DISTINCT FROM (i.{", i.".join(_ALL[1:])}) AS same,
               c.id, c.app_edits, CASE WHEN c.app_edits IS NOT NULL THEN to_jsonb(c) END AS fields
        FROM clients c
        WHERE c.supplier_id = this.supplier_id AND c.source = i.source AND c.external_id = i.external_id
        LIMIT 1
    ) stored ON true
), changed AS (
    SELECT source, external_id, {_ALIGNED}, import_digest, stored_id, stored_edits, stored_fields
    FROM probed WHERE same IS NOT TRUE
), conflicts AS (
    INSERT INTO sync_job_conflicts (supplier_id, job_id, client_id, field, app_value, file_value)
    SELECT %(sid)s, %(job_id)s, ch.stored_id, edit.key, ch.stored_fields ->> edit.key, to_jsonb(ch) ->> edit.key
    FROM changed ch CROSS JOIN LATERAL jsonb_each_text(ch.stored_edits) edit
    WHERE %(job_id)s::bigint IS NOT NULL AND ch.stored_edits IS NOT NULL
      AND (to_jsonb(ch) ->> edit.key) IS DISTINCT FROM edit.value
      AND (to_jsonb(ch) ->> edit.key) IS DISTINCT FROM (ch.stored_fields ->> edit.key)
    ON CONFLICT DO NOTHING
)""",
    rows="changed",
    # For an undo: the values each update overwrote (the statement's snapshot still shows them) and the version it
    # left, so an undo restores only clients nobody has changed since. Updates only: an insert overwrote nothing.
    overwrites="""
, overwrites AS (
    INSERT INTO sync_job_overwrites (supplier_id, job_id, client_id, before, version_after)
    SELECT %(sid)s, %(job_id)s, w.id, to_jsonb(c) - 'search_words' - 'search_text' - 'sort_name', w.version
    FROM written w JOIN clients c ON c.id = w.id
    WHERE %(job_id)s::bigint IS NOT NULL AND NOT w.inserted AND w.touched
    ON CONFLICT (job_id, client_id) DO UPDATE SET version_after = EXCLUDED.version_after  -- the first write's
)""",
    on_conflict=f"""
    ON CONFLICT (supplier_id, source, external_id) DO UPDATE SET
        {", ".join(f"{c} = {_merged(c)}" for c in DATA_COLUMNS)},
        import_digest = EXCLUDED.import_digest,
        app_edits = (SELECT jsonb_object_agg(edit, to_jsonb(EXCLUDED) -> edit)
                     FROM jsonb_object_keys(clients.app_edits) edit),
        version = clients.version + CASE WHEN {_DATA_CHANGED} THEN 1 ELSE 0 END,
        updated_at = CASE WHEN {_DATA_CHANGED} THEN now() ELSE clients.updated_at END
    WHERE (clients.{", clients.".join(DATA_COLUMNS)}, clients.import_digest)
          IS DISTINCT FROM ({_MERGED}, EXCLUDED.import_digest)""",
)
# A source whose only clients were merged into others' still has keys (aliases): its rows are upserts.
SOURCE_HAS_CLIENTS = """
SELECT EXISTS (SELECT FROM clients WHERE supplier_id = %(sid)s AND source = %(source)s)
    OR EXISTS (SELECT FROM client_source_aliases WHERE supplier_id = %(sid)s AND source = %(source)s)
"""
STORED_DIGESTS = """
SELECT import_digest, external_id FROM clients
WHERE supplier_id = %s AND source = %s AND import_digest IS NOT NULL
"""


def source_has_clients(conn: psycopg.Connection, supplier_id: int, source: str) -> bool:
    row = conn.execute(SOURCE_HAS_CLIENTS, {"sid": supplier_id, "source": source}).fetchone()
    return bool(row and row[0])


def stored_digests(conn: psycopg.Connection, supplier_id: int, source: str) -> dict[bytes, str]:
    """What the studio's clients from ``source`` were imported from: raw-row digest → external id."""
    with conn.cursor(binary=True) as cur:
        return dict(cur.execute(STORED_DIGESTS, [supplier_id, source]).fetchall())


class SourceWriter:
    """Writes one job's batches of one source for one studio, each inside the caller's supplier-scoped transaction.

    Batches are plain inserts (INSERT_BATCH) while the source is new to the studio, from the first key found
    stored onwards upserts (UPSERT_BATCH). Writer threads of one job share it.
    """

    def __init__(self, supplier_id: int, source: str, *, new_source: bool, job_id: int | None = None) -> None:
        self.supplier_id, self.source, self.job_id = supplier_id, source, job_id
        self.new_source = new_source

    @classmethod
    def for_job(cls, conn: psycopg.Connection, supplier_id: int, source: str, job_id: int | None) -> SourceWriter:
        return cls(supplier_id, source, job_id=job_id, new_source=not source_has_clients(conn, supplier_id, source))

    def write(self, conn: psycopg.Connection, records: list[ClientRecord]) -> BatchCounts:
        if not records:
            return BatchCounts()
        conn.execute(CREATE_BATCH_TABLE)
        with conn.cursor() as cur:
            with cur.copy(COPY_BATCH) as copy:
                for i, r in enumerate(records):
                    copy.write_row((
                        i, r.external_id, r.partner1_first, r.partner1_last, r.partner1_email, r.partner1_phone,
                        r.partner2_first, r.partner2_last, r.partner2_email, r.partner2_phone, r.wedding_date,
                        r.venue, r.status, r.lead_source, r.inquiry_date, r.booking_date, r.import_digest,
                    ))  # fmt: skip
            analysed = cur.execute(ANALYSED_ROWS).fetchone()
            if analysed is None or not len(records) / 2 <= analysed[0] <= len(records) * 2:
                cur.execute("ANALYZE import_batch")
            cur.execute(client_keys.FOR_IMPORT_BATCH, [self.supplier_id])  # before the upsert's snapshot: a merge
            params = {"source": self.source, "sid": self.supplier_id, "job_id": self.job_id}
            row = None
            if self.new_source:
                try:
                    with conn.transaction():  # a savepoint: a key already stored undoes only this statement
                        row = cur.execute(INSERT_BATCH, params).fetchone()
                except errors.UniqueViolation:
                    self.new_source = False
            if row is None:
                # Planned for each batch (never a cached generic plan): one made while the source was small could
                # scan the table for every probe as it grows.
                row = cur.execute(UPSERT_BATCH, params, prepare=False).fetchone()
            assert row is not None
            _distinct, created, updated, _duplicates = (int(v) for v in row)
        # The statement wrote each client once, from its last row in the batch, and counted that against what was
        # stored. A row repeating a client earlier in the batch is counted on its own: updated where it changes
        # what the row before it said, unchanged where it repeats it, so every row of the batch is counted once.
        _, repeats_changed = repeated_rows(records)
        unchanged = len(records) - created - updated - repeats_changed
        return BatchCounts(created, updated + repeats_changed, unchanged)


_DATA_FIELDS = operator.attrgetter(*DATA_COLUMNS)


def repeated_rows(records: list[ClientRecord]) -> tuple[int, int]:
    """(rows repeating a client met earlier in the batch, how many of those differ from the client's row before)."""
    previous: dict[str, ClientRecord] = {}
    repeats = changed = 0
    for record in records:
        before = previous.get(record.external_id)
        if before is not None:
            repeats += 1
            changed += _DATA_FIELDS(before) != _DATA_FIELDS(record)
        previous[record.external_id] = record
    return repeats, changed
