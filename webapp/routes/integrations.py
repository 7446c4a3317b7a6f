"""Integrations: connect a CRM (Tave, Light Blue), test it, and start imports, syncs and exports."""

from __future__ import annotations

from typing import Any

import anyio
import psycopg
from litestar import Controller, Request, Response, get, post
from litestar.exceptions import NotFoundException

from core import job_lifecycle as lifecycle
from core.db.pool import tenant
from core.providers.addresses import UnsafeAddress, resolve_crm_url
from core.providers.lightblue import LIGHTBLUE_ENDPOINT
from core.providers.tave import TaveClient
from core.queue import send_job
from webapp.auth import require_supplier
from webapp.dependencies import SIGNED_IN
from webapp.forms import FormError, parse, read_form
from webapp.idempotency import run_idempotent
from webapp.queries import integrations as q
from webapp.queries.webhooks import add_token
from webapp.reads.integrations import integration_summaries
from webapp.rendering import page
from webapp.routes.clients import new_idempotency_key
from webapp.routes.webhooks import new_token
from webapp.schemas.integrations import ConnectForm
from webapp.state import Resources

# VSCO Workspace serves the Tave API v2 here now; tave.io/v2 answers with a redirect to it.
TAVE_DEFAULT_URL = "https://workspace.vsco.co/api/v2"
PROVIDERS = {"tave": "Tave / VSCO Workspace", "lightblue": "Light Blue"}
# What each button starts, per provider: (job kind, plain words).
ACTIONS = {
    "tave": {"full_import": "Import everything", "incremental_sync": "Sync changes"},
    "lightblue": {"export_to_crm": "Send new leads to Light Blue"},
}


# Addresses that are known to be the CRM's own: a failed test there may say what went wrong (the key, the server).
# Any other address is unproven, and every failure there reads the same (see _unreachable), so the form cannot be
# used to learn which hosts and ports answer what.
KNOWN_CRM_URLS = frozenset({TAVE_DEFAULT_URL, "https://tave.io/v2", LIGHTBLUE_ENDPOINT})


def _unreachable(provider: str) -> str:
    return (
        f"We couldn't connect to {PROVIDERS[provider]} at that address. Check the address and the API key, "
        "or try again in a few minutes."
    )


def _check_address(url: str, allow_local: bool) -> bool:
    """Only public addresses (core.providers.addresses); blocking, as it resolves the host."""
    try:
        resolve_crm_url(url, allow_local=allow_local)
    except UnsafeAddress:
        return False
    return True


def _check_tave(base_url: str, api_key: str, allow_local: bool) -> tuple[bool, str]:
    client = TaveClient(base_url, api_key, timeout=10, allow_local=allow_local)
    try:
        result = client.test_connection()
    finally:
        client.close()
    return result.ok, result.reason


