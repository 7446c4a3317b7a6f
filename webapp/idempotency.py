"""``Idempotency-Key`` for the unsafe requests a phone may send twice (an offline outbox replays them).

Semantics follow the IETF httpapi-idempotency-key draft and Stripe: the first response for a key is
stored and replayed, marked ``Idempotent-Replayed: true``; the same key with a different request
body is a 422; a retry while the first attempt is still running is a 409. Keys are per supplier
(RLS), kept at least 7 days. The action and the stored response commit in ONE transaction, so a
crash can never leave the action applied without its response (which would let a retry apply it
twice). Responses of 5xx are not stored: the key is released and a retry runs again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import psycopg
from litestar import Request, Response
from litestar.enums import MediaType

from core.db.pool import tenant
from webapp.queries import idempotency as q
from webapp.state import resources

KEY_FIELD = "idempotency_key"
KEY_HEADER = "idempotency-key"
# Fields that legitimately differ between a first send and its replay.
_IGNORED_FIELDS = frozenset({"_csrf_token", KEY_FIELD})

Action = Callable[[psycopg.AsyncConnection], Awaitable[Response[str]]]


def request_fingerprint(method: str, path: str, form: Mapping[str, str]) -> str:
    body = "&".join(f"{k}={v}" for k, v in sorted(form.items()) if k not in _IGNORED_FIELDS)
    return hashlib.sha256(f"{method} {path}\n{body}".encode()).hexdigest()


def key_from(request: Request[Any, Any, Any], form: Mapping[str, str]) -> str | None:
    key = request.headers.get(KEY_HEADER) or form.get(KEY_FIELD) or ""
    key = key.strip()
    return key if 8 <= len(key) <= 255 else None


def _plain(status: int, message: str) -> Response[str]:
    return Response(message, status_code=status, media_type=MediaType.TEXT)


async def run_idempotent(
    request: Request[Any, Any, Any], supplier_id: int, form: Mapping[str, str], action: Action
) -> Response[str]:
    """Run ``action`` in a supplier transaction at most once per Idempotency-Key."""
    pool = resources(request).pool
    key = key_from(request, form)
    if key is None:  # no key: a plain, non-replayable request
        async with tenant(pool, supplier_id) as conn:
            return await action(conn)

    fingerprint = request_fingerprint(request.method, request.url.path, form)
    async with tenant(pool, supplier_id) as conn:
        claimed = await q.claim(conn, key, fingerprint)
        stored = None if claimed else await q.get(conn, key)
    if not claimed:
        assert stored is not None
        if stored.request_hash != fingerprint:
            return _plain(422, "This request reuses an Idempotency-Key with different content.")
        if stored.state != "done":
            return _plain(409, "This request is already being processed. Try again in a moment.")
        headers = dict(stored.response_headers or {})
        headers["idempotent-replayed"] = "true"
        return Response(
            (stored.response_body or b"").decode(),
            status_code=stored.response_status or 200,
            headers=headers,
            media_type=headers.pop("content-type", MediaType.HTML),
        )

    try:
        async with tenant(pool, supplier_id) as conn:
            response = await action(conn)
            status = response.status_code or 200
            if status < 500:
                body = response.content if isinstance(response.content, str) else ""
                stored_headers = {k.lower(): v for k, v in response.headers.items()}
                stored_headers["content-type"] = str(response.media_type)
                await q.finish(conn, key, status, stored_headers, body.encode())
                return response
    except BaseException:
        await _release(request, supplier_id, key)
        raise
    await _release(request, supplier_id, key)
    return response


async def _release(request: Request[Any, Any, Any], supplier_id: int, key: str) -> None:
    async with tenant(resources(request).pool, supplier_id) as conn:
        await q.release(conn, key)
