"""CRM jobs end to end against the sandbox CRM over HTTP: Tave full import and incremental sync, faults
(429 with Retry-After, 5xx, timeouts, malformed pages), the Light Blue export, and where the API key
must never appear. Counts are checked against the sandbox's own world, not against the importer."""

from __future__ import annotations

import json
import re
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from typing import Any

import httpx
import msgspec
import psycopg
import pytest
import redis

from core.job_lifecycle import REQUEST_CANCEL, REQUEUE_FAILED
from core.providers.tave import is_wedding_job
from jobs.sandbox.config import FaultConfig, SandboxConfig
from jobs.sandbox.server import running_sandbox
from jobs.sandbox.world import World
from tests.fixtures import ROOT, Services, wait_for
from tests.test_import_support import IMPORT_REDIS_DB, ImportEnv, import_env_fixture, redis_db_url

SIZE = 250  # three pages of jobs
TAVE_KEY = f"tave-live-{secrets.token_hex(12)}"
CONFIG = SandboxConfig(size=SIZE, seed=7, api_key=TAVE_KEY)
WORLD = World(CONFIG)
WEDDING_INDICES = [i for i in range(SIZE) if is_wedding_job(WORLD.synth(i).job_type)]
WEDDING_IDS = {WORLD.record_id("job", i) for i in WEDDING_INDICES}


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with running_sandbox(CONFIG) as url:
        yield url


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory, services: Services, sandbox: str) -> Iterator[ImportEnv]:
    for env in import_env_fixture(tmp_path_factory, services, CRM_TIMEOUT_S="1"):
        env.start_worker()
        yield env


@pytest.fixture
def faults(sandbox: str) -> Iterator[Any]:
    def set_faults(**config: Any) -> None:
        httpx.post(f"{sandbox}/_sandbox/faults", json=config).raise_for_status()

    set_faults.url = sandbox  # type: ignore[attr-defined]
    httpx.delete(f"{sandbox}/_sandbox/stats")
    yield set_faults
    set_faults()


def _tave(imports: ImportEnv, sandbox: str, key: str = TAVE_KEY) -> tuple[int, int]:
    sid, _ = imports.supplier()
    return sid, imports.integration(sid, "tave", f"{sandbox}/v2", key)


def _assert_every_wedding_accounted_for(imports: ImportEnv, sid: int, summary: Any) -> set[str]:
    """Each wedding job is either a client row or a row error with the job's id; nothing else lands.
    (The sandbox serves the mess people type: "n/a" phones, "name@" emails; those couples are kept without
    the unusable field, with a warning, so only a couple with no one in it is refused.) Returns the refused ids."""
    refused = {
        r[0] for r in imports.rows(
            sid, "SELECT raw->>'external_id' FROM sync_job_errors WHERE job_id = %s AND severity = 'error'",
            [summary.job_id],
        )
    }  # fmt: skip
    warned = imports.rows(sid, "SELECT count(*) FROM sync_job_errors WHERE job_id = %s AND severity = 'warning'",
                          [summary.job_id])  # fmt: skip
    assert warned[0][0] > 0  # the mess is reported, field by field, naming the couple and their Tave job
    reasons = [r[0] for r in imports.rows(sid, "SELECT reason FROM sync_job_errors WHERE job_id = %s",
                                          [summary.job_id])]  # fmt: skip
    assert all(" (Tave job " in reason and not reason.startswith("Row ") for reason in reasons)
    warnings = imports.rows(
        sid, "SELECT reason FROM sync_job_errors WHERE job_id = %s AND severity = 'warning'", [summary.job_id]
    )
    couples_warned = {r[0].split("): ", 1)[0] for r in warnings}
    if summary.message and "left out" in summary.message:  # each couple counted once, not once per page
        assert f"{len(couples_warned):,} imported with something left out" in summary.message
    if summary.processed > len(WEDDING_IDS):
        assert "that aren't weddings skipped" in (summary.message or "")
    landed = {r["external_id"] for r in imports.clients(sid, "tave")}
    assert summary.processed == SIZE
    assert refused <= WEDDING_IDS
    assert landed | refused == WEDDING_IDS
    assert summary.failed == len(refused)
    assert summary.created + summary.updated + summary.unchanged + summary.failed == len(WEDDING_IDS)
    assert summary.status == ("partially_succeeded" if refused else "succeeded"), summary.message
    return refused


