"""Which failures a job tries again and which end it at once, and how each is told to a photographer.

- **Data errors** (a value PostgreSQL refuses, a CRM key that cannot be decrypted, a connection with no address,
  a bug that fails the same way every time) would fail every retry the same way: the job ends ``failed`` at once.
- **Transient errors** (PostgreSQL or Redis unreachable, a full pool, a deadlock or serialisation failure, a
  statement that waited too long, the network) are retried with back-off; when the tries run out the job ends
  ``failed`` with what was committed kept, and "Try again" resumes it.
- Anything else is treated as transient: a few tries cost little, a job that never ends costs trust.
"""

from __future__ import annotations

from typing import Literal

import dramatiq
import httpx
import psycopg
import redis
from psycopg_pool import PoolClosed, PoolTimeout

from core.providers.errors import ProviderError

Verdict = Literal["data", "transient"]

# CRM failures worth another try later; the others (a refused key, a garbled answer) fail the same way again.
RETRYABLE_PROVIDER_KINDS = frozenset({"rate_limited", "server", "timeout", "unreachable"})
# SQLSTATE classes that fail the same way whenever they are tried: data exception, integrity constraint violation,
# syntax error or access rule violation, program limit exceeded ("word is too long", an index row too big).
_DETERMINISTIC_SQLSTATES = ("22", "23", "42", "54")
DATABASE_DOWN = "WedSync couldn't reach its database."


class JobFailed(Exception):
    """A failure no retry can fix; ``message`` (plain words, what to do about it) ends the job at once."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class JobCancelled(Exception):
    """The photographer asked the job to stop while its source was still reading (``jobs.runner.CancelWatch``)."""


class RetryLater(dramatiq.Retry):
    """Raised to let Dramatiq deliver the job again after ``delay`` ms; the job row says why and resumes from its
    checkpoint."""


def verdict(exc: BaseException) -> Verdict:
    if isinstance(exc, JobFailed):
        return "data"
    if isinstance(exc, ProviderError):
        return "transient" if exc.kind in RETRYABLE_PROVIDER_KINDS else "data"
    if isinstance(exc, psycopg.DatabaseError):
        return "data" if (exc.sqlstate or "")[:2] in _DETERMINISTIC_SQLSTATES else "transient"
    if isinstance(exc, (ValueError, TypeError, LookupError, AttributeError, UnicodeError, AssertionError)):
        return "data"  # includes msgspec's validation errors and a bug that would fail every try alike
    return "transient"


def plain_reason(exc: BaseException) -> str:
    """One sentence for the photographer saying what went wrong (never a value, a key or a traceback)."""
    if isinstance(exc, (JobFailed, ProviderError)):
        return exc.message
    if isinstance(exc, (PoolTimeout, PoolClosed, psycopg.OperationalError, psycopg.InterfaceError)):
        state = getattr(exc, "sqlstate", None) or ""
        if state.startswith("40"):
            return "The database was busy with another change to the same clients."
        if state == "57014":
            return "The database took too long to answer."
        if state.startswith("54"):
            return "Part of this import is too big for the database to store."
        return DATABASE_DOWN
    if isinstance(exc, psycopg.DatabaseError):
        return "Part of this import couldn't be saved, and trying again won't change that."
    if isinstance(exc, redis.RedisError):
        return "WedSync couldn't reach its job queue."
    if isinstance(exc, httpx.TransportError):
        return "The connection to the CRM kept failing."
    return "Something went wrong on our side."


def stopped_message(exc: BaseException) -> str:
    """The job's final line when it ends ``failed`` because of ``exc``."""
    kept = "Everything imported before that is kept"
    if verdict(exc) == "transient":
        return f"This import stopped after several tries: {plain_reason(exc)} {kept}; you can try again."
    if isinstance(exc, (JobFailed, ProviderError)):
        return exc.message  # written to be read on its own, with what to do about it
    return f"{plain_reason(exc)} {kept}."


def retry_delay_ms(attempt: int, min_ms: int, max_ms: int) -> int:
    """Capped exponential back-off after the ``attempt``-th try (1 = the first)."""
    return int(min(max_ms, min_ms * 2 ** max(0, attempt - 1)))
