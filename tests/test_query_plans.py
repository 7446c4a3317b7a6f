"""Every page query has an index that serves it, at 100,000 clients for one supplier.

The queries are the real module functions from ``webapp/queries/*``, run through the app's own pool and
``tenant()`` transaction (role ``wedsync_app``, ``app.supplier_id`` set, so RLS adds its predicate), with a
cursor that asks PostgreSQL for the plan of exactly the statement the function sends before running it.

The data lives in a database of its own on the session's server, so its ``ANALYZE`` statistics cannot change
other tests' plans, and it is dropped at the end.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import re
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core.db.migrate import migrate
from core.db.pool import make_async_pool, tenant
from tests.fixtures import Services
from webapp.queries import clients as clients_q
from webapp.queries import export as export_q
from webapp.queries import jobs as jobs_q
from webapp.queries import notes as notes_q
from webapp.search import search_terms

CLIENTS = 100_000
OTHER_CLIENTS = 10_000  # a second supplier, so supplier_id is not the whole table
JOBS = 3_000
NOTES = 30_000
DELETED = 2_000  # deleted clients (migrations/0019), waiting out their 30 days: in no page, count or export

SEED_CLIENTS = """
INSERT INTO clients (supplier_id, source, external_id, partner1_first, partner1_last, partner1_email, partner1_phone,
                     partner2_first, partner2_last, wedding_date, venue, status)
SELECT %(sid)s, 'csv', 'x' || i,
       (ARRAY['Olivia','Amelia','Isla','Noah','Oliver','Priya','Omar','Mei','Finn','Zara'])[1 + i %% 10] || (i %% 977),
       (ARRAY['Smith','Jones','Patel','Khan','Nguyen','Rossi','Müller','Okafor','Byrne','Chen'])[1 + i %% 10]
           || (i %% 1013),
       'guest' || i || '@example.com',
       '+447700' || lpad((i %% 1000000)::text, 6, '0'),
       'Sam' || (i %% 331), 'Jones' || (i %% 97),
       CASE WHEN i %% 15 = 0 THEN NULL ELSE date '2024-01-01' + (i %% 1100) END,
       'Venue ' || (i %% 499) || ' Hall',
       (ARRAY['lead','booked','completed','archived'])[1 + i %% 4]
FROM generate_series(1, %(n)s) AS i
"""
SEED_JOBS = """
INSERT INTO sync_jobs (supplier_id, kind, source, status, created_at)
SELECT %(sid)s, 'file_import', (ARRAY['csv','tave','lightblue'])[1 + i %% 3],
       CASE WHEN i > %(n)s - 2 THEN 'running' ELSE (ARRAY['succeeded','failed','cancelled'])[1 + i %% 3] END,
       now() - make_interval(mins => %(n)s - i)
FROM generate_series(1, %(n)s) AS i
"""
SEED_NOTES = """
INSERT INTO client_notes (supplier_id, client_id, body, created_at)
SELECT c.supplier_id, c.id, 'note ' || g, now() - make_interval(mins => g)
FROM (SELECT id, supplier_id FROM clients WHERE supplier_id = %(sid)s ORDER BY id LIMIT %(clients)s) c,
     generate_series(1, %(per)s) AS g
"""


class ExplainingCursor(psycopg.AsyncCursor[Any]):
    """Before each statement, records PostgreSQL's plan for exactly that statement and those parameters."""

    plans: list[dict[str, Any]] = []

    async def execute(self, query: Any, params: Any = None, **kwargs: Any) -> ExplainingCursor:  # type: ignore[override]
        statement = sql.SQL(query) if isinstance(query, str) else query
        await super().execute(sql.SQL("EXPLAIN (FORMAT JSON) ") + statement, params)
        assert self.pgresult is not None
        raw = self.pgresult.get_value(0, 0)
        assert raw is not None
        ExplainingCursor.plans.append(json.loads(bytes(raw))[0]["Plan"])
        await super().execute(query, params, **kwargs)
        return self