class IntegrationController(Controller):
    path = "/integrations"
    guards = [require_supplier]
    dependencies = SIGNED_IN

    async def _render(
        self,
        request: Request[Any, Any, Any],
        res: Resources,
        supplier_id: int,
        *,
        status_code: int = 200,
        error: str | None = None,
        notice: str | None = None,
        form: dict[str, str] | None = None,
    ) -> Response[str]:
        items = await integration_summaries(res, supplier_id, fresh=request.method != "GET")
        return page(
            request,
            "integrations/list.html",
            status_code=status_code,
            integrations=items,
            actions=ACTIONS,
            providers=PROVIDERS,
            error=error,
            notice=notice,
            form=form or {},
            tave_default=TAVE_DEFAULT_URL,
            lightblue_default=LIGHTBLUE_ENDPOINT,
            new_key=new_idempotency_key,  # one fresh Idempotency-Key per start-job form
        )

    @get("/", name="integrations")
    async def list_integrations(
        self, request: Request[Any, Any, Any], res: Resources, supplier_id: int
    ) -> Response[str]:
        return await self._render(request, res, supplier_id)

    @post("/", name="connect_integration")
    async def connect(self, request: Request[Any, Any, Any], res: Resources, supplier_id: int) -> Response[str]:
        raw = await read_form(request)
        shown = {k: v for k, v in raw.items() if k != "api_key"}  # never echo a secret back into a page
        try:
            form = parse(raw, ConnectForm)
        except FormError as exc:
            return await self._render(request, res, supplier_id, status_code=422, error=exc.message, form=shown)
        if form.provider not in PROVIDERS:
            return await self._render(request, res, supplier_id, status_code=422, error="Choose a CRM.", form=shown)
        default = TAVE_DEFAULT_URL if form.provider == "tave" else LIGHTBLUE_ENDPOINT
        base_url = form.base_url or default
        allow_local = res.settings.allow_local_crm_urls
        if not base_url.lower().startswith("https://") and not allow_local:
            return await self._render(
                request, res, supplier_id, status_code=422, error="The address must start with https://", form=shown
            )
        if not await anyio.to_thread.run_sync(_check_address, base_url, allow_local):
            return await self._render(
                request, res, supplier_id, status_code=422, error=_unreachable(form.provider), form=shown
            )
        if form.provider == "tave":
            ok, reason = await anyio.to_thread.run_sync(_check_tave, base_url, form.api_key, allow_local)
            if not ok:
                error = reason if base_url in KNOWN_CRM_URLS else _unreachable(form.provider)
                return await self._render(request, res, supplier_id, status_code=422, error=error, form=shown)
        async with tenant(res.pool, supplier_id) as conn:
            await q.create_integration(
                conn,
                provider=form.provider,
                name=form.name or PROVIDERS[form.provider],
                base_url=base_url,
                secret=res.secret_box.encrypt(form.api_key),
            )
        return await self._render(request, res, supplier_id, notice=f"{PROVIDERS[form.provider]} is connected.")

    @post("/honeybook-webhook", name="create_honeybook_webhook")
    async def create_webhook(self, request: Request[Any, Any, Any], res: Resources, supplier_id: int) -> Response[str]:
        """A new webhook address for a Zapier zap; the token is shown once and stored only as a hash."""
        token, digest = new_token()
        async with tenant(res.pool, supplier_id) as conn:
            integration_id = await q.create_integration(
                conn, provider="honeybook", name="HoneyBook via Zapier", base_url=None, secret=None
            )
            await add_token(conn, digest, integration_id)
        url = f"{request.base_url}hooks/honeybook/{token}"
        return await self._render(
            request,
            res,
            supplier_id,
            notice=f"Your webhook address (shown once — copy it into your Zapier zap's POST step): {url}",
        )

    @post("/{integration_id:int}/test", name="test_integration")
    async def test(
        self, request: Request[Any, Any, Any], res: Resources, supplier_id: int, integration_id: int
    ) -> Response[str]:
        async with tenant(res.pool, supplier_id) as conn:
            secret = await q.get_secret(conn, integration_id)
        if secret is None:
            raise NotFoundException("We couldn't find that integration.")
        provider, base_url, token = secret
        if provider != "tave" or token is None or base_url is None:
            return await self._render(
                request, res, supplier_id, notice="Light Blue has no test call; send a lead to try it."
            )
        ok, reason = await anyio.to_thread.run_sync(
            _check_tave, base_url, res.secret_box.decrypt(token), res.settings.allow_local_crm_urls
        )
        if ok:
            return await self._render(request, res, supplier_id, notice=reason)
        return await self._render(request, res, supplier_id, status_code=422, error=reason)

    @post("/{integration_id:int}/jobs", name="start_integration_job")
    async def start_job(
        self, request: Request[Any, Any, Any], res: Resources, supplier_id: int, integration_id: int
    ) -> Response[str]:
        # Idempotency-Key (form field or header): a phone's outbox may send "Sync changes" again after a lost
        # answer; the same key starts one job and replays its redirect.
        raw = await read_form(request)
        kind = raw.get("kind", "")
        async with tenant(res.pool, supplier_id) as conn:
            integration = await q.get_integration(conn, integration_id)
        if integration is None:
            raise NotFoundException("We couldn't find that integration.")
        if kind not in ACTIONS.get(integration.provider, {}):
            return await self._render(request, res, supplier_id, status_code=422, error="That action isn't available.")
        provider, kind_ = integration.provider, lifecycle.as_kind(kind)
        started: list[int] = []

        async def action(conn: psycopg.AsyncConnection) -> Response[str]:
            job_id = await lifecycle.create_async(conn, kind=kind_, source=provider, integration_id=integration_id)
            started.append(job_id)
            return Response("", status_code=303, headers={"location": f"/jobs/{job_id}"})

        response = await run_idempotent(request, supplier_id, raw, action)
        # Only a first send creates a job, and the worker is told only once its row and the stored answer have
        # committed (run_idempotent commits before returning); a replay returns the first redirect and enqueues nothing.
        for job_id in started:
            send_job(kind_, supplier_id, job_id)
        return response