def _stats(sandbox: str) -> dict[str, Any]:
    return httpx.get(f"{sandbox}/_sandbox/stats").json()  # type: ignore[no-any-return]


def test_tave_full_import_is_exact_and_a_second_run_writes_nothing(imports: ImportEnv, sandbox: str) -> None:
    sid, iid = _tave(imports, sandbox)
    summary = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    refused = _assert_every_wedding_accounted_for(imports, sid, summary)
    assert (summary.created, summary.updated, summary.total) == (len(WEDDING_IDS) - len(refused), 0, SIZE)
    assert len(refused) < len(WEDDING_IDS) // 4
    rows = {r["external_id"]: r for r in imports.clients(sid, "tave")}
    for i in WEDDING_INDICES[:20]:
        if WORLD.record_id("job", i) in refused:
            continue
        synth, row = WORLD.synth(i), rows[WORLD.record_id("job", i)]
        assert row["partner1_first"] == synth.partners[0].first
        assert row["wedding_date"] == synth.event_date
        assert row["status"] in ("lead", "booked", "completed")
    cursor = imports.rows(sid, "SELECT sync_cursor FROM crm_integrations WHERE id = %s", [iid])[0][0]
    assert cursor is not None
    assert cursor["modified"]

    before = imports.rows(sid, "SELECT id, version, xmin::text FROM clients ORDER BY id")
    again = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    assert _assert_every_wedding_accounted_for(imports, sid, again) == refused
    assert (again.created, again.updated, again.unchanged) == (0, 0, len(WEDDING_IDS) - len(refused))
    assert imports.rows(sid, "SELECT id, version, xmin::text FROM clients ORDER BY id") == before


def test_rate_limits_and_server_errors_are_survived(imports: ImportEnv, sandbox: str, faults: Any) -> None:
    sid, iid = _tave(imports, sandbox)
    faults(rate_limit_every=4, retry_after="0.2", error_next=2, error_status=502)
    summary = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    refused = _assert_every_wedding_accounted_for(imports, sid, summary)
    assert summary.created == len(WEDDING_IDS) - len(refused)
    served = [status for counts in _stats(sandbox)["endpoints"].values() for status in counts]
    assert "429" in served
    assert "502" in served


def test_the_phone_hears_what_is_being_read_before_the_first_couple(
    imports: ImportEnv, sandbox: str, faults: Any
) -> None:
    """Contacts, job links and events are all read before the first couple can be cleaned: the status line says
    so (not "Starting…" for minutes on a big studio), without filling the job's timeline with it."""
    sid, iid = _tave(imports, sandbox)
    faults(latency_ms=300)
    job_id = imports.sync_job(sid, iid, "full_import")
    imports.send("full_import", sid, job_id)
    line = wait_for(lambda: (m := imports.summary(sid, job_id).message or "").startswith("Reading your Tave") and m,
                    30, "the status line to say what is being read")  # fmt: skip
    assert re.fullmatch(r"Reading your Tave (job contacts|contacts|events): page \d+ of \d+\.", line), line
    faults()
    summary = imports.wait_done(sid, job_id)
    assert summary.status in ("succeeded", "partially_succeeded")
    assert not summary.message.startswith("Reading")
    timeline = imports.rows(sid, "SELECT message FROM sync_job_events WHERE job_id = %s", [job_id])
    assert timeline
    assert not [m for (m,) in timeline if m.startswith("Reading")]


def test_a_timeout_is_retried(imports: ImportEnv, sandbox: str, faults: Any) -> None:
    sid, iid = _tave(imports, sandbox)
    faults(timeout_next=1, timeout_seconds=2.5)  # the worker gives up on an answer after CRM_TIMEOUT_S=1
    summary = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    refused = _assert_every_wedding_accounted_for(imports, sid, summary)
    assert (summary.created, summary.attempts) == (len(WEDDING_IDS) - len(refused), 1)


