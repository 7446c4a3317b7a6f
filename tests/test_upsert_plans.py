"""The import's upsert finds a studio's stored clients by clients_source_key whatever the statistics say.

A studio whose rows are newer than the table's statistics (a new studio in a big table, a resume after a crash reset
them, a file that repeats an id and so takes the upsert path) must not get a plan that reads all of its rows for
each incoming one: that made 2,000-row batches take 0.3 s, then 5, 7, 15 … 45 s, until an ANALYZE.

Like tests/test_query_plans.py, the data lives in a database of its own, with autovacuum off so nothing analyses it
behind the test's back.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from core import job_lifecycle
from core.db.migrate import migrate
from core.db.pool import make_sync_pool, tenant_sync
from core.importing.records import ClientRecord
from jobs.runner import ANALYSE_AFTER_ROWS, analyse_if_changed_much
from jobs.upsert import INSERT_BATCH, UPSERT_BATCH, SourceWriter
from tests.fixtures import Services
from tests.test_query_plans import SEED_CLIENTS, nodes, scans

BIG = 100_000  # another studio's clients, analysed
NEW = 20_000  # the new studio's, written after the statistics were taken
BATCH = 2_000


class ExplainingCursor(psycopg.Cursor[Any]):
    """Records PostgreSQL's plan of each batch statement (INSERT_BATCH, UPSERT_BATCH) before running it."""

    plans: list[dict[str, Any]] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> ExplainingCursor:  # type: ignore[override]
        if query in (INSERT_BATCH, UPSERT_BATCH):
            super().execute("EXPLAIN (FORMAT JSON) " + query, params, prepare=False)
            row = self.fetchone()
            assert row is not None
            raw = row[0]
            ExplainingCursor.plans.append((json.loads(raw) if isinstance(raw, str) else raw)[0]["Plan"])
        super().execute(query, params, **kwargs)
        return self


@pytest.fixture(scope="module")
def stale_db(services: Services) -> Iterator[tuple[str, int]]:
    """(url, new studio): a big analysed studio, then a new one whose clients the statistics have never seen."""
    name = f"stale_{secrets.token_hex(4)}"
    with psycopg.connect(services.database_url, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(**{**conninfo_to_dict(services.database_url), "dbname": name})
    try:
        migrate(url)
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("ALTER TABLE clients SET (autovacuum_enabled = false)")
            sids = []
            for business in ("Big Studio", "New Studio"):
                row = conn.execute(
                    "INSERT INTO suppliers (business_name, email, password_hash) VALUES (%s, %s, 'x') RETURNING id",
                    [business, f"{secrets.token_hex(4)}@example.com"],
                ).fetchone()
                assert row is not None
                sids.append(row[0])
            big, new = sids
            conn.execute(SEED_CLIENTS, {"sid": big, "n": BIG})
            conn.execute("VACUUM ANALYZE clients")
            conn.execute(SEED_CLIENTS, {"sid": new, "n": NEW})
        yield url, new
    finally:
        with psycopg.connect(services.database_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _records(n: int) -> list[ClientRecord]:
    """``n`` of the new studio's stored clients (SEED_CLIENTS' ids), each with a changed venue."""
    return [
        ClientRecord(
            external_id=f"x{i}",
            partner1_first=f"Ada{i}",
            partner1_last="Lovelace",
            partner1_email=None,
            partner1_phone=None,
            partner2_first="",
            partner2_last="",
            partner2_email=None,
            partner2_phone=None,
            wedding_date=dt.date(2027, 6, 1),
            venue="Kew Gardens",
            status="booked",
            lead_source=None,
            inquiry_date=None,
            booking_date=None,
        )
        for i in range(1, n + 1)
    ]


def _plan_of_a_batch(url: str, sid: int, records: list[ClientRecord], job_id: int | None) -> dict[str, Any]:
    with psycopg.connect(url) as conn:
        stats = conn.execute("SELECT n_mod_since_analyze FROM pg_stat_user_tables WHERE relname = 'clients'")
        assert stats.fetchone()[0] >= NEW  # type: ignore[index]  # the statistics have not seen the new studio
    pool = make_sync_pool(url, min_size=1, max_size=1, statement_timeout_ms=60_000)
    pool.open(wait=True)
    try:
        with tenant_sync(pool, sid) as conn:
            writer = SourceWriter.for_job(conn, sid, "csv", job_id)
            assert not writer.new_source
            conn.cursor_factory = ExplainingCursor
            ExplainingCursor.plans = []
            counts = writer.write(conn, records)
            raise psycopg.Rollback  # the next test starts from the same rows
    finally:
        pool.close()
    assert counts.updated == len(records)  # it ran, in well under the minute it took with the bad plan
    [plan] = ExplainingCursor.plans
    assert not any(n["Node Type"] == "Seq Scan" and n.get("Relation Name") == "clients" for n in nodes(plan))
    return plan


def test_the_upsert_finds_stored_clients_by_their_key_without_statistics(stale_db: tuple[str, int]) -> None:
    """The skip-unchanged probe (one per incoming row) and the two probes for other sources."""
    url, sid = stale_db
    plan = _plan_of_a_batch(url, sid, _records(BATCH), None)
    lookups = scans(plan, "clients")
    assert len(lookups) == 3
    assert all(index == "clients_source_key" for _, index in lookups), lookups


def test_a_job_that_changed_much_of_its_studio_analyses_clients(stale_db: tuple[str, int]) -> None:
    """Runs last in this module: afterwards the statistics know the new studio. The worker's role may analyse the
    table (migration 0014), and does only after a job that wrote a large share of its studio's clients."""
    url, sid = stale_db
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, false)", [str(sid)])
        small, large = (
            conn.execute(
                "INSERT INTO sync_jobs (supplier_id, kind, source, status, created_count, updated_count) "
                "VALUES (%s, 'file_import', 'csv', 'running', %s, 0) RETURNING id",
                [sid, created],
            ).fetchone()[0]  # type: ignore[index]
            for created in (ANALYSE_AFTER_ROWS - 1, NEW)
        )
    pool = make_sync_pool(url, min_size=1, max_size=1, statement_timeout_ms=60_000)
    pool.open(wait=True)

    def job(job_id: int) -> Any:
        with tenant_sync(pool, sid) as conn:
            return job_lifecycle.load(conn, job_id)

    def studio_estimate() -> float:
        with psycopg.connect(url) as conn:
            conn.execute("SELECT set_config('app.supplier_id', %s, false)", [str(sid)])
            plan = conn.execute("EXPLAIN (FORMAT JSON) SELECT * FROM clients WHERE supplier_id = %s", [sid])
            return float(plan.fetchone()[0][0]["Plan"]["Plan Rows"])  # type: ignore[index]

    try:
        assert not analyse_if_changed_much(pool, job(small))
        assert studio_estimate() < NEW / 10  # the statistics know nothing of the studio's rows
        assert analyse_if_changed_much(pool, job(large))
        assert studio_estimate() > NEW / 2  # now they do
    finally:
        pool.close()
