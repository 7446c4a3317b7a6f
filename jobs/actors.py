"""Dramatiq actors. Payloads carry ids only; secrets are read and decrypted inside the actor.

Each job actor is named after its job kind (``core.job_lifecycle.JobKind``: the web app sends it by that name), is
bound to a ``sync_jobs`` row and delegates to ``jobs.runner``. A transient failure (database, Redis, network)
raises ``RetryLater`` with a capped exponential back-off; the job resumes from its checkpoint on the next delivery.
A data error ends the job at once (``jobs.errors`` tells them apart), and a message Dramatiq gives up on anyway
ends its job ``failed`` (``jobs.failures``).
"""

from __future__ import annotations

import time
from typing import Any

import dramatiq
import httpx
from dramatiq.rate_limits import ConcurrentRateLimiter, WindowRateLimiter
from dramatiq.rate_limits.backends import RedisBackend

import jobs.broker  # noqa: F401 - the broker first: actors bind to it as they are declared
from core import job_lifecycle as store
from core.db.pool import tenant_sync
from core.job_lifecycle import JOB_QUEUE
from core.providers.lightblue import LightBlueClient, LightBlueLead
from core.providers.tave import TaveClient
from core.queue import DEFAULT_QUEUE
from core.security import SecretBox
from core.settings import settings
from jobs.db import pool
from jobs.errors import JobFailed, RetryLater, verdict
from jobs.failures import TRACKS_JOB
from jobs.publishing import publisher
from jobs.runner import CancelWatch, KeptPages, Reporter, run_job, upload_batches
from jobs.sources import Batch, tave_batches

LOAD_INTEGRATION = """
SELECT i.provider, i.base_url, i.secret_encrypted, i.sync_cursor, s.default_region
FROM crm_integrations i JOIN suppliers s ON s.id = i.supplier_id WHERE i.id = %s
"""
LEADS_TO_EXPORT = """
SELECT c.id, c.partner1_first, c.partner1_last, c.partner1_email, c.partner1_phone, c.wedding_date
FROM clients c
WHERE c.supplier_id = app_supplier_id() AND c.source = 'manual'
  AND NOT EXISTS (SELECT 1 FROM crm_exports e WHERE e.integration_id = %(integration)s AND e.client_id = c.id)
ORDER BY c.id
"""
RECORD_EXPORT = """
INSERT INTO crm_exports (supplier_id, integration_id, client_id, outcome)
VALUES (app_supplier_id(), %s, %s, %s) ON CONFLICT DO NOTHING
"""

# Shared by every worker on every machine, through Redis.
CONCURRENT_JOBS_PER_ACCOUNT = 2
READING_REPORT_S = 3.0  # how often, at most, a CRM import says which pages it is reading
PROVIDER_NAMES = {"tave": "Tave", "lightblue": "Light Blue", "honeybook": "HoneyBook"}
_limiter_backend: RedisBackend | None = None


def _backend() -> RedisBackend:
    global _limiter_backend
    if _limiter_backend is None:
        _limiter_backend = RedisBackend(url=settings().redis)
    return _limiter_backend


class PacedTransport(httpx.HTTPTransport):
    """Holds each request until the account's per-second window has room (Dramatiq's Redis limiter)."""

    def __init__(self, integration_id: int) -> None:
        super().__init__()
        self._limiter = WindowRateLimiter(  # type: ignore[no-untyped-call]
            _backend(), f"crm-requests:{integration_id}", limit=settings().crm_requests_per_s, window=1
        )

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        while True:
            with self._limiter.acquire(raise_on_failure=False) as acquired:
                if acquired:
                    return super().handle_request(request)
            time.sleep(0.05)  # the window has no notification to wait on


class Integration:
    def __init__(self, supplier_id: int, integration_id: int) -> None:
        with tenant_sync(pool(), supplier_id) as conn:
            row = conn.execute(LOAD_INTEGRATION, [integration_id]).fetchone()
        if row is None:
            raise JobFailed("This connection was removed, so there is nothing to import from or send to.")
        self.id = integration_id
        self.provider, base_url, secret, self.cursor, self.region = row
        name = PROVIDER_NAMES.get(self.provider, self.provider)
        if not base_url or secret is None:  # a card for file imports only (e.g. Light Blue's CSV export)
            raise JobFailed(
                f"This {name} connection has no address or API key for WedSync to use, so nothing was read or sent. "
                f"Connect {name} with its API key in Integrations, then try again."
            )
        self.base_url: str = base_url
        try:
            self.secret = SecretBox(settings().encryption_keys).decrypt(bytes(secret))
        except ValueError:
            raise JobFailed(
                f"WedSync can't read the API key saved for this {name} connection (it was saved under an encryption "
                f"key this server no longer has). Paste the key again in Integrations, then try again."
            ) from None

    def report_wait(self, supplier_id: int, job_id: int, reporter: Reporter) -> Any:
        def on_wait(reason: str, seconds: float) -> None:
            with tenant_sync(pool(), supplier_id) as conn:
                store.set_message(conn, job_id, reason)
            reporter.report_current(pool())

        return on_wait

    def report_reading(self, supplier_id: int, job_id: int, reporter: Reporter, watch: CancelWatch) -> Any:
        """Before the first couple can be cleaned, every contact, job link and event is read (a 100,000-client
        studio is ~5,000 pages: minutes at the polite pace). The phone says what is being read, at most every
        few seconds, instead of "Starting…" all that time. Job pages are not announced: committed batches are.
        Each page read also looks (at most every second) whether the photographer pressed Stop."""
        last = [0.0]

        def on_read(label: str, page: int, pages: int) -> None:
            watch.check()
            now = time.monotonic()
            if label in ("jobs", "recent jobs") or now - last[0] < READING_REPORT_S:
                return
            last[0] = now
            line = f"Reading your Tave {label}: page {page:,} of {max(page, pages):,}."
            with tenant_sync(pool(), supplier_id) as conn:
                store.set_status_line(conn, job_id, line)
            reporter.report_current(pool())

        return on_read


