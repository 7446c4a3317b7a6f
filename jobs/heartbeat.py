"""Worker liveness: each worker process writes its latest heartbeat into one Redis sorted set
(``core.queue.HEARTBEAT_KEY``, which ``/health`` reads)."""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
from typing import Any

import dramatiq
import redis

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
