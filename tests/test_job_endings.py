"""Every job ends: data errors are never retried, transient ones are retried and then end the job ``failed``.

A bad field loses the field, not the client; a deterministic failure (an undecryptable CRM key, an integration
with no address) fails the job at once with plain words; a transient one (a lock held past the statement timeout
here) is retried with back-off and, when the tries run out, ends the job ``failed`` with what was committed kept,
and "Try again" then finishes it.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from cryptography.fernet import Fernet
from psycopg import sql
from psycopg_pool import PoolTimeout

from core.importing.records import CLIENT_MAX_CHARS
from core.job_lifecycle import REQUEUE_FAILED
from core.security import SecretBox
from jobs.errors import DATABASE_DOWN, JobFailed, plain_reason, stopped_message, verdict
from tests.fixtures import Services
from tests.test_import_support import ImportEnv, couples_csv, import_env_fixture, write_csv

# Three tries 100-200 ms apart, and a statement that waits over a second on a lock is a transient failure.
WORKER_ENV = {
    "JOB_MAX_ATTEMPTS": "3",
    "JOB_RETRY_MIN_BACKOFF_MS": "100",
    "JOB_RETRY_MAX_BACKOFF_MS": "200",
    "WORKER_STATEMENT_TIMEOUT_MS": "1000",
}


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Iterator[ImportEnv]:
    for env in import_env_fixture(tmp_path_factory, services, **WORKER_ENV):
        env.start_worker()
        yield env


def test_client_limits_are_the_tables_checks(services: Services) -> None:
    """CLIENT_MAX_CHARS is what the cleaning path shortens and refuses by; the CHECKs are what PostgreSQL enforces."""
    with psycopg.connect(services.database_url) as conn:
        defs = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'clients'::regclass AND contype = 'c'"
        ).fetchall()
    checks = {m[0]: int(m[1]) for (d,) in defs for m in re.findall(r"length\((\w+)\) <= (\d+)", d)}
    assert checks == CLIENT_MAX_CHARS
    # Every word of search_words comes from one column, so no column can hold a word PostgreSQL refuses.
    assert max(CLIENT_MAX_CHARS.values()) * 4 < 2046


def test_an_overlong_venue_or_lead_source_loses_the_field_not_the_client(imports: ImportEnv, tmp_path: Path) -> None:
    sid, _ = imports.supplier()
    word = "Barn" * 800  # one 3,200-character word: PostgreSQL's "word is too long" in search_words, before the CHECK
    words = " ".join(["Orchard"] * 60)  # 479 characters of words: over the venue CHECK only
    path = write_csv(
        tmp_path / "long.csv",
        ["ID", "First Name", "Last Name", "Venue", "Lead Source"],
        [
            ["L-1", "Ada", "Long", word, "Instagram"],
            ["L-2", "Bo", "Words", words, "x" * 250],
            ["L-3", "Cy", "Fine", "Elmore Court", "Friend"],
        ],
    )
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 3, 0), summary.message
    rows = {r["external_id"]: r for r in imports.clients(sid)}
    assert rows["L-1"]["venue"] == word[:300]
    assert rows["L-1"]["lead_source"] == "Instagram"
    assert rows["L-2"]["venue"] == " ".join(["Orchard"] * 37)  # cut at the last word break within 300 characters
    assert rows["L-2"]["lead_source"] == "x" * 200
    assert (rows["L-3"]["venue"], rows["L-3"]["lead_source"]) == ("Elmore Court", "Friend")
    assert imports.errors(sid, summary.job_id) == [
        (2, "venue", "Row 2: the venue was 3,200 characters long, more than the 300 a client's venue can have, "
         "so we kept only its start"),
        (3, "venue", "Row 3: the venue was 479 characters long, more than the 300 a client's venue can have, "
         "so we kept only its start"),
        (3, "lead_source", "Row 3: the lead source was 250 characters long, more than the 200 a client's lead "
         "source can have, so we kept only its start"),
    ]  # fmt: skip


def _pg_error(services: Services, *statements: str) -> psycopg.Error:
    with psycopg.connect(services.database_url, autocommit=True) as conn:
        for sql in statements[:-1]:
            conn.execute(sql)
        with pytest.raises(psycopg.Error) as info:
            conn.execute(statements[-1])
    return info.value


def test_what_is_tried_again_and_what_ends_the_job_at_once(services: Services) -> None:
    """Errors as PostgreSQL and the pool really raise them, sorted into data errors and transient ones."""
    data = {
        "a value too long for its column": ("CREATE TEMP TABLE t (v varchar(1))", "INSERT INTO t VALUES ('xx')"),
        "a value of the wrong type": ("SELECT 'not a date'::date",),
        "a word too long for search_words": ("SELECT search_words(repeat('a', 3000))",),
        "a CHECK violated": ("CREATE TEMP TABLE c (v int CHECK (v > 0))", "INSERT INTO c VALUES (-1)"),
    }
    for what, statements in data.items():
        assert verdict(_pg_error(services, *statements)) == "data", what
    timeout = _pg_error(services, "SET statement_timeout = 10", "SELECT pg_sleep(1)")
    assert verdict(timeout) == "transient"
    assert plain_reason(timeout) == "The database took too long to answer."
    assert verdict(PoolTimeout("couldn't get a connection after 30.00 sec")) == "transient"
    assert plain_reason(PoolTimeout()) == DATABASE_DOWN
    assert stopped_message(PoolTimeout()) == (
        "This import stopped after several tries: WedSync couldn't reach its database. "
        "Everything imported before that is kept; you can try again."
    )
    assert verdict(JobFailed("no address")) == "data"
    assert verdict(ValueError("stored secret cannot be decrypted")) == "data"
    assert verdict(TypeError("Invalid type for url. Expected str or httpx.URL, got <class 'NoneType'>: None")) == "data"


def test_an_undecryptable_crm_key_fails_the_job_at_once(imports: ImportEnv) -> None:
    sid, _ = imports.supplier()
    other_key = SecretBox((Fernet.generate_key().decode(),)).encrypt("tave-key")  # not a key this worker has
    with imports.scoped(sid) as conn:
        row = conn.execute(
            "INSERT INTO crm_integrations (supplier_id, provider, name, base_url, secret_encrypted) "
            "VALUES (%s, 'tave', 'Tave', 'http://127.0.0.1:9/v2', %s) RETURNING id",
            [sid, other_key],
        ).fetchone()
    assert row is not None
    summary = imports.run(sid, imports.sync_job(sid, row[0], "full_import"), "full_import")
    assert (summary.status, summary.attempts, summary.processed) == ("failed", 1, 0)
    assert summary.message == (
        "WedSync can't read the API key saved for this Tave connection (it was saved under an encryption key this "
        "server no longer has). Paste the key again in Integrations, then try again."
    )


def test_sending_leads_from_a_card_with_no_address_fails_the_job_at_once(imports: ImportEnv) -> None:
    sid, _ = imports.supplier()
    with imports.scoped(sid) as conn:
        row = conn.execute(
            "INSERT INTO crm_integrations (supplier_id, provider, name, base_url, secret_encrypted) "
            "VALUES (%s, 'lightblue', 'Light Blue files', NULL, NULL) RETURNING id",
            [sid],
        ).fetchone()
        conn.execute(
            "INSERT INTO clients (supplier_id, source, external_id, partner1_first) VALUES (%s, 'manual', 'm1', 'Ada')",
            [sid],
        )
    assert row is not None
    summary = imports.run(sid, imports.sync_job(sid, row[0], "export_to_crm"), "export_to_crm")
    assert (summary.status, summary.attempts, summary.processed) == ("failed", 1, 0)
    assert summary.message == (
        "This Light Blue connection has no address or API key for WedSync to use, so nothing was read or sent. "
        "Connect Light Blue with its API key in Integrations, then try again."
    )


def test_a_job_whose_tries_run_out_ends_failed_keeps_its_rows_and_can_be_tried_again(
    imports: ImportEnv, tmp_path: Path
) -> None:
    """A client of the second batch is locked by another transaction for longer than the worker's statement
    timeout: every try commits nothing more and fails in the same place, the third ends the job failed, and once
    the lock is gone "Try again" finishes it from the checkpoint."""
    rows = 3_000
    sid, _ = imports.supplier()
    path = couples_csv(tmp_path / "locked.csv", rows)
    with imports.scoped(sid) as conn:
        conn.execute(
            "INSERT INTO clients (supplier_id, source, external_id, partner1_first) VALUES (%s, 'csv', 'c2500', 'Old')",
            [sid],
        )
    job_id = imports.file_job(sid, path)
    with psycopg.connect(imports.services.database_url) as locker:
        locker.execute("SELECT 1 FROM clients WHERE supplier_id = %s AND external_id = 'c2500' FOR UPDATE", [sid])
        summary = imports.run(sid, job_id)
        assert summary.status == "failed", summary.message
        assert summary.message == (
            "This import stopped after several tries: The database took too long to answer. "
            "Everything imported before that is kept; you can try again."
        )
        assert (summary.attempts, summary.processed, summary.created) == (3, 2_000, 2_000)
        locker.rollback()

    with imports.scoped(sid) as conn:  # what the "Try again" button does (webapp.routes.jobs)
        assert conn.execute(REQUEUE_FAILED, {"sid": sid, "id": job_id}).fetchall() == [(job_id, "file_import")]
    done = imports.run(sid, job_id)
    assert (done.status, done.processed, done.created, done.updated) == ("succeeded", rows, rows - 1, 1)
    assert imports.rows(sid, "SELECT count(*), count(DISTINCT external_id) FROM clients") == [(rows, rows)]


@pytest.fixture
def failing_start(imports: ImportEnv) -> Iterator[Any]:
    """Makes PostgreSQL refuse to mark one job running, with a given SQLSTATE: a failure before the runner has the
    job in hand, which only Dramatiq's verdict (DeadJobRecorder, after Retries) can settle."""
    name = f"fail_start_{secrets.token_hex(4)}"
    url = imports.services.database_url

    def fail(job_id: int, sqlstate: str) -> Any:
        """Returns a function telling how many times the job was tried (a sequence: it survives the rollback)."""
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(sql.SQL("CREATE SEQUENCE {s}").format(s=sql.Identifier(name)))
            conn.execute(
                sql.SQL(
                    "CREATE FUNCTION {f}() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$ BEGIN "
                    "IF NEW.id = {job} AND NEW.status = 'running' THEN PERFORM nextval({seq}); "
                    "RAISE EXCEPTION 'injected' USING ERRCODE = {state}; END IF; RETURN NEW; END $$"
                ).format(
                    f=sql.Identifier(name), job=sql.Literal(job_id), seq=sql.Literal(name), state=sql.Literal(sqlstate)
                )
            )
            conn.execute(
                sql.SQL("CREATE TRIGGER {t} BEFORE UPDATE ON sync_jobs FOR EACH ROW EXECUTE FUNCTION {f}()").format(
                    t=sql.Identifier(name), f=sql.Identifier(name)
                )
            )

        def tries() -> int:
            with psycopg.connect(url) as conn:
                row = conn.execute(sql.SQL("SELECT last_value, is_called FROM {s}").format(s=sql.Identifier(name)))
                last, called = row.fetchone()  # type: ignore[misc]
            return int(last) if called else 0

        return tries

    yield fail
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP TRIGGER IF EXISTS {t} ON sync_jobs").format(t=sql.Identifier(name)))
        conn.execute(sql.SQL("DROP FUNCTION IF EXISTS {f}()").format(f=sql.Identifier(name)))
        conn.execute(sql.SQL("DROP SEQUENCE IF EXISTS {s}").format(s=sql.Identifier(name)))


