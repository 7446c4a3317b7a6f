"""The job queue as both sides see it: Dramatiq on Redis, its namespace and queues, the workers' heartbeat, and
sending a job's message by actor name.

The web app never imports an actor module (that would pull in the workers' code): a job's message is built by
name, exactly as ``Actor.send`` builds it, and enqueued through a broker with the same namespace. The workers'
broker (``jobs.broker``) is made by ``make_broker`` too, with the workers' middleware added.
"""

from __future__ import annotations

import threading

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from core.job_lifecycle import JOB_QUEUE, JobKind
from core.settings import Settings, settings

NAMESPACE = "wedsync"
DEFAULT_QUEUE = "default"  # the ping actor's
QUEUES = (DEFAULT_QUEUE, JOB_QUEUE)  # every queue an actor listens on (a test checks this against the workers)

# Worker liveness: each worker process writes its latest beat into this sorted set (member host:pid, score unix
# time), so /health reads the freshest beat and the number of live workers in two O(log n) calls.
HEARTBEAT_KEY = "wedsync:workers:heartbeat"
HEARTBEAT_INTERVAL_S = 5.0
STALE_AFTER_S = 30.0


def make_broker(config: Settings) -> RedisBroker:
    """A RedisBroker in our namespace with Dramatiq's standard middleware (connects lazily)."""
    return RedisBroker(  # type: ignore[no-untyped-call]
        url=config.redis,
        middleware=[
            AgeLimit(),
            TimeLimit(),
            ShutdownNotifications(),
            Callbacks(),
            Pipelines(),
            Retries(min_backoff=1_000, max_backoff=60_000, max_retries=5),
        ],
        namespace=NAMESPACE,
        heartbeat_timeout=config.worker_heartbeat_timeout_ms,
        maintenance_chance=config.broker_maintenance_chance,
    )


_sender: dramatiq.Broker | None = None
_sender_lock = threading.Lock()


def _sending_broker() -> dramatiq.Broker:
    global _sender
    with _sender_lock:
        if _sender is None:
            _sender = make_broker(settings())
        return _sender


def job_message(kind: JobKind, supplier_id: int, job_id: int) -> dramatiq.Message[None]:
    """The message ``Actor.send(supplier_id, job_id)`` would build for the actor named after ``kind``."""
    return dramatiq.Message(queue_name=JOB_QUEUE, actor_name=kind, args=(supplier_id, job_id), kwargs={}, options={})


# The actor that tells a studio's phones a job ended (``jobs.notify``): on the default queue, so a notice never waits
# behind the imports queued after the job it is about.
NOTIFY_ACTOR = "notify_job_ended"


def send_job_notice(supplier_id: int, job_id: int, broker: dramatiq.Broker | None = None) -> None:
    """Ask a worker to tell the studio's subscribed phones that the job ended (ids only). Call after the job's end
    is committed."""
    message: dramatiq.Message[None] = dramatiq.Message(
        queue_name=DEFAULT_QUEUE, actor_name=NOTIFY_ACTOR, args=(supplier_id, job_id), kwargs={}, options={}
    )
    (broker or _sending_broker()).enqueue(message)


def send_job(kind: JobKind, supplier_id: int, job_id: int, broker: dramatiq.Broker | None = None) -> None:
    """Send the job's actor its message (ids only). Call after the job row is committed."""
    (broker or _sending_broker()).enqueue(job_message(kind, supplier_id, job_id))