def test_malformed_page_stops_with_plain_words_and_keeps_earlier_pages(
    imports: ImportEnv, sandbox: str, faults: Any
) -> None:
    sid, iid = _tave(imports, sandbox)
    faults(malformed_page=3, malformed_path="/v2/job")
    summary = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    assert summary.status == "failed"
    assert summary.message == (
        "Tave sent page 3 of your jobs in a form we couldn't read, so we stopped before importing anything "
        "wrong. Please try again later; if it keeps happening, let us know."
    )
    # Page 1 was committed (with its checkpoint); page 2 was still being prepared when page 3 broke.
    first_page = {WORLD.record_id("job", i) for i in WEDDING_INDICES if i < 100}
    landed = {r["external_id"] for r in imports.clients(sid, "tave")}
    assert landed <= first_page
    assert (summary.processed, summary.created + summary.failed) == (100, len(first_page))
    assert summary.created == len(landed)
    # Nothing half-done: no cursor saved from a pass that did not finish.
    assert imports.rows(sid, "SELECT sync_cursor FROM crm_integrations WHERE id = %s", [iid]) == [(None,)]


def test_a_refused_key_fails_at_once(imports: ImportEnv, sandbox: str) -> None:
    sid, iid = _tave(imports, sandbox, key="not-the-key")
    summary = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
    assert summary.status == "failed"
    assert summary.message == ("Tave didn't accept the API key. Please check it in Tave's settings and paste it again.")
    assert (summary.attempts, summary.processed, summary.created) == (1, 0, 0)


def test_persistent_server_errors_retry_the_job_then_fail_in_plain_words(
    imports: ImportEnv, sandbox: str, faults: Any
) -> None:
    """In-process runner (no waiting on real back-offs): each attempt gives up after the client's retries
    and hands the job back to Dramatiq; the last attempt fails it with the counts it had."""
    from core.providers.tave import TaveClient
    from core.settings import settings
    from jobs.errors import RetryLater
    from jobs.runner import run_job
    from jobs.sources import tave_batches

    sid, iid = _tave(imports, sandbox)
    job_id = imports.sync_job(sid, iid, "full_import")

    def batches(job: Any, *_: Any) -> Any:
        client = TaveClient(f"{sandbox}/v2", TAVE_KEY, sleep=lambda _s: None, allow_local=True)
        return tave_batches(client, kind=job.kind, region="GB", checkpoint=job.checkpoint, saved_cursor=None)

    faults(error_probability=1.0, error_status=503)
    max_attempts = settings().job_max_attempts
    with pytest.raises(RetryLater):
        run_job(imports.pool, sid, job_id, batches)
    summary = imports.summary(sid, job_id)
    assert summary.status == "running"
    assert summary.message == (
        f"Tave's server had a problem (HTTP 503) 5 times in a row. We'll try again shortly (1 of {max_attempts})."
    )
    with psycopg.connect(imports.services.database_url) as conn:
        conn.execute("UPDATE sync_jobs SET attempts = %s WHERE id = %s", [max_attempts - 1, job_id])
    assert run_job(imports.pool, sid, job_id, batches) == "failed"
    summary = imports.summary(sid, job_id)
    assert summary.message == (
        "This import stopped after several tries: Tave's server had a problem (HTTP 503) 5 times in a row. "
        "Everything imported before that is kept; you can try again."
    )
    assert (summary.status, summary.created, summary.processed) == ("failed", 0, 0)


def _stop_when(imports: ImportEnv, sid: int, job_id: int, line: str) -> tuple[Any, float]:
    """Press Stop once the job's status line says ``line``; the finished job and how long it took to end."""
    wait_for(lambda: line in (imports.summary(sid, job_id).message or ""), 60, f"the status line {line!r}")
    with imports.scoped(sid) as conn:
        assert conn.execute(REQUEST_CANCEL, {"id": job_id}).fetchone() == ("running",)
    pressed = time.monotonic()
    summary = imports.wait_done(sid, job_id, timeout=60)
    return summary, time.monotonic() - pressed