def nodes(plan: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield plan
    for child in plan.get("Plans", []):
        yield from nodes(child)


def scans(plan: dict[str, Any], table: str) -> list[tuple[str, str | None]]:
    """(node type, index name) for every scan of ``table``; a bitmap heap scan names its bitmap indexes."""
    found: list[tuple[str, str | None]] = []
    for n in nodes(plan):
        if n.get("Relation Name") != table or "Scan" not in n["Node Type"]:
            continue
        below = [c["Index Name"] for c in nodes(n) if c is not n and "Index Name" in c]
        found += [(n["Node Type"], name) for name in below] or [(n["Node Type"], n.get("Index Name"))]
    return found


@pytest.fixture(scope="module")
def plans_db(services: Services) -> Iterator[tuple[str, int, int]]:
    """A migrated database with 100k clients for one supplier; (url, supplier id, a client with notes)."""
    name = f"plans_{secrets.token_hex(4)}"
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(**{**conninfo_to_dict(services.database_url), "dbname": name})
    try:
        migrate(url)
        with psycopg.connect(url) as conn:
            sids = []
            for business in ("Big Studio", "Other Studio"):
                row = conn.execute(
                    "INSERT INTO suppliers (business_name, email, password_hash) VALUES (%s, %s, 'x') RETURNING id",
                    [business, f"{secrets.token_hex(4)}@example.com"],
                ).fetchone()
                assert row is not None
                sids.append(row[0])
            big, other = sids
            conn.execute(SEED_CLIENTS, {"sid": big, "n": CLIENTS})
            conn.execute(SEED_CLIENTS, {"sid": other, "n": OTHER_CLIENTS})
            conn.execute(SEED_JOBS, {"sid": big, "n": JOBS})
            conn.execute(SEED_JOBS, {"sid": other, "n": JOBS // 3})
            conn.execute(SEED_NOTES, {"sid": big, "clients": NOTES // 10, "per": 10})
            conn.execute(
                "UPDATE clients SET deleted_at = now() - interval '1 day' WHERE id IN "
                "(SELECT id FROM clients WHERE supplier_id = %s ORDER BY id DESC LIMIT %s)",
                [big, DELETED],
            )
            row = conn.execute("SELECT min(client_id) FROM client_notes").fetchone()
            assert row is not None
            noted_client = row[0]
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        yield url, big, noted_client
    finally:
        with psycopg.connect(services.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def run_plans(url: str, supplier_id: int, noted_client: int) -> dict[str, dict[str, Any]]:
    """Each page query through the real functions; returns the plan of the statement each one sent."""

    async def main() -> dict[str, dict[str, Any]]:
        pool = make_async_pool(url, min_size=1, max_size=1, statement_timeout_ms=5000)
        await pool.open(wait=True)
        found: dict[str, dict[str, Any]] = {}
        today = dt.date(2025, 3, 1)

        async def capture_all(call: Any) -> tuple[Any, list[dict[str, Any]]]:
            async with tenant(pool, supplier_id) as conn:
                conn.cursor_factory = ExplainingCursor
                ExplainingCursor.plans = []
                try:
                    result = await call(conn)
                finally:
                    conn.cursor_factory = psycopg.AsyncCursor
            # A search also sets its own timeout or planner settings (a plan with no table in it): not a page query.
            return result, [p for p in ExplainingCursor.plans if p.get("Plans") or p["Node Type"] != "Result"]

        async def capture(label: str, call: Any) -> Any:
            result, plans = await capture_all(call)
            assert len(plans) == 1, label
            found[label] = plans[0]
            return result

        try:
            first = await capture("list first page", lambda c: clients_q.list_clients(c, supplier_id, today=today))
            assert first.next_cursor is not None
            after = clients_q.Cursor.decode(first.next_cursor)
            await capture("list next page", lambda c: clients_q.list_clients(c, supplier_id, after=after, today=today))
            searches = {
                "search name": "okafor17",
                "search email": "guest4242@example.com",
                "search phone digits": search_terms("07700 004242", "GB"),
                "search venue": "venue 123 hall",
                "search common word": "jones5",  # one in nine, all through the book: found among the nearby names
                "search clustered name": "olivia",  # one in ten, all together in name order: a walk
            }
            for label, terms in searches.items():
                page, plans = await capture_all(
                    lambda c, t=terms: clients_q.list_clients(c, supplier_id, search=t, today=today)
                )
                assert page.rows, f"{label} found nothing: the plan check would prove little"
                found[label] = {"Node Type": "search", "Plans": plans}
            # Step 1 only for a common word; a rare one goes on to the word index, which must be usable under RLS.
            assert len(found["search common word"]["Plans"]) == 1
            assert len(found["search phone digits"]["Plans"]) == 3  # nearby, the book goes on, the word index
            assert len(found["search clustered name"]["Plans"]) == 4
            # Step 3 (many matches, none near): the walk, and past its budget every match through the word index.
            # Each gives the same rows as steps 1 and 2.
            terms = "okafor1"
            async with tenant(pool, supplier_id) as conn:
                expected = await clients_q.list_clients(conn, supplier_id, search=terms, today=today)
            limits = clients_q.SEARCH_NEARBY_NAMES, clients_q.SEARCH_FEW_MATCHES, clients_q.SEARCH_WALK_BUDGET_MS
            try:
                clients_q.SEARCH_NEARBY_NAMES, clients_q.SEARCH_FEW_MATCHES = 10, 10
                walked, plans = await capture_all(
                    lambda c: clients_q.list_clients(c, supplier_id, search=terms, today=today)
                )
                found["search walk"] = plans[-1]
                clients_q.SEARCH_WALK_BUDGET_MS = 1
                matched, plans = await capture_all(
                    lambda c: clients_q.list_clients(c, supplier_id, search=terms, today=today)
                )
                found["search matches first"] = plans[-1]
            finally:
                clients_q.SEARCH_NEARBY_NAMES, clients_q.SEARCH_FEW_MATCHES, clients_q.SEARCH_WALK_BUDGET_MS = limits
            assert "CTE Scan" in {n["Node Type"] for n in nodes(found["search matches first"])}, "no fallback ran"
            for page in (walked, matched):
                assert [r.id for r in page.rows] == [r.id for r in expected.rows]
                assert page.next_cursor == expected.next_cursor
            upcoming = await capture(
                "upcoming weddings", lambda c: clients_q.list_clients(c, supplier_id, upcoming_days=60, today=today)
            )
            assert upcoming.rows
            assert upcoming.next_cursor
            after_date = clients_q.Cursor.decode(upcoming.next_cursor)
            await capture(
                "upcoming next page",
                lambda c: clients_q.list_clients(c, supplier_id, upcoming_days=60, after=after_date, today=today),
            )
            shown = [r.id for r in first.rows[:3]]
            again = await capture("list rows by id", lambda c: clients_q.rows_by_ids(c, supplier_id, shown))
            assert sorted(again) == sorted(shown)
            client = await capture("client detail", lambda c: clients_q.get_client(c, noted_client))
            assert client is not None
            notes = await capture("client notes", lambda c: notes_q.list_notes(c, supplier_id, noted_client))
            assert len(notes) == 10
            await capture(
                "client older notes",
                lambda c: notes_q.list_notes(c, supplier_id, noted_client, before=notes[4].id),
            )
            jobs = await capture("job list", lambda c: jobs_q.list_jobs(c, supplier_id, status=None, source=None))
            assert jobs.jobs
            assert jobs.jobs[0].status == "running"
            job_after = jobs_q.JobCursor.decode(jobs.next_cursor)
            assert job_after is not None
            older = await capture(
                "job list next page",
                lambda c: jobs_q.list_jobs(c, supplier_id, status=None, source=None, after=job_after),
            )
            assert older.jobs
            assert older.jobs[0].id not in {j.id for j in jobs.jobs}
            await capture("job list filtered", lambda c: jobs_q.list_jobs(c, supplier_id, status="failed", source=None))
            counts = await capture(
                "dashboard counts", lambda c: clients_q.dashboard_counts(c, supplier_id, days=60, today=today)
            )
            assert counts.clients == CLIENTS - DELETED
            exported = await capture("export page", lambda c: export_q.export_page(c, supplier_id))
            assert len(exported) == export_q.EXPORT_BATCH
        finally:
            await pool.close()
        return found

    return asyncio.run(main())


def test_page_queries_use_indexes_at_100k_clients(plans_db: tuple[str, int, int]) -> None:
    url, supplier_id, noted_client = plans_db
    found = run_plans(url, supplier_id, noted_client)
    report = {label: scans(plan, "clients") + scans(plan, "client_notes") + scans(plan, "sync_jobs")
              for label, plan in found.items()}  # fmt: skip
    for label, plan in found.items():
        for table in ("clients", "client_notes", "sync_jobs"):
            kinds = scans(plan, table)
            assert ("Seq Scan", None) not in kinds, f"{label}: sequential scan on {table}: {report[label]}"
    expect = {
        "list first page": "clients_list_idx",
        "list next page": "clients_list_idx",
        "upcoming weddings": "clients_wedding_date_idx",
        "upcoming next page": "clients_wedding_date_idx",
        "list rows by id": "clients_pkey",  # a cached list page reading again the rows that changed
        "client detail": "clients_pkey",
        "client notes": "client_notes_client_idx",
        "client older notes": "client_notes_client_idx",
        "job list": "sync_jobs_list_idx",
        "job list next page": "sync_jobs_list_idx",
        "dashboard counts": "clients_counts_idx",
        "export page": "clients_list_idx",
    }
    for label, index in expect.items():
        assert index in {name for _, name in report[label]}, f"{label} does not use {index}: {report[label]}"
    # Every step of a search reads an index: the name index alone (index-only: the words are included, and at
    # 1,000,000 clients a heap read per entry passed took seconds), the word index, and the primary key for the
    # rows shown.
    assert ("Index Only Scan", "clients_list_idx") in report["search common word"], report["search common word"]
    labels = ("search name", "search email", "search phone digits", "search venue", "search common word")
    for label in (*labels, "search clustered name", "search walk"):  # the walk: the planner's plan, in a budget
        used = {name for _, name in scans(found[label], "clients")} - {"clients_pkey"}
        assert used <= {"clients_words_idx", "clients_list_idx"}, f"{label}: {report[label]}"
        assert used, f"{label} scanned no index: {report[label]}"
        walked = [kind for kind, name in scans(found[label], "clients") if name == "clients_list_idx"]
        assert set(walked) <= {"Index Only Scan"}, f"{label} walks the name index through the table: {walked}"
    assert "clients_words_idx" in {name for _, name in report["search phone digits"]}, report["search phone digits"]
    used = {name for _, name in scans(found["search matches first"], "clients")}
    assert used == {"clients_words_idx"}, f"the matches-first search does not use the word index: {used}"


def _generic_plan(url: str, supplier_id: int, query: sql.Composable) -> dict[str, Any]:
    """The plan PostgreSQL caches for ``query`` once psycopg has prepared it (after five runs), as the app's role."""
    with psycopg.connect(url) as conn:
        conn.execute("SET ROLE wedsync_app")
        conn.execute("SELECT set_config('app.supplier_id', %s, false)", [str(supplier_id)])
        names: list[str] = []

        def number(match: re.Match[str]) -> str:
            if match[1] not in names:
                names.append(match[1])
            return f"${names.index(match[1]) + 1}"

        text = re.sub(r"%\((\w+)\)s", number, query.as_string(conn))
        row = conn.execute(f"EXPLAIN (GENERIC_PLAN, FORMAT JSON) {text}").fetchone()
    assert row is not None
    return row[0][0]["Plan"]  # type: ignore[no-any-return]


def test_search_works_out_what_was_typed_once_in_a_cached_plan(plans_db: tuple[str, int, int]) -> None:
    """In a generic plan, a bare search_query($n) in a filter ran again for every name tested (140 ms instead of 4
    for 20,000 names under the load mix); as a sub-SELECT it is an InitPlan, worked out once per statement."""
    url, big, _ = plans_db
    statements = {
        "nearby names": clients_q._WALK_BY_NAME.format(clients_q._NEAR_IDS_BY_NAME.format(sql.SQL(""))),
        "walk": clients_q._WALK_BY_NAME.format(
            sql.Composed([clients_q._PAGE_IDS_BY_NAME, clients_q._SEARCH, sql.SQL("")])
        ),
    }
    for label, statement in statements.items():
        plan = _generic_plan(url, big, statement)
        filters = [node.get("Filter", "") for node in nodes(plan) if "search_words @@" in node.get("Filter", "")]
        assert filters, label
        assert not any("search_query" in f for f in filters), (label, filters)
        assert any(node.get("Subplan Name", "").startswith("InitPlan") for node in nodes(plan)), label
