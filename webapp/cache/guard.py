"""Every Redis call on the cache and session path goes through a ``RedisGuard``: a tight timeout, errors
swallowed and counted, and a circuit breaker so a dead Redis costs one failed call per cool-down, not one
per request.

Hand-written on purpose: the breaker is a counter and a timestamp read on the event loop thread.
``aiobreaker`` (last release 2021) and ``pybreaker`` raise on an open circuit and keep listeners and state
storage we do not need; here an open circuit must be a cheap ``False`` the caller answers from memory or
PostgreSQL instead.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from redis.exceptions import RedisError

from core.metrics import CACHE_ERRORS

T = TypeVar("T")

# A local Redis answers in well under a millisecond; a second means it is gone. Not less: on a saturated machine
# the event loop itself adds hundreds of ms, and opening the circuit then would only move load to PostgreSQL.
CALL_TIMEOUT_S = 1.0
FAILURES_TO_OPEN = 5
COOL_DOWN_S = 2.0


class RedisDown(Exception):
    """Redis did not answer (error, timeout, or the circuit is open); the caller degrades."""


class Breaker:
    """Closed → open after ``threshold`` failures in a row; after ``cool_down`` one trial call goes through
    (half-open): success closes it, failure opens it for another cool-down."""

    def __init__(self, threshold: int = FAILURES_TO_OPEN, cool_down: float = COOL_DOWN_S) -> None:
        self.threshold, self.cool_down = threshold, cool_down
        self.failures = 0
        self.open_until = 0.0

    @property
    def is_open(self) -> bool:
        return self.failures >= self.threshold

    def allow(self) -> bool:
        if not self.is_open:
            return True
        now = time.monotonic()
        if now >= self.open_until:
            self.open_until = now + self.cool_down  # one trial per cool-down; the others keep degrading
            return True
        return False

    def success(self) -> None:
        self.failures = 0

    def failure(self) -> None:
        self.failures += 1
        if self.failures >= self.threshold:
            self.open_until = time.monotonic() + self.cool_down


class RedisGuard:
    def __init__(self, timeout: float = CALL_TIMEOUT_S, breaker: Breaker | None = None) -> None:
        self.timeout = timeout
        self.breaker = breaker or Breaker()

    async def run(
        self, op: str, call: Callable[[], Awaitable[T]], *, force: bool = False, limit_s: float | None = None
    ) -> T:
        """``await call()`` within the timeout, or raise ``RedisDown`` (counted in ``wedsync_cache_errors_total``).
        ``force``: try even while the circuit is open, for a call with no fallback (a session nobody here has)."""
        if not force and not self.breaker.allow():
            CACHE_ERRORS.labels(op, "circuit_open").inc()
            raise RedisDown(op)
        try:
            async with asyncio.timeout(limit_s or self.timeout):
                result = await call()
        except TimeoutError as exc:
            self._failed(op, "timeout")
            raise RedisDown(op) from exc
        except (RedisError, OSError) as exc:
            self._failed(op, "error")
            raise RedisDown(op) from exc
        self.breaker.success()
        return result

    def _failed(self, op: str, reason: str) -> None:
        self.breaker.failure()
        CACHE_ERRORS.labels(op, reason).inc()
