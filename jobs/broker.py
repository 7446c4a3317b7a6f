"""The Dramatiq broker. Import this module before any actor module (``jobs.actors`` does).

Dramatiq binds actors to the global broker at import time, so this is the one module with an
import-time effect: it builds the RedisBroker (which connects lazily) from ``REDIS_URL``.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from jobs.heartbeat import WorkerHeartbeat

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# How long a worker may be silent before its unacknowledged messages go to another worker: the
# window in which a job whose worker was killed waits before it is redelivered and resumed.
HEARTBEAT_TIMEOUT_MS = int(os.environ.get("WORKER_HEARTBEAT_TIMEOUT_MS", "30000"))

broker = RedisBroker(  # type: ignore[no-untyped-call]
    url=REDIS_URL,
    middleware=[
        AgeLimit(),
        TimeLimit(),
        ShutdownNotifications(),
        Callbacks(),
        Pipelines(),
        Retries(min_backoff=1_000, max_backoff=60_000, max_retries=5),
    ],
    namespace="wedsync",
    heartbeat_timeout=HEARTBEAT_TIMEOUT_MS,
)
broker.add_middleware(WorkerHeartbeat(REDIS_URL))
dramatiq.set_broker(broker)
