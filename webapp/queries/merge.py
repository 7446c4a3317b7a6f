"""Merging two clients into one: the survivor takes the values chosen field by field, the other's notes, import
reports and source key, and the other is deleted.

Everything runs in the caller's supplier-scoped transaction (one ``run_idempotent`` action), so a merge is applied
whole or not at all.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import msgspec
import psycopg
from psycopg import sql
from psycopg.rows import class_row

from core import client_keys
from core.couple import COUPLE_COLUMNS
from webapp.models import Client

_COLUMNS = """
id, source, external_id, partner1_first, partner1_last, partner1_email, partner1_phone,
partner2_first, partner2_last, partner2_email, partner2_phone, wedding_date, venue, status,
lead_source, inquiry_date, booking_date, version, created_at, updated_at
"""
# Both clients, locked (in id order, so two merges of the same pair cannot deadlock) until the merge commits.
LOCK_PAIR = "SELECT " + _COLUMNS + " FROM clients WHERE id = ANY(%s) AND deleted_at IS NULL ORDER BY id FOR UPDATE"

# The survivor takes the chosen values. Every field the two clients differed on is pinned in ``app_edits`` (the
# three-way re-import merge, migrations/0016) with the survivor's imported value as its base, unless an earlier edit
# already pinned it: a later import from either source then keeps what the photographer chose, instead of writing
# the merged-away client's old values (or the survivor's) back over it. Unlike an edit, a manual survivor pins too:
# it now answers to the other client's source key.
# Dates the page does not show (an import's enquiry and booking dates): the survivor's, else the other's.
FILLED_COLUMNS = ("inquiry_date", "booking_date")
MERGE_SURVIVOR = sql.SQL(
    "UPDATE clients SET {assignments}, version = version + 1, updated_at = now(), "
    "app_edits = nullif(coalesce(app_edits, '{{}}'::jsonb) || ("
    "  SELECT coalesce(jsonb_object_agg(f, to_jsonb(clients) -> f), '{{}}'::jsonb) FROM unnest(%(pinned)s::text[]) f"
    "  WHERE NOT coalesce(clients.app_edits ? f, false)), '{{}}'::jsonb) "
    "WHERE id = %(id)s AND version = %(version)s AND deleted_at IS NULL RETURNING id"
).format(
    assignments=sql.SQL(", ").join(
        sql.SQL("{} = {}").format(sql.Identifier(c), sql.Placeholder(c)) for c in (*COUPLE_COLUMNS, *FILLED_COLUMNS)
    )
)

# What pointed at the other client now points at the survivor. A report that would then name one client twice (the
# pair being merged) or repeat one the survivor already has is dropped; the rest go with the other's deletion.
MOVE_NOTES = "UPDATE client_notes SET client_id = %(keep)s WHERE client_id = %(gone)s"
DROP_MERGED_PAIRS = """
DELETE FROM sync_job_duplicates d
WHERE (d.client_id = %(gone)s AND d.other_client_id = %(keep)s)
   OR (d.client_id = %(keep)s AND d.other_client_id = %(gone)s)
   OR (d.client_id = %(gone)s AND EXISTS (SELECT FROM sync_job_duplicates s WHERE s.job_id = d.job_id
                                          AND s.client_id = %(keep)s AND s.other_client_id = d.other_client_id))
   OR (d.other_client_id = %(gone)s AND EXISTS (SELECT FROM sync_job_duplicates s WHERE s.job_id = d.job_id
                                                AND s.other_client_id = %(keep)s AND s.client_id = d.client_id))
"""
MOVE_DUPLICATES = """
UPDATE sync_job_duplicates
SET client_id = CASE WHEN client_id = %(gone)s THEN %(keep)s ELSE client_id END,
    other_client_id = CASE WHEN other_client_id = %(gone)s THEN %(keep)s ELSE other_client_id END
WHERE client_id = %(gone)s OR other_client_id = %(gone)s
"""
MOVE_CONFLICTS = """
UPDATE sync_job_conflicts c SET client_id = %(keep)s
WHERE c.client_id = %(gone)s AND NOT EXISTS (
    SELECT FROM sync_job_conflicts s WHERE s.job_id = c.job_id AND s.client_id = %(keep)s AND s.field = c.field)
"""
# A lead already sent to a CRM stays sent: the survivor is not posted again.
MOVE_EXPORTS = """
UPDATE crm_exports e SET client_id = %(keep)s
WHERE e.client_id = %(gone)s AND NOT EXISTS (
    SELECT FROM crm_exports s WHERE s.integration_id = e.integration_id AND s.client_id = %(keep)s)
