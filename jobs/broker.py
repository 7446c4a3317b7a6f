"""The Dramatiq broker. Import this module before any actor module (``jobs.actors`` does).

Dramatiq binds actors to the global broker at import time, so this is the one module with an
import-time effect: it builds the RedisBroker (which connects lazily) from ``REDIS_URL``.
"""

from __future__ import annotations

import os

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.middleware import AgeLimit, Callbacks, Pipelines, Retries, ShutdownNotifications, TimeLimit

from jobs.cleaning_pool import StartCleaningPool
from jobs.failures import DeadJobRecorder
from jobs.heartbeat import WorkerHeartbeat
from jobs.housekeeping import Housekeeping
from jobs.metrics import JobDurations

REDIS_URL = os.environ.get("REDIS_URL", "redis://127.0.0.1:6379/0")
# How long a worker may be silent before its unacknowledged messages go to another worker: the
# window in which a job whose worker was killed waits before it is redelivered and resumed.
HEARTBEAT_TIMEOUT_MS = int(os.environ.get("WORKER_HEARTBEAT_TIMEOUT_MS", "30000"))
# Dead workers' messages are handed back only during "maintenance", which Dramatiq runs on a random
# share of fetches: its default (1,000 per million) meant a killed worker's import waited minutes, not
# the heartbeat timeout, to be redelivered. 10% of fetches costs two cheap sorted-set reads each.
MAINTENANCE_CHANCE = int(os.environ.get("BROKER_MAINTENANCE_CHANCE", "100000"))

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
    maintenance_chance=MAINTENANCE_CHANCE,
)
broker.add_middleware(WorkerHeartbeat(REDIS_URL))
broker.add_middleware(Housekeeping(REDIS_URL))
broker.add_middleware(DeadJobRecorder())
broker.add_middleware(JobDurations())
broker.add_middleware(StartCleaningPool())
dramatiq.set_broker(broker)
