"""Tells a studio's phones that a job ended: a Web Push message to each subscribed browser.

Sent by ``notify_job_ended`` (payload: ids only), which ``jobs.runner`` and ``jobs.failures`` enqueue by name
(``core.queue.send_job_notice``) once a job's end is committed. It never runs in a web request and never touches
the job: a push service that is slow or down delays a notice, not an import.

- Which ends: finished (with what needs the photographer: rows to fix, changes to choose between) and failed, for
  whatever reason (a data error, the tries used up, stalled). Not a job the photographer stopped: they know.
- Each phone gets one POST through ``PublicOnlyTransport`` (the endpoint came from a browser). 404 and 410 mean the
  browser dropped the subscription: its row goes. Other failures are counted on the row and the message is tried
  again (twice at most); a try skips the phones that already have this notice.
- Nothing logged names an endpoint or a key: an endpoint is a capability to write to that phone.
"""

from __future__ import annotations

import dramatiq
import httpx
import msgspec
import structlog
from psycopg.rows import class_row

import jobs.broker  # noqa: F401 - the broker first: the actor binds to it as it is declared
from core.db.pool import tenant_sync
from core.providers.addresses import PublicOnlyTransport, UnsafeAddress
from core.push import PushKeys, PushSubscription, push_request
from core.queue import DEFAULT_QUEUE, NOTIFY_ACTOR
from core.settings import settings
from jobs.db import pool
from jobs.notices import EndedJob, notice_for

log = structlog.get_logger("wedsync.push")

SEND_TIMEOUT_S = 5.0  # a push service answers in milliseconds; a studio has at most 30 phones (webapp/queries/push.py)
GONE = frozenset({404, 410})  # RFC 8030 §7.3: the subscription expired or was removed by the browser
MAX_RETRIES = 2


class Subscription(msgspec.Struct, frozen=True):
    id: int
    endpoint: str
    p256dh: str
    auth: str


GET_JOB = """
SELECT j.id, j.kind, j.source, j.status, j.message, j.created_count, j.updated_count, j.unchanged_count,
       j.failed_count, j.finished_at,
       (SELECT count(*) FROM sync_job_conflicts c WHERE c.job_id = j.id AND c.resolved IS NULL)::int AS conflicts
FROM sync_jobs j WHERE j.id = %(id)s
"""
# A retry skips the phones that took this notice already (a success since the job ended).
SUBSCRIPTIONS = """
SELECT id, endpoint, p256dh, auth FROM push_subscriptions
WHERE last_success_at IS NULL OR %(finished)s::timestamptz IS NULL OR last_success_at < %(finished)s
ORDER BY id
"""
MARK_SENT = "UPDATE push_subscriptions SET last_success_at = now(), failure_count = 0 WHERE id = %(id)s"
# A phone whose push service refused this many notices in a row (none taken since) is given up on: it was wiped, or
# its browser uninstalled, without the service saying 410.
GIVE_UP_AFTER = 20
MARK_FAILED = "UPDATE push_subscriptions SET failure_count = failure_count + 1 WHERE id = %(id)s"
GIVE_UP = f"DELETE FROM push_subscriptions WHERE id = %(id)s AND failure_count >= {GIVE_UP_AFTER}"
FORGET = "DELETE FROM push_subscriptions WHERE id = %(id)s"


def _client() -> httpx.Client:
    transport = PublicOnlyTransport(httpx.HTTPTransport(), allow_local=settings().allow_local_push_urls)
    return httpx.Client(transport=transport, timeout=SEND_TIMEOUT_S, follow_redirects=False)


class NoticeNotDelivered(Exception):
    """Some phones' push services did not take the notice (timeout, 5xx, 429): the message is tried again."""


def send_notices(supplier_id: int, job_id: int) -> dict[str, int]:
    """Send the job's notice to each of the studio's phones that does not have it yet; counts by outcome."""
    with tenant_sync(pool(), supplier_id) as conn:
        with conn.cursor(row_factory=class_row(EndedJob)) as cur:
            job = cur.execute(GET_JOB, {"id": job_id}).fetchone()
        notice = notice_for(job) if job is not None else None
        if job is None or notice is None:
            return {}
        with conn.cursor(row_factory=class_row(Subscription)) as cur:
            subs = cur.execute(SUBSCRIPTIONS, {"finished": job.finished_at}).fetchall()
    outcome = {"sent": 0, "gone": 0, "failed": 0}
    if not subs:
        return outcome
    config = settings()
    with _client() as client:
        for sub in subs:
            request = push_request(PushSubscription(sub.endpoint, PushKeys(sub.p256dh, sub.auth)), notice, config)
            try:
                status = client.send(request).status_code
            except (httpx.HTTPError, UnsafeAddress) as exc:
                status, error = None, type(exc).__name__
            else:
                error = f"HTTP {status}"
            statements: tuple[str, ...]
            if status is not None and 200 <= status < 300:
                result, statements = "sent", (MARK_SENT,)
            elif status in GONE:
                result, statements = "gone", (FORGET,)
            else:
                result, statements = "failed", (MARK_FAILED, GIVE_UP)
                # The subscription's id and the push service's answer, never its endpoint or keys.
                log.warning("push notice not delivered", subscription=sub.id, job_id=job_id, error=error)
            outcome[result] += 1
            with tenant_sync(pool(), supplier_id) as conn:
                for statement in statements:
                    conn.execute(statement, {"id": sub.id})
    return outcome


def _retry_when(retries: int, exc: BaseException) -> bool:
    return isinstance(exc, NoticeNotDelivered) and retries < MAX_RETRIES


@dramatiq.actor(
    actor_name=NOTIFY_ACTOR,
    queue_name=DEFAULT_QUEUE,
    retry_when=_retry_when,
    min_backoff=5_000,  # a push service's 5xx or 429 is usually over in seconds
    max_backoff=120_000,
    time_limit=240_000,  # 30 phones whose push service times out, and some
)
def notify_job_ended(supplier_id: int, job_id: int) -> None:
    outcome = send_notices(supplier_id, job_id)
    if outcome:
        log.info("push notices", job_id=job_id, **outcome)
    if outcome.get("failed"):
        raise NoticeNotDelivered(f"{outcome['failed']} push notice(s) not delivered")