def _account_slot(integration_id: int) -> ConcurrentRateLimiter:
    return ConcurrentRateLimiter(  # type: ignore[no-untyped-call]
        _backend(), f"crm-jobs:{integration_id}", limit=CONCURRENT_JOBS_PER_ACCOUNT, ttl=3_600_000
    )


def _crm_job(supplier_id: int, job_id: int) -> None:
    def batches(job: store.JobRow, reporter: Reporter) -> Any:
        assert job.integration_id is not None
        integration = Integration(supplier_id, job.integration_id)
        watch = CancelWatch(pool(), supplier_id, job_id)
        client = TaveClient(
            integration.base_url,
            integration.secret,
            sleep=watch.sleep,  # a Retry-After of minutes is waited out in one-second steps that look for Stop
            on_wait=integration.report_wait(supplier_id, job_id, reporter),
            on_read=integration.report_reading(supplier_id, job_id, reporter, watch),
            pages=KeptPages(pool(), supplier_id, job_id),  # a second attempt resumes the reading where it stopped
            transport=PacedTransport(integration.id),
            timeout=settings().crm_timeout_s,
            allow_local=settings().allow_local_crm_urls,
        )
        return tave_batches(
            client,
            kind=job.kind,
            region=integration.region,
            checkpoint=job.checkpoint,
            saved_cursor=integration.cursor,
        )

    with tenant_sync(pool(), supplier_id) as conn:
        job = store.load(conn, job_id)
    if job is None or job.integration_id is None:
        return
    with _account_slot(job.integration_id).acquire(raise_on_failure=True):
        run_job(pool(), supplier_id, job_id, batches, emit=publisher().emit)


RETRIES_WHILE_ACCOUNT_BUSY = 30  # the account's job slots are taken by its other jobs: wait, up to ~2.5 hours


def retry_when(retries: int, exc: BaseException) -> bool:
    """Dramatiq's verdict on a failed delivery. ``RetryLater``: the runner counted the job's tries and said when;
    a data error: never (the job row says why, or ``DeadJobRecorder`` settles it); anything else (the database
    down before the job could start): as many tries as a job gets, then ``DeadJobRecorder`` ends it failed."""
    if isinstance(exc, RetryLater):
        return retries < 4 * settings().job_max_attempts  # a bound, should attempts ever stop being counted
    if isinstance(exc, dramatiq.RateLimitExceeded):
        return retries < RETRIES_WHILE_ACCOUNT_BUSY
    return verdict(exc) == "transient" and retries < settings().job_max_attempts - 1


_OPTIONS: dict[str, Any] = {
    "min_backoff": 2_000,
    "max_backoff": 300_000,
    "time_limit": 3_600_000,
    "retry_when": retry_when,
    TRACKS_JOB: True,
}


@dramatiq.actor(queue_name=JOB_QUEUE, **_OPTIONS)
def full_import(supplier_id: int, job_id: int) -> None:
    _crm_job(supplier_id, job_id)


@dramatiq.actor(queue_name=JOB_QUEUE, **_OPTIONS)
def incremental_sync(supplier_id: int, job_id: int) -> None:
    _crm_job(supplier_id, job_id)


@dramatiq.actor(queue_name=JOB_QUEUE, **_OPTIONS)
def file_import(supplier_id: int, job_id: int) -> None:
    def batches(job: store.JobRow, reporter: Reporter) -> Any:
        return upload_batches(pool(), job)

    run_job(pool(), supplier_id, job_id, batches, emit=publisher().emit)


@dramatiq.actor(queue_name=JOB_QUEUE, **_OPTIONS)
def export_to_crm(supplier_id: int, job_id: int) -> None:
    """Post leads created in WedSync to Light Blue, each once (our client id is Light Blue's ID)."""

    def batches(job: store.JobRow, reporter: Reporter) -> Any:
        assert job.integration_id is not None
        integration = Integration(supplier_id, job.integration_id)
        client = LightBlueClient(
            integration.base_url,
            integration.secret,
            on_wait=integration.report_wait(supplier_id, job_id, reporter),
            timeout=settings().crm_timeout_s,
            allow_local=settings().allow_local_crm_urls,
        )
        with tenant_sync(pool(), supplier_id) as conn:
            leads = conn.execute(LEADS_TO_EXPORT, {"integration": integration.id}).fetchall()
        for cid, first, last, email, phone, wedding in leads:
            result = client.post_lead(
                LightBlueLead(
                    client_id=str(cid),
                    first_name=first or None,
                    last_name=last or None,
                    email=email,
                    mobile_phone=phone,
                    wedding_date=wedding.isoformat() if wedding else None,
                )
            )
            with tenant_sync(pool(), supplier_id) as conn:
                conn.execute(RECORD_EXPORT, [integration.id, cid, result.outcome])
            yield Batch([], {"client_id": cid}, total=len(leads), skipped=1)

    run_job(pool(), supplier_id, job_id, batches, emit=publisher().emit)


@dramatiq.actor(queue_name=DEFAULT_QUEUE, max_retries=3, time_limit=60_000)
def ping(supplier_id: int, job_id: int) -> None:
    """A round trip through Redis and a worker, used by tests and the operator to prove the queue works."""
    with tenant_sync(pool(), supplier_id) as conn:
        store.mark_ping_done(conn, job_id)
