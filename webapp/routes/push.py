"""Web Push subscriptions: the server's public key, and each phone turning "Tell me when an import ends" on or off.

The phone's side is ``static/push-settings.js`` (Settings, "Notifications on this phone"); sending is the workers'
(``jobs.notify``), never a web request's.
"""

from __future__ import annotations

import functools
import re
from typing import Any

import anyio
import msgspec
import psycopg
from litestar import Controller, Request, Response, get, post
from litestar.status_codes import HTTP_204_NO_CONTENT, HTTP_422_UNPROCESSABLE_ENTITY

from core.providers.addresses import UnsafeAddress, resolve_crm_url
from core.push import BadSubscription, PushEndpoint, PushSubscription, check_subscription, public_key
from webapp.auth import require_supplier
from webapp.cache import NOTHING
from webapp.dependencies import SIGNED_IN
from webapp.queries import push as q
from webapp.state import Resources


class PublicKey(msgspec.Struct, frozen=True):
    key: str  # base64url, for pushManager.subscribe({applicationServerKey})


@get("/push/key", name="push_key")
async def show_push_key(res: Resources) -> PublicKey:
    return PublicKey(public_key(res.settings))


_BROWSERS = (("Edg/", "Edge"), ("SamsungBrowser", "Samsung Internet"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"), ("Mac OS", "Mac"))


def device_label(user_agent: str) -> str:
    """ "Chrome on Android", "Safari on iPhone": which phone a subscription is, in words, without keeping the whole
    user agent (which says more about the phone than we need). Hand-written: a label of a few words for the browsers
    that can take Web Push does not justify a user-agent parser and its regex database (ua-parser)."""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), None)
    if browser is None and re.search(r"Version/[\d.]+.*Safari/", user_agent):
        browser = "Safari"
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), None)
    if browser and system:
        return f"{browser} on {system}"
    return browser or system or "A browser"


class PushController(Controller):
    path = "/push/subscriptions"
    guards = [require_supplier]
    dependencies = SIGNED_IN

    # A subscription changes nothing a page shows from the cache: no need to drop the studio's cached reads.
    @post("/", name="push_subscribe", opt={"cache_scope": (NOTHING,)})
    async def subscribe(
        self, request: Request[Any, Any, Any], data: PushSubscription, conn: psycopg.AsyncConnection, res: Resources
    ) -> Response[Any]:
        allow_local = res.settings.allow_local_push_urls
        try:
            check_subscription(data, allow_local=allow_local)
            # Where it leads, now (blocking DNS, so in a thread); each send checks again (PublicOnlyTransport).
            await anyio.to_thread.run_sync(functools.partial(resolve_crm_url, data.endpoint, allow_local=allow_local))
        except (BadSubscription, UnsafeAddress):
            # No detail: what an endpoint was refused for must not help map what our servers can reach.
            return Response(
                {"error": "This browser's push service isn't one WedSync can send to."},
                status_code=HTTP_422_UNPROCESSABLE_ENTITY,
            )
        await q.save(conn, data, device_label(request.headers.get("user-agent", "")))
        return Response(None, status_code=HTTP_204_NO_CONTENT)

    @post("/delete", name="push_unsubscribe", opt={"cache_scope": (NOTHING,)}, status_code=HTTP_204_NO_CONTENT)
    async def unsubscribe(self, data: PushEndpoint, conn: psycopg.AsyncConnection) -> None:
        await q.delete(conn, data.endpoint)
