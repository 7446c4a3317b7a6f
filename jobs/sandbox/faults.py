"""Fault injection and request statistics, applied as an ASGI middleware around the API routes.

Faults act before the handler (latency, 429, 5xx) like a gateway in front of the real service,
except timeouts, which hold back the answer *after* the handler ran: the request took effect but
the client never hears so, the case that makes careless retries duplicate data.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import re
from collections import defaultdict
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import msgspec

from jobs.sandbox.config import FaultConfig

# Plain ASGI shapes: this middleware only reads a few keys and forwards everything else.
Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


API_PREFIXES = ("/v2/", "/api.php")
_ID_SEGMENT = re.compile(r"^(/v2/[a-z-]+)/[^/]+$")


class FaultState:
    def __init__(self, config: FaultConfig, seed: int) -> None:
        self.seed = seed
        self.replace(config)

    def replace(self, config: FaultConfig) -> None:
        self.config = config
        self.rate_limit_next = config.rate_limit_next
        self.error_next = config.error_next
        self.timeout_next = config.timeout_next
        self.inserted = 0
        self.matched = 0
        self._rng = random.Random(f"faults:{self.seed}")

    def applies_to(self, path: str) -> bool:
        prefixes = self.config.paths if self.config.paths is not None else API_PREFIXES
        return any(path.startswith(p) for p in prefixes)

    def decide(self) -> tuple[str, int] | None:
        """Pick the fault for one matching request: ("429"|"5xx", status) or None."""
        self.matched += 1
        cfg = self.config
        if self.rate_limit_next > 0:
            self.rate_limit_next -= 1
            return "429", 429
        if cfg.rate_limit_every and self.matched % cfg.rate_limit_every == 0:
            return "429", 429
        if self.error_next > 0:
            self.error_next -= 1
            return "5xx", cfg.error_status
        if cfg.error_probability and self._rng.random() < cfg.error_probability:
            return "5xx", cfg.error_status
        return None

    def take_timeout(self) -> bool:
        if self.timeout_next > 0:
            self.timeout_next -= 1
            return True
        return False


class Stats:
    def __init__(self) -> None:
        self.counts: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))

    def record(self, method: str, path: str, status: int) -> None:
        match = _ID_SEGMENT.match(path)
        route = f"{match.group(1)}/{{id}}" if match else path
        self.counts[f"{method} {route}"][str(status)] += 1

    def snapshot(self) -> dict[str, Any]:
        endpoints = {k: dict(v) for k, v in sorted(self.counts.items())}
        total = sum(sum(v.values()) for v in endpoints.values())
        return {"endpoints": endpoints, "total": total}


def _error_body(status: int) -> bytes:
    if status == 429:
        body = {
            "type": "quota-limit",
            "title": "Too Many Requests",
            "detail": "Exceeded request quota; see Retry-After header.",
            "status": 429,
        }
    else:
        body = {
            "type": "unknown",
            "title": "Server Error",
            "detail": "The sandbox failed on purpose.",
            "status": status,
        }
    return msgspec.json.encode(body)


def fault_middleware(faults: FaultState, stats: Stats) -> Callable[[ASGIApp], ASGIApp]:
    def factory(app: ASGIApp) -> ASGIApp:
        async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
            if scope["type"] != "http" or scope["path"].startswith("/_sandbox"):
                await app(scope, receive, send)
                return
            method, path = scope["method"], scope["path"]
            status_seen = 0

            async def counting_send(message: Message) -> None:
                nonlocal status_seen
                if message["type"] == "http.response.start":
                    status_seen = message["status"]
                await send(message)

            if not faults.applies_to(path):
                await app(scope, receive, counting_send)
                stats.record(method, path, status_seen)
                return
            cfg = faults.config
            if cfg.latency_ms:
                await asyncio.sleep(cfg.latency_ms / 1000)
            decision = faults.decide()
            if decision is not None:
                _, status = decision
                headers = [(b"content-type", b"application/json")]
                if status == 429:
                    headers.append((b"retry-after", cfg.retry_after.encode()))
                await counting_send({"type": "http.response.start", "status": status, "headers": headers})
                await counting_send({"type": "http.response.body", "body": _error_body(status)})
                stats.record(method, path, status_seen)
                return
            delay = cfg.timeout_seconds if faults.take_timeout() else 0.0

            async def delayed_send(message: Message) -> None:
                nonlocal delay
                if delay and message["type"] == "http.response.start":
                    await asyncio.sleep(delay)
                    delay = 0.0
                # The client may have given up waiting; that is the point of this fault.
                with contextlib.suppress(OSError):
                    await counting_send(message)

            await app(scope, receive, delayed_send)
            stats.record(method, path, status_seen)

        return middleware

    return factory
