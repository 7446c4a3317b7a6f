"""Inbound webhooks: HoneyBook has no API of its own, so a Zapier zap POSTs each new contact here.

The secret token is in the URL (``/hooks/honeybook/<token>``) or the ``X-Webhook-Token`` header; only its
SHA-256 is stored. The payload becomes a one-row import through the same pipeline as every file.
"""

from __future__ import annotations

import hashlib
import secrets
from typing import Any

import msgspec
from litestar import Request, Response, post

from core import job_lifecycle as lifecycle
from core.db.pool import tenant, unscoped
from core.importing.mapping import Mapping
from core.importing.readers import json_rows
from core.queue import send_job
from webapp.queries import suppliers as suppliers_q
from webapp.queries import webhooks as webhooks_q
from webapp.state import Resources

MAX_WEBHOOK_BYTES = 64 * 1024


def new_token() -> tuple[str, str]:
    token = secrets.token_urlsafe(24)
    return token, hashlib.sha256(token.encode()).hexdigest()


def _json(status: int, body: dict[str, object]) -> Response[bytes]:
    return Response(msgspec.json.encode(body), status_code=status, media_type="application/json")


@post(
    ["/hooks/honeybook/{token:str}", "/hooks/honeybook"],
    name="honeybook_webhook",
    exclude_from_csrf=True,
    skip_session=True,
    request_max_body_size=MAX_WEBHOOK_BYTES,
)
async def receive_honeybook(request: Request[Any, Any, Any], res: Resources, token: str = "") -> Response[bytes]:
    secret = token or request.headers.get("x-webhook-token", "")
    async with unscoped(res.pool) as conn:
        found = await webhooks_q.find_token(conn, hashlib.sha256(secret.encode()).hexdigest())
    if not secret or found is None:
        return _json(404, {"error": "unknown webhook"})
    supplier_id, integration_id = found
    body = await request.body()
    try:
        rows = list(json_rows(body))
    except Exception:
        return _json(422, {"error": "send one contact as a JSON object (or a list of them)"})
    if not rows:
        return _json(422, {"error": "no contact in the payload"})
    async with tenant(res.pool, supplier_id) as conn:
        supplier = await suppliers_q.get_supplier(conn, supplier_id)
        region = supplier.default_region if supplier else res.settings.default_region
        headers = list(dict.fromkeys(k for row in rows for k in row.values))
        mapping = Mapping.suggest(headers, "honeybook", region)
        job_id = await lifecycle.create_async(
            conn, kind="file_import", source="honeybook", integration_id=integration_id,
            options={"format": "json", "mapping": msgspec.to_builtins(mapping), "filename": "Zapier webhook"},
        )  # fmt: skip
        await lifecycle.store_upload(conn, job_id, [body])
    send_job("file_import", supplier_id, job_id)
    return _json(202, {"job_id": job_id, "status": "queued"})
