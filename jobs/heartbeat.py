"""Worker liveness: each worker process writes its latest heartbeat into one Redis sorted set
(``core.queue.HEARTBEAT_KEY``, which ``/health`` reads), and hands a dead worker's messages back to the queues within
about the heartbeat timeout (``DeadWorkerReclaimer``)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

import dramatiq
import redis
from dramatiq.brokers.redis import RedisBroker
from dramatiq.common import current_millis

from core.queue import HEARTBEAT_INTERVAL_S as INTERVAL_S
from core.queue import HEARTBEAT_KEY, STALE_AFTER_S


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class WorkerHeartbeat(dramatiq.Middleware):
    def __init__(self, redis_url: str) -> None:
        self.redis_url = redis_url
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        self._stop.clear()
        self._thread = threading.Thread(target=self._beat, name="wedsync-heartbeat", daemon=True)
        self._thread.start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=INTERVAL_S)
        with contextlib.suppress(redis.RedisError):  # Redis is gone too; the entry ages out
            redis.Redis.from_url(self.redis_url).zrem(HEARTBEAT_KEY, worker_name())

    def _beat(self) -> None:
        client = redis.Redis.from_url(self.redis_url, socket_timeout=2)
        name = worker_name()
        while not self._stop.is_set():
            try:
                now = time.time()
                with client.pipeline() as pipe:
                    pipe.zadd(HEARTBEAT_KEY, {name: now})
                    pipe.zremrangebyscore(HEARTBEAT_KEY, "-inf", now - 10 * STALE_AFTER_S)
                    pipe.execute()
            except redis.RedisError:
                pass  # keep beating; /health shows the gap while Redis is away
            self._stop.wait(INTERVAL_S)


def reclaim_interval_s(heartbeat_timeout_ms: int) -> float:
    """How often a worker hands back the messages of workers silent for the heartbeat timeout: a tenth of it, at
    most a second, so a killed worker's job is redelivered within about the timeout (see ``DeadWorkerReclaimer``)."""
    return min(1.0, heartbeat_timeout_ms / 10_000)


def reclaim_dead_workers(broker: RedisBroker) -> None:
    """Dramatiq's Redis maintenance on every queue, now: the unacknowledged messages of workers whose broker
    heartbeat is older than ``heartbeat_timeout`` go back to their queues. The harmless ``qsize`` command carries it,
    with the maintenance flag forced on; the call also refreshes this worker's own broker heartbeat."""
    dispatch = broker.scripts["dispatch"]
    unpack = broker._max_unpack_size()  # type: ignore[no-untyped-call]  # the broker's own chunk size for the Lua stack
    for queue in sorted(broker.get_declared_queues() | broker.get_declared_delay_queues()):
        args = [
            "qsize", current_millis(), queue, broker.broker_id, broker.heartbeat_timeout, broker.dead_message_ttl,
            1, unpack,
        ]  # fmt: skip
        dispatch(args=args, keys=[broker.namespace])


class DeadWorkerReclaimer(dramatiq.Middleware):
    """Redelivers a dead worker's messages within about ``WORKER_HEARTBEAT_TIMEOUT_MS``.

    Dramatiq's Redis broker hands a dead worker's messages back only in "maintenance", which it runs on a random
    share of *fetches* (``BROKER_MAINTENANCE_CHANCE``), and only for the queue fetched from. A worker fetches from a
    queue only when it has room below its prefetch and backs off up to a second between empty fetches, and a
    busy one does not fetch at all. So a killed worker's import waited the heartbeat timeout plus a random number
    of fetches for a maintenance round on the ``imports`` queue, from whichever worker had room: 31-60 s (median
    36) with a 30 s timeout. Here each worker runs that maintenance on every queue every ``reclaim_interval_s``
    (a tenth of the timeout, at most 1 s), whatever its load, so the message is back in the queue within
    timeout + interval and taken by the next fetch (at most a second later)."""

    def __init__(self, heartbeat_timeout_ms: int) -> None:
        self.interval_s = reclaim_interval_s(heartbeat_timeout_ms)
        self._stop = threading.Event()

    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        if isinstance(broker, RedisBroker):
            self._stop.clear()
            threading.Thread(target=self._loop, args=(broker,), name="wedsync-reclaim", daemon=True).start()

    def before_worker_shutdown(self, broker: Any, worker: Any) -> None:
        self._stop.set()

    def _loop(self, broker: RedisBroker) -> None:
        while not self._stop.wait(self.interval_s):
            # Redis away: so are the fetches that would need the messages; the next round tries again.
            with contextlib.suppress(redis.RedisError):
                reclaim_dead_workers(broker)
