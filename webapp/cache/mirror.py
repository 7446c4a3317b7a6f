"""Generations this web process knows without asking Redis: a cached page then costs no round trip at all.

Every bump of a generation (supplier-wide or scoped, by a web process or a worker) is announced on the cache channel
in the same atomic Lua call that makes it, with the value it moved to and the supplier's bump sequence
(``core.cache_generations``). ``HotCache`` listens to that channel; while its subscription is up, the values it
heard, and those it read from Redis after subscribing, are the current ones, and ``known`` answers them with no I/O.

Why it is exact, and where it is not:

* A value is learned only while the subscription is up, and only if it stayed up since the read or the bump that
  gave it (``epoch``): every later bump then reaches this process as a message. When the subscription drops
  (Redis restarted, a network error) everything is forgotten and generations are read from Redis again until it
  is back. Values only go up (``max``), so a read that returns after a newer message cannot step back.
* Redis delivers a live subscription's messages in order, and keeps them unless it closes the connection (which
  is a drop, above). Should one be lost anyway, a value not heard of again is forgotten after ``TRUST_S``.
* Read-your-writes across processes. A bump is announced before the write's response starts, but the process that
  answers the writer's next request may not have read the message off its socket yet. So a write's response sets a
  short cookie (``FLOOR_COOKIE``: the supplier and the bump's sequence); a request carrying it is answered from the
  mirror only once this process has heard that far in the supplier's sequence, and otherwise reads Redis (which
  also teaches the mirror). Requests by others that arrive in the microseconds before the message is read are as if
  they had come a moment earlier, as they could have.
* What a worker's import batch changes is seen by a process once it has read the announcement (microseconds after
  the commit); the job's own progress is announced after it, on another channel.

Hand-written because it is the other half of ``HotCache``'s own generation protocol: no cache library has a notion
of "a version heard on pub/sub, trusted while the subscription is up". The bounded, expiring maps are cachetools'.
"""

from __future__ import annotations

import contextvars
from collections.abc import Iterator
from contextlib import contextmanager

from cachetools import TTLCache
from litestar._parsers import parse_cookie_string
from litestar.enums import ScopeType
from litestar.types import ASGIApp, Receive, Scope, Send

TRUST_S = 10.0  # the longest a value is answered without being heard of or read again
ENTRIES = 100_000  # (supplier, scope) pairs: a few MB at most
FLOOR_COOKIE = "wedsync_wrote"  # "<supplier id>.<bump sequence>" of the browser's last write
FLOOR_MAX_AGE_S = 60  # long past the moment the announcement is heard; then the cookie only costs bytes
_FLOOR_MARK = FLOOR_COOKIE.encode() + b"="

# The floor of the request being answered: (supplier id, sequence) from its cookie. A context variable because it
# belongs to the request (each one runs in its own task) while generations are asked for deep inside reads.
_floor: contextvars.ContextVar[tuple[int, int] | None] = contextvars.ContextVar("wedsync_write_floor", default=None)


class GenerationMirror:
    def __init__(self, *, trust_s: float = TRUST_S, entries: int = ENTRIES) -> None:
        self.live = False  # subscribed to the channel: what is learned may be trusted
        self.epoch = 0  # moves whenever the subscription starts or stops
        self._values: TTLCache[tuple[int, str | None], int] = TTLCache(entries, trust_s)
        self._seq: TTLCache[int, int] = TTLCache(entries, trust_s)

    def subscribed(self, live: bool) -> None:
        """The subscription came up (``True``) or went down: either way nothing learned before is trusted."""
        self.live = live
        self.epoch += 1
        self._values.clear()
        self._seq.clear()

    def known(self, supplier_id: int, scope: str | None) -> tuple[int, int | None] | None:
        """(supplier-wide generation, ``scope``'s or None) with no I/O, or None: then read them from Redis."""
        if not self.live:
            return None
        floor = _floor.get()
        if floor is not None and floor[0] == supplier_id and self._seq.get(supplier_id, 0) < floor[1]:
            return None  # this browser wrote something this process has not heard of yet
        shared = self._values.get((supplier_id, None))
        if shared is None:
            return None
        if scope is None:
            return shared, None
        scoped = self._values.get((supplier_id, scope))
        return None if scoped is None else (shared, scoped)

    def learn(self, epoch: int, supplier_id: int, scope: str | None, value: int, seq: int | None = None) -> None:
        """A generation's value, read or heard while the subscription was up since ``epoch``. ``seq``: the supplier's
        sequence it was read or announced at, when every bump up to it is reflected here (not for this process's
        own bump, whose answer may overtake the announcements of earlier ones)."""
        if not self.live or epoch != self.epoch:
            return
        key = (supplier_id, scope)
        self._values[key] = max(value, self._values.get(key, 0))
        if seq is not None:
            self._seq[supplier_id] = max(seq, self._seq.get(supplier_id, 0))

    def forget(self, supplier_id: int, scope: str | None) -> None:
        """A bump announced without its value (a worker of the previous release, while a deploy rolls)."""
        self._values.pop((supplier_id, scope), None)


def floor_cookie(supplier_id: int, seq: int, *, secure: bool) -> bytes:
    """The ``Set-Cookie`` value a write's response carries (see the module's docstring)."""
    flags = "; HttpOnly; SameSite=Lax" + ("; Secure" if secure else "")
    return f"{FLOOR_COOKIE}={supplier_id}.{seq}; Max-Age={FLOOR_MAX_AGE_S}; Path=/{flags}".encode()


def _floor_in(cookie: bytes) -> tuple[int, int] | None:
    raw = parse_cookie_string(cookie.decode("latin-1")).get(FLOOR_COOKIE, "")
    sid, _, seq = raw.partition(".")
    return (int(sid), int(seq)) if sid.isdigit() and seq.isdigit() else None


@contextmanager
def write_floor(floor: tuple[int, int] | None) -> Iterator[None]:
    """Answer what runs inside as for a browser whose last write had this (supplier, sequence)."""
    token = _floor.set(floor)
    try:
        yield
    finally:
        _floor.reset(token)


def write_floor_front(app: ASGIApp) -> ASGIApp:
    """ASGI wrapper, outermost: a request carrying ``FLOOR_COOKIE`` is answered under its floor. Looks at the raw
    cookie header only (no parsing for the requests without one, nearly all of them)."""

    async def front(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            for name, value in scope["headers"]:
                if name == b"cookie" and _FLOOR_MARK in value:
                    with write_floor(_floor_in(value)):
                        await app(scope, receive, send)
                    return
        await app(scope, receive, send)

    return front


__all__ = ["FLOOR_COOKIE", "GenerationMirror", "floor_cookie", "write_floor", "write_floor_front"]
