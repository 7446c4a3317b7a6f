"""Web Push: what a browser's subscription is, the server's VAPID key, and a message as the push service takes it.

The web app stores subscriptions (``webapp.routes.push``); the workers send (``jobs.notify``). Both meet here.
Encryption (RFC 8291, ``aes128gcm``) is pywebpush's ``WebPusher.encode`` and the VAPID signature (RFC 8292) is
py-vapid's: the maintained libraries every Python push sender uses. Only the HTTP POST is ours, so it goes through
``PublicOnlyTransport`` like every other request to an address a browser (or a person) gave us: a subscription's
endpoint is whatever the browser sent, and must not become a way into our own network.
"""

from __future__ import annotations

import base64
import binascii
import functools
import time

import httpx
import msgspec
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from py_vapid import Vapid02
from pywebpush import WebPusher

from core.providers.addresses import UnsafeAddress, check_crm_url
from core.settings import Settings

MAX_ENDPOINT = 2048
# How long a push service keeps a message for a phone that is off: an import's end is news for a day, not a week.
TTL_S = 24 * 3600
VAPID_LIFETIME_S = 12 * 3600  # RFC 8292 allows up to 24 h; push services refuse an expiry further out


class PushKeys(msgspec.Struct, frozen=True):
    p256dh: str
    auth: str


class PushSubscription(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """A browser's ``PushSubscription.toJSON()`` (``expirationTime`` and anything else it adds are ignored)."""

    endpoint: str
    keys: PushKeys


class PushEndpoint(msgspec.Struct, frozen=True, forbid_unknown_fields=False):
    """Which subscription to forget (the phone that turns notifications off)."""

    endpoint: str


class Notice(msgspec.Struct, frozen=True):
    """What the service worker shows: a notification, and a banner in any open page of the app."""

    title: str
    body: str
    url: str  # a path on this site: the service worker opens it on a tap
    tag: str  # one notification per job: a second message about the job replaces the first
    urgency: str = "normal"  # RFC 8030: "high" wakes a phone in power saving; an ending job is "normal"


def _b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


class BadSubscription(ValueError):
    """The subscription cannot be used: an endpoint we won't send to, or keys that are not a browser's."""


def check_subscription(sub: PushSubscription, *, allow_local: bool) -> PushSubscription:
    """The subscription, if its endpoint is an https URL (or loopback, when allowed) and its keys are a P-256 public
    key and a 16-byte auth secret (RFC 8291). Where the endpoint's host resolves is checked as each message is sent
    (``PublicOnlyTransport``), so a host that changes its answer later is refused then too."""
    if len(sub.endpoint) > MAX_ENDPOINT:
        raise BadSubscription("endpoint too long")
    try:
        check_crm_url(sub.endpoint, allow_local=allow_local)
        key = _b64url_decode(sub.keys.p256dh)
        ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)
        auth = _b64url_decode(sub.keys.auth)
    except (UnsafeAddress, ValueError, binascii.Error) as exc:
        raise BadSubscription(str(exc)) from exc
    if len(key) != 65 or len(auth) != 16:
        raise BadSubscription("keys of the wrong size")
    return sub


@functools.cache
def _vapid(private_key: str) -> Vapid02:
    return Vapid02.from_string(private_key)


def public_key(config: Settings) -> str:
    """The server's VAPID public key as ``pushManager.subscribe`` takes it (``applicationServerKey``): the
    uncompressed P-256 point, base64url."""
    point = _vapid(config.vapid_private_key).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    return b64url(point)


def push_request(sub: PushSubscription, notice: Notice, config: Settings, *, now: float | None = None) -> httpx.Request:
    """The POST to the subscription's push service: the notice encrypted for that browser alone, and signed as
    this server (the ``aud`` claim is the push service's origin, as RFC 8292 requires)."""
    payload = msgspec.json.encode(notice)
    encoded = WebPusher({"endpoint": sub.endpoint, "keys": {"p256dh": sub.keys.p256dh, "auth": sub.keys.auth}}).encode(
        payload, "aes128gcm"
    )
    url = httpx.URL(sub.endpoint)
    origin = f"{url.scheme}://{url.netloc.decode('ascii')}"
    expires = int(now if now is not None else time.time()) + VAPID_LIFETIME_S
    signed = _vapid(config.vapid_private_key).sign({"aud": origin, "sub": config.vapid_subject, "exp": expires})
    headers = {
        "authorization": signed["Authorization"],
        "content-encoding": "aes128gcm",
        "content-type": "application/octet-stream",
        "ttl": str(TTL_S),
        "urgency": notice.urgency,
        "topic": notice.tag,  # a newer message about the same job replaces one still waiting at the push service
    }
    return httpx.Request("POST", url, headers=headers, content=encoded["body"])