def test_stop_ends_a_tave_import_while_it_reads_contact_pages(imports: ImportEnv) -> None:
    """Contacts are read before the first couple can be written (slowly here: 0.8 s a page, ~40 pages): Stop is
    seen between pages, not after every contact has been read and the first batch committed."""
    slow = FaultConfig(latency_ms=800, paths=["/v2/address-book"])
    with running_sandbox(SandboxConfig(size=2_000, seed=13, api_key=TAVE_KEY, faults=slow)) as url:
        sid, iid = _tave(imports, url)
        job_id = imports.sync_job(sid, iid, "full_import")
        imports.send("full_import", sid, job_id)
        summary, seconds = _stop_when(imports, sid, job_id, "Reading your Tave contacts")
        contacts = _stats(url)["endpoints"]["GET /v2/address-book"]["200"]
    assert summary.status == "cancelled", summary.message
    assert summary.message == "Cancelled. Everything imported before that is kept."
    assert (summary.processed, summary.created) == (0, 0)
    assert seconds < 5
    assert contacts < 20  # of ~40 pages


def test_a_stopped_tave_import_tried_again_goes_on_reading_where_it_stopped(imports: ImportEnv) -> None:
    """The pages read before Stop are kept: "Try again" reads the contacts after them (job links and events, read
    in full the first time, not at all), and the import ends exact."""
    config = SandboxConfig(size=2_000, seed=17, api_key=TAVE_KEY, faults=FaultConfig(latency_ms=800,
                           paths=["/v2/address-book"]))  # fmt: skip
    world = World(config)
    weddings = {world.record_id("job", i) for i in range(config.size) if is_wedding_job(world.synth(i).job_type)}
    with running_sandbox(config) as url:
        sid, iid = _tave(imports, url)
        job_id = imports.sync_job(sid, iid, "full_import")
        imports.send("full_import", sid, job_id)
        wait_for(
            lambda: re.search(r"Tave contacts: page ([5-9]|\d\d)", imports.summary(sid, job_id).message or ""),
            60,
            "the fifth page of contacts",
        )
        stopped, _ = _stop_when(imports, sid, job_id, "Reading your Tave contacts")
        assert (stopped.status, stopped.processed) == ("cancelled", 0)
        kept = dict(
            imports.rows(
                sid, "SELECT resource, count(*) FROM sync_job_pages WHERE job_id = %s GROUP BY resource", [job_id]
            )
        )
        meta = httpx.get(f"{url}/v2/address-book", params={"pageSize": 100}, headers={"X-API-KEY": TAVE_KEY})
        contact_pages = meta.json()["meta"]["totalPages"]
        assert 5 <= kept["address-book"] < contact_pages
        assert kept["job-contact"] > 0
        assert kept["event"] > 0

        httpx.post(f"{url}/_sandbox/faults", json={}).raise_for_status()
        httpx.delete(f"{url}/_sandbox/stats")
        with imports.scoped(sid) as conn:  # "Try again" on the stopped job's page
            assert conn.execute(REQUEUE_FAILED, {"sid": sid, "id": job_id}).fetchall() == [(job_id, "full_import")]
        done = imports.run(sid, job_id, "full_import", timeout=120)
        read = _stats(url)["endpoints"]
    assert done.status in ("succeeded", "partially_succeeded"), done.message
    assert done.processed == config.size
    assert done.created + done.failed == len(weddings)
    assert {r["external_id"] for r in imports.clients(sid, "tave")} <= weddings
    assert read["GET /v2/address-book"]["200"] == contact_pages - kept["address-book"]
    assert "GET /v2/job-contact" not in read
    assert "GET /v2/event" not in read
    # The kept pages go once the import has succeeded.
    assert imports.rows(sid, "SELECT count(*) FROM sync_job_pages WHERE job_id = %s", [job_id]) == [(0,)]