"""
# The other's own key, and the keys it had taken over in earlier merges, lead to the survivor from now on
# (client_source_aliases, migrations/0025; jobs/upsert.py resolves them).
MOVE_ALIASES = """
UPDATE client_source_aliases SET target_source = %(keep_source)s, target_external_id = %(keep_external_id)s
WHERE supplier_id = %(sid)s AND target_source = %(gone_source)s AND target_external_id = %(gone_external_id)s
"""
ADD_ALIAS = """
INSERT INTO client_source_aliases (supplier_id, source, external_id, target_source, target_external_id)
VALUES (%(sid)s, %(gone_source)s, %(gone_external_id)s, %(keep_source)s, %(keep_external_id)s)
ON CONFLICT (supplier_id, source, external_id) DO UPDATE
    SET target_source = EXCLUDED.target_source, target_external_id = EXCLUDED.target_external_id, merged_at = now()
"""
# A hard delete, not the soft one with Undo: the other's source key now belongs to the survivor, and a hidden row
# still holding it (and restorable) would be a second client answering to one key. What the photographer keeps of it
# (notes, chosen values, reports) is on the survivor; the undo records of imports that touched it go with it.
DELETE_OTHER = "DELETE FROM clients WHERE id = %(gone)s"

# Clients a photographer may merge a client with, from its page: the possible duplicates imports reported, or, once
# something is typed, the matches of that search.
CANDIDATES = """
SELECT id, sort_name, source, wedding_date, partner1_email FROM clients c
WHERE c.supplier_id = %(sid)s AND c.deleted_at IS NULL AND c.id <> %(id)s AND (
    (%(search)s = '' AND c.id IN (
        SELECT other_client_id FROM sync_job_duplicates WHERE supplier_id = %(sid)s AND client_id = %(id)s
        UNION SELECT client_id FROM sync_job_duplicates WHERE supplier_id = %(sid)s AND other_client_id = %(id)s))
    OR (%(search)s <> '' AND c.search_words @@ (SELECT search_query(%(search)s))))
ORDER BY c.sort_name, c.id LIMIT 30
"""


class Candidate(msgspec.Struct, frozen=True):
    id: int
    sort_name: str
    source: str
    wedding_date: dt.date | None
    partner1_email: str | None


async def lock_pair(
    conn: psycopg.AsyncConnection, supplier_id: int, keep_id: int, gone_id: int
) -> tuple[Client, Client] | None:
    """(survivor, other), both live and locked; None if either is not this studio's live client. Waits first for the
    studio's import batches in flight (core.client_keys)."""
    await conn.execute(client_keys.FOR_MERGE, [supplier_id])
    async with conn.cursor(row_factory=class_row(Client)) as cur:
        await cur.execute(LOCK_PAIR, [[keep_id, gone_id]])
        rows = {c.id: c for c in await cur.fetchall()}
    if keep_id == gone_id or len(rows) != 2:
        return None
    return rows[keep_id], rows[gone_id]


async def merge(
    conn: psycopg.AsyncConnection,
    supplier_id: int,
    keep: Client,
    gone: Client,
    values: dict[str, Any],
    pinned: list[str],
) -> bool:
    """Merge ``gone`` into ``keep`` (both locked by ``lock_pair``); False if the survivor's version moved."""
    cur = await conn.execute(MERGE_SURVIVOR, {**values, "id": keep.id, "version": keep.version, "pinned": pinned})
    if await cur.fetchone() is None:
        return False
    ids = {"keep": keep.id, "gone": gone.id}
    for statement in (MOVE_NOTES, DROP_MERGED_PAIRS, MOVE_DUPLICATES, MOVE_CONFLICTS, MOVE_EXPORTS):
        await conn.execute(statement, ids)
    keys = {
        "sid": supplier_id,
        "keep_source": keep.source,
        "keep_external_id": keep.external_id,
        "gone_source": gone.source,
        "gone_external_id": gone.external_id,
    }
    await conn.execute(MOVE_ALIASES, keys)
    await conn.execute(ADD_ALIAS, keys)
    await conn.execute(DELETE_OTHER, ids)
    return True


async def candidates(conn: psycopg.AsyncConnection, supplier_id: int, client_id: int, search: str) -> list[Candidate]:
    async with conn.cursor(row_factory=class_row(Candidate)) as cur:
        await cur.execute(CANDIDATES, {"sid": supplier_id, "id": client_id, "search": search})
        return await cur.fetchall()