def test_a_job_that_cannot_even_start_ends_failed_once_its_tries_run_out(
    imports: ImportEnv, tmp_path: Path, failing_start: Any
) -> None:
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, couples_csv(tmp_path / "few.csv", 10))
    tries = failing_start(job_id, "40001")  # a serialisation failure: transient
    summary = imports.run(sid, job_id)
    assert tries() == int(WORKER_ENV["JOB_MAX_ATTEMPTS"])
    assert (summary.status, summary.attempts, summary.processed) == ("failed", 0, 0)
    assert summary.message == (
        "This import stopped after several tries: The database was busy with another change to the same clients. "
        "Everything imported before that is kept; you can try again."
    )


def test_a_data_error_before_the_job_starts_is_not_retried(
    imports: ImportEnv, tmp_path: Path, failing_start: Any
) -> None:
    sid, _ = imports.supplier()
    job_id = imports.file_job(sid, couples_csv(tmp_path / "few.csv", 10))
    tries = failing_start(job_id, "22001")  # a value too long: the same on every try
    summary = imports.run(sid, job_id)
    assert tries() == 1
    assert (summary.status, summary.attempts) == ("failed", 0)
    assert summary.message == (
        "Part of this import couldn't be saved, and trying again won't change that. "
        "Everything imported before that is kept."
    )