def test_stop_ends_a_tave_import_while_it_waits_out_a_retry_after(imports: ImportEnv, faults: Any) -> None:
    sid, iid = _tave(imports, faults.url)
    faults(rate_limit_next=1, retry_after="90")
    job_id = imports.sync_job(sid, iid, "full_import")
    imports.send("full_import", sid, job_id)
    summary, seconds = _stop_when(imports, sid, job_id, "waiting 90 s — Tave asked us to slow down")
    assert (summary.status, summary.processed) == ("cancelled", 0), summary.message
    assert seconds < 5


def _touch(sandbox: str, count: int, reuse_latest: bool = False) -> list[dict[str, str]]:
    resp = httpx.post(f"{sandbox}/_sandbox/touch", json={"count": count, "reuse_latest_timestamp": reuse_latest})
    resp.raise_for_status()
    return resp.json()["touched"]  # type: ignore[no-any-return]


def test_incremental_sync_takes_only_touched_jobs_including_ones_sharing_the_cursor(
    imports: ImportEnv, sandbox: str
) -> None:
    # Its own sandbox: touches are global, and other tests' full imports must not see them mid-way.
    with running_sandbox(SandboxConfig(size=120, seed=11, api_key=TAVE_KEY, touch_share=3)) as url:
        sid, iid = _tave(imports, url)
        full = imports.run(sid, imports.sync_job(sid, iid, "full_import"), "full_import")
        assert (full.status, full.processed) == ("succeeded", 120)

        touched = _touch(url, 5)  # stamped in groups of three sharing one "modified" second
        assert len({t["modified"] for t in touched}) < len(touched)
        first = imports.run(sid, imports.sync_job(sid, iid, "incremental_sync"), "incremental_sync")
        assert (first.processed, first.created, first.updated) == (5, 0, 0)  # same data, a newer stamp
        assert first.status in ("succeeded", "partially_succeeded")
        cursor = imports.rows(sid, "SELECT sync_cursor FROM crm_integrations WHERE id = %s", [iid])[0][0]
        assert cursor["modified"] == max(t["modified"] for t in touched)

        # Edits landing in the very second of the saved cursor: an exclusive cursor would lose them,
        # an inclusive one without the id set would take the earlier ones again.
        late = _touch(url, 2, reuse_latest=True)
        assert {t["modified"] for t in late} == {cursor["modified"]}
        second = imports.run(sid, imports.sync_job(sid, iid, "incremental_sync"), "incremental_sync")
        assert (second.processed, second.created) == (2, 0)
        cursor = imports.rows(sid, "SELECT sync_cursor FROM crm_integrations WHERE id = %s", [iid])[0][0]
        assert {t["id"] for t in late} <= set(cursor["ids"])

        third = imports.run(sid, imports.sync_job(sid, iid, "incremental_sync"), "incremental_sync")
        assert (third.status, third.processed, third.created, third.updated) == ("succeeded", 0, 0, 0)
        assert len(imports.clients(sid, "tave")) == full.created


def _manual_clients(imports: ImportEnv, sid: int, n: int) -> list[int]:
    with psycopg.connect(imports.services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(sid)])
        return [
            conn.execute(
                "INSERT INTO clients (supplier_id, source, external_id, partner1_first, partner1_last, partner1_email) "
                "VALUES (%s, 'manual', %s, %s, 'Lead', %s) RETURNING id",
                [sid, f"m-{i}", f"Lead{i}", f"lead{i}@example.com"],
            ).fetchone()[0]  # type: ignore[index]
            for i in range(n)
        ]


def test_light_blue_export_posts_each_lead_exactly_once(imports: ImportEnv, sandbox: str, faults: Any) -> None:
    sid, _ = imports.supplier()
    iid = imports.integration(sid, "lightblue", f"{sandbox}/api.php", CONFIG.lightblue_key)
    ids = _manual_clients(imports, sid, 4)
    ours = {f"wedsync-{cid}" for cid in ids}

    def inbox() -> list[dict[str, str]]:
        contacts = httpx.get(f"{sandbox}/_sandbox/lightblue/contacts").json()["contacts"]
        return [c for c in contacts if c.get("ID") in ours]

    # A 5xx before one post and a lost answer after another (the post landed; we never heard).
    faults(error_next=1, timeout_next=1, timeout_seconds=2.5, paths=["/api.php"])
    first = imports.run(sid, imports.sync_job(sid, iid, "export_to_crm"), "export_to_crm")
    assert first.status == "succeeded", first.message
    assert sorted(c["ID"] for c in inbox()) == sorted(ours)
    assert {c["ContactNameFirst"] for c in inbox()} == {f"Lead{i}" for i in range(4)}
    outcomes = imports.rows(
        sid, "SELECT outcome, count(*) FROM crm_exports WHERE integration_id = %s GROUP BY 1", [iid]
    )
    assert sum(n for _, n in outcomes) == 4

    second = imports.run(sid, imports.sync_job(sid, iid, "export_to_crm"), "export_to_crm")
    assert (second.status, second.processed) == ("succeeded", 0)
    assert len(inbox()) == 4

    # A crash between posting and recording: the records are gone, the posts are not. The retry posts
    # again with the same IDs; Light Blue refuses them as duplicates and we record them as already there.
    with psycopg.connect(imports.services.database_url) as conn:
        conn.execute("DELETE FROM crm_exports WHERE integration_id = %s", [iid])
    retry = imports.run(sid, imports.sync_job(sid, iid, "export_to_crm"), "export_to_crm")
    assert (retry.status, retry.processed) == ("succeeded", 4)
    assert len(inbox()) == 4
    assert imports.rows(sid, "SELECT DISTINCT outcome FROM crm_exports WHERE integration_id = %s", [iid]) == [
        ("already_there",)
    ]
    # A duplicate delivery of a finished job's message does nothing.
    imports.send("export_to_crm", sid, retry.job_id)
    assert imports.run(sid, imports.sync_job(sid, iid, "export_to_crm"), "export_to_crm").processed == 0
    assert len(inbox()) == 4


def test_the_api_key_never_leaks(imports: ImportEnv, sandbox: str, faults: Any) -> None:
    """Not in the Redis messages (read before any worker takes them), not in worker logs, not in any row."""
    url = redis_db_url(imports.services.redis_url, IMPORT_REDIS_DB + 1)
    store = redis.Redis.from_url(url)
    store.flushdb()
    sid, iid = _tave(imports, sandbox)
    job_id = imports.sync_job(sid, iid, "full_import")
    from dramatiq import Message
    from dramatiq.brokers.redis import RedisBroker

    broker = RedisBroker(url=url, namespace="wedsync")
    broker.enqueue(Message(queue_name="imports", actor_name="full_import", args=(sid, job_id), kwargs={}, options={}))
    broker.close()
    queued = _dump(store)
    assert str(job_id).encode() in queued  # the message is there, with ids only
    assert TAVE_KEY.encode() not in queued

    faults(rate_limit_next=1, retry_after="0.1", error_next=1)
    worker = imports.start_worker(REDIS_URL=url, LOG_LEVEL="DEBUG")
    summary = imports.wait_done(sid, job_id)
    assert summary.status in ("succeeded", "partially_succeeded"), summary.message
    worker.stop()
    log = worker.output()
    assert "import job finished" in log  # the log was captured, and it is not empty
    assert TAVE_KEY not in log
    assert TAVE_KEY.encode() not in _dump(store)
    with psycopg.connect(imports.services.database_url) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'supplier_id' "
                "AND table_schema = 'public'"
            )
        ]
        for table in tables:
            dumped = conn.execute(
                f"SELECT coalesce(string_agg(row_to_json(t)::text, ''), '') FROM {table} t WHERE supplier_id = %s",
                [sid],
            ).fetchone()
            assert dumped is not None
            assert TAVE_KEY not in dumped[0], table
        secret = conn.execute("SELECT secret_encrypted FROM crm_integrations WHERE id = %s", [iid]).fetchone()
        assert secret is not None
        assert TAVE_KEY.encode() not in bytes(secret[0])


def _dump(store: redis.Redis) -> bytes:
    out = []
    for key in store.scan_iter():
        kind = store.type(key)
        out.append(key)
        if kind == b"string":
            out.append(store.get(key) or b"")
        elif kind == b"hash":
            out.extend(b"".join(kv) for kv in store.hgetall(key).items())
        elif kind == b"list":
            out.extend(store.lrange(key, 0, -1))
        elif kind == b"set":
            out.extend(store.smembers(key))
        elif kind == b"zset":
            out.extend(store.zrange(key, 0, -1))
        elif kind == b"stream":
            for _, fields in store.xrange(key):
                out.extend(b"".join(kv) for kv in fields.items())
    return b"\n".join(out)


def test_cli_sync_prints_the_summary(imports: ImportEnv, sandbox: str) -> None:
    sid, iid = _tave(imports, sandbox)
    done = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "sync", str(iid), "--full"],
        env=imports.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    assert (summary["kind"], summary["status"]) == ("full_import", "succeeded")
    assert summary["created"] + summary["failed"] == len(WEDDING_IDS)
    again = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "sync", str(iid)],
        env=imports.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert again.returncode == 0, again.stderr
    result = json.loads(again.stdout.strip().splitlines()[-1])
    assert (result["kind"], result["processed"]) == ("incremental_sync", 0)
    assert len(imports.clients(sid, "tave")) == summary["created"]

    unknown = subprocess.run(
        [sys.executable, "-m", "webapp.cli", "sync", "999999999"],
        env=imports.env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert unknown.returncode == 2
    assert "There is no CRM integration with id 999999999." in unknown.stderr


def test_sandbox_integrations_are_repointed_not_duplicated(imports: ImportEnv) -> None:
    from core.import_service import ensure_sandbox_integrations

    sid, _ = imports.supplier()
    keys = (imports.encryption_key,)
    first = ensure_sandbox_integrations(imports.pool, sid, "http://127.0.0.1:1111", keys)
    second = ensure_sandbox_integrations(imports.pool, sid, "http://127.0.0.1:2222/", keys)
    assert first == second
    rows = imports.rows(sid, "SELECT name, provider, base_url FROM crm_integrations ORDER BY name")
    assert rows == [
        ("Sandbox Light Blue", "lightblue", "http://127.0.0.1:2222/api.php"),
        ("Sandbox Tave", "tave", "http://127.0.0.1:2222/v2"),
    ]


def test_tave_pages_are_committed_in_batches_of_whole_pages_never_across_passes(monkeypatch: Any) -> None:
    """The grouper alone: couples come back from cleaning one by one; batches hold whole pages."""
    from core.importing.records import RowError
    from core.providers.tave_models import TaveCouple, TaveCursor, TavePage
    from jobs import sources

    monkeypatch.setattr(sources, "BATCH_SIZE", 5)
    couple = TaveCouple("j", "2026-01-01T00:00:00Z", *([None] * 12))
    layout = [(1, 1, 3, 0), (1, 2, 0, 2), (1, 3, 2, 1), (1, 4, 1, 0), (2, 1, 1, 0), (2, 2, 2, 1)]  # pass, page, in, out
    pages = [
        TavePage(page=n, couples=(couple,) * kept, skipped_ids=("s",) * skipped, pass_number=p)
        for p, n, kept, skipped in layout
    ]
    pages[-1] = msgspec.structs.replace(pages[-1], is_last=True, cursor=TaveCursor("2026-01-01T00:00:00Z"))
    grouper = sources._PageGrouper()
    batches: list[Any] = []
    number = 0
    for page in pages:
        grouper.feed(page)
        for _ in page.couples:
            number += 1
            batches += grouper.add(RowError(number, "x", None, {}))
    batches += grouper.finish()
    assert [(b.checkpoint, [i.line for i in b.items], b.skipped) for b in batches] == [
        ({"page": 2}, [1, 2, 3], 2),  # pages 1-2: 3 couples + 2 skipped reach the batch size
        ({"page": 4}, [4, 5, 6], 1),  # the rest of pass 1, short: pass 2 restarts page numbers
        ({"page": 2}, [7, 8, 9], 1),  # pass 2, ending with the last page and its cursor
    ]
    assert [b.cursor and b.cursor["modified"] for b in batches] == [None, None, "2026-01-01T00:00:00Z"]
