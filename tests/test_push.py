"""Web Push when an import ends: the routes a phone uses to turn it on and off, and the real thing end to end.

A local HTTP server stands in for the push service (``ALLOW_LOCAL_PUSH_URLS=1`` in the session's web server and
worker); the subscription is made in the test as a browser makes one (a P-256 key pair and a 16-byte auth secret),
registered through the real API signed in; a real import runs through the real worker; the test checks the VAPID
signature and decrypts the message with the subscription's private key (RFC 8291), as the phone would.
"""

from __future__ import annotations

import base64
import http.server
import json
import os
import secrets
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import http_ece
import psycopg
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from tests.fixtures import Account, Server, Services, import_csv, signup, wait_for


def b64d(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64e(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Browser:
    """A browser's side of a push subscription: its ECDH key pair and auth secret (RFC 8291)."""

    endpoint: str
    private_key: ec.EllipticCurvePrivateKey = field(default_factory=lambda: ec.generate_private_key(ec.SECP256R1()))
    auth: bytes = field(default_factory=lambda: os.urandom(16))

    def to_json(self) -> dict[str, Any]:
        point = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        return {
            "endpoint": self.endpoint,
            "expirationTime": None,
            "keys": {"p256dh": b64e(point), "auth": b64e(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict[str, Any]:
        plain = http_ece.decrypt(body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm")
        return dict(json.loads(plain))


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class PushService:
    """A stand-in push service on this machine: keeps every POST and answers with ``status``."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.status = 201
        self.answers: dict[str, list[int]] = {}  # per path: the next answers, before ``status``
        service = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("content-length", "0"))
                body = self.rfile.read(length)
                service.received.append(Received(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
                planned = service.answers.get(self.path)
                self.send_response(planned.pop(0) if planned else service.status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.origin = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def browser(self) -> Browser:
        return Browser(f"{self.origin}/push/{secrets.token_urlsafe(24)}")

    def for_endpoint(self, browser: Browser) -> list[Received]:
        return [r for r in self.received if f"{self.origin}{r.path}" == browser.endpoint]

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def push_service() -> Iterator[PushService]:
    service = PushService()
    yield service
    service.close()


def subscribe(account: Account, body: dict[str, Any]) -> int:
    token = account.csrf("/settings")
    resp = account.client.post("/push/subscriptions", json=body, headers={"x-csrftoken": token})
    return resp.status_code


def stored(services: Services, endpoint: str) -> tuple[int, str, str, str] | None:
    with psycopg.connect(services.database_url) as conn:  # the owner: sees every studio's rows
        row = conn.execute(
            "SELECT supplier_id, p256dh, auth, device_label FROM push_subscriptions WHERE endpoint = %s", [endpoint]
        ).fetchone()
    return (int(row[0]), row[1], row[2], row[3]) if row else None


def visible_to(services: Services, supplier_id: int) -> list[str]:
    """The endpoints a studio sees under row-level security, as the app's role."""
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SET ROLE wedsync_app")
        conn.execute("SELECT set_config('app.supplier_id', %s, false)", [str(supplier_id)])
        return [r[0] for r in conn.execute("SELECT endpoint FROM push_subscriptions").fetchall()]


# -- the routes --------------------------------------------------------------------------------------------------


def test_the_public_key_is_a_p256_point_anyone_may_fetch(server: Server) -> None:
    import httpx

    resp = httpx.get(server.url + "/push/key", timeout=10)
    assert resp.status_code == 200
    key = b64d(resp.json()["key"])
    assert len(key) == 65
    assert key[0] == 4
    ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key)  # raises unless it is on the curve


def test_subscribe_stores_the_phone_under_its_studio_only(
    account: Account, server: Server, services: Services, push_service: PushService
) -> None:
    phone = push_service.browser()
    account.client.headers["user-agent"] = (
        "Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) "
        "Chrome/131.0 Mobile Safari/537.36"
    )
    # No CSRF token: refused like any other POST.
    assert account.client.post("/push/subscriptions", json=phone.to_json()).status_code == 403
    assert stored(services, phone.endpoint) is None

    assert subscribe(account, phone.to_json()) == 204
    row = stored(services, phone.endpoint)
    assert row is not None
    assert row[0] == account.supplier_id
    assert row[1:3] == (phone.to_json()["keys"]["p256dh"], phone.to_json()["keys"]["auth"])
    assert row[3] == "Chrome on Android"
    assert subscribe(account, phone.to_json()) == 204  # again (the Settings page does on each visit): still one row

    other = signup(server.url, services.database_url, "Other Studio")
    try:
        assert phone.endpoint in visible_to(services, account.supplier_id)
        assert phone.endpoint not in visible_to(services, other.supplier_id)
        # Another studio cannot turn this studio's phone off.
        resp = other.client.post(
            "/push/subscriptions/delete", json={"endpoint": phone.endpoint}, headers={"x-csrftoken": other.csrf("/")}
        )
        assert resp.status_code == 204
        assert stored(services, phone.endpoint) is not None
        # The owner can.
        resp = account.client.post(
            "/push/subscriptions/delete", json={"endpoint": phone.endpoint}, headers={"x-csrftoken": account.csrf("/")}
        )
        assert resp.status_code == 204
        assert stored(services, phone.endpoint) is None
    finally:
        other.client.close()


def test_a_phone_subscribed_by_another_studio_moves_to_the_one_signed_in_now(
    account: Account, server: Server, services: Services, push_service: PushService
) -> None:
    phone = push_service.browser()
    assert subscribe(account, phone.to_json()) == 204
    other = signup(server.url, services.database_url, "Next Studio")
    try:
        assert subscribe(other, phone.to_json()) == 204
        row = stored(services, phone.endpoint)
        assert row is not None
        assert row[0] == other.supplier_id
        assert phone.endpoint not in visible_to(services, account.supplier_id)
    finally:
        other.client.close()


@pytest.mark.parametrize(
    "change",
    [
        {"endpoint": "http://push.example.com/abc"},  # plain http away from this machine
        {"endpoint": "https://user:pw@push.example.com/abc"},
        {"endpoint": "https://2130706433/abc"},  # 127.0.0.1 written as a number
        {"endpoint": "ftp://push.example.com/abc"},
        {"endpoint": "https://push.example.com/" + "a" * 2100},
        {"keys": {"p256dh": b64e(b"\x04" + b"\x01" * 64), "auth": b64e(os.urandom(16))}},  # not on the curve
        {"keys": {"p256dh": None, "auth": b64e(os.urandom(8))}},
    ],
)
def test_subscriptions_that_cannot_be_used_are_refused(
    account: Account, services: Services, push_service: PushService, change: dict[str, Any]
) -> None:
    body = {**push_service.browser().to_json(), **change}
    if body["keys"]["p256dh"] is None:
        body["keys"]["p256dh"] = push_service.browser().to_json()["keys"]["p256dh"]
    assert subscribe(account, body) in (400, 422)
    assert stored(services, body["endpoint"]) is None


# -- the real thing ----------------------------------------------------------------------------------------------


def import_file(account: Account, csv: bytes) -> int:
    return import_csv(account, "clients.csv", csv)


def verify_vapid(authorization: str, key: str, audience: str) -> dict[str, Any]:
    """RFC 8292: ``vapid t=<JWT>, k=<public key>``; the JWT is ES256 over the claims, signed by that key."""
    scheme, _, params = authorization.partition(" ")
    assert scheme == "vapid"
    parts = dict(p.strip().split("=", 1) for p in params.split(","))
    assert parts["k"] == key  # the key the phone subscribed with (GET /push/key)
    header_b64, claims_b64, signature_b64 = parts["t"].split(".")
    assert json.loads(b64d(header_b64)) == {"typ": "JWT", "alg": "ES256"}
    raw = b64d(signature_b64)
    assert len(raw) == 64
    public = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), b64d(parts["k"]))
    der = encode_dss_signature(int.from_bytes(raw[:32], "big"), int.from_bytes(raw[32:], "big"))
    public.verify(der, f"{header_b64}.{claims_b64}".encode(), ec.ECDSA(hashes.SHA256()))  # raises if forged
    claims = dict(json.loads(b64d(claims_b64)))
    assert claims["aud"] == audience
    assert claims["sub"].startswith("mailto:")
    assert time.time() < claims["exp"] <= time.time() + 24 * 3600
    return claims


def test_an_import_that_ends_is_pushed_encrypted_to_each_phone_and_a_gone_phone_is_forgotten(
    account: Account,
    server: Server,
    services: Services,
    push_service: PushService,
    worker: subprocess.Popen[bytes],
) -> None:
    import httpx

    key = httpx.get(server.url + "/push/key", timeout=10).json()["key"]
    phone, tablet = push_service.browser(), push_service.browser()
    assert subscribe(account, phone.to_json()) == 204
    assert subscribe(account, tablet.to_json()) == 204

    csv = b"ID,First Name,Last Name,Email\r\n" + b"".join(
        f"p{i},Guest{i},Surname{i},guest{i}@example.com\r\n".encode() for i in range(7)
    )
    job_id = import_file(account, csv + b"p-bad,,,\r\n")  # a row with nobody in it: "1 row needs fixing"
    got = wait_for(lambda: push_service.for_endpoint(phone), 60, "the push service to get the import's notice")
    wait_for(lambda: push_service.for_endpoint(tablet), 30, "the second phone's notice")
    message = got[0]
    assert message.headers["content-encoding"] == "aes128gcm"
    assert message.headers["urgency"] == "normal"
    assert int(message.headers["ttl"]) > 0
    verify_vapid(message.headers["authorization"], key, push_service.origin)
    notice = phone.decrypt(message.body)
    assert notice == {
        "title": "Import finished — needs a look",
        "body": "7 new, 0 updated; 1 row needs fixing (Spreadsheet).",
        "url": f"/jobs/{job_id}",
        "tag": f"job-{job_id}",
        "urgency": "normal",
    }
    # Encrypted for each phone alone: the tablet's key opens the tablet's copy, not the phone's.
    assert tablet.decrypt(push_service.for_endpoint(tablet)[0].body)["url"] == f"/jobs/{job_id}"
    with pytest.raises(Exception):  # noqa: B017, PT011 - http_ece raises a bare Exception (InvalidTag) on a wrong key
        tablet.decrypt(message.body)
    wait_for(lambda: _last_success(services, phone.endpoint) is not None, 10, "the phone's success to be recorded")

    # The push service says the phone is gone (410): the next notice forgets it, and still reaches the tablet.
    push_service.status = 410
    second = import_file(account, csv)
    wait_for(lambda: stored(services, phone.endpoint) is None, 60, "the gone phone's subscription to be deleted")
    wait_for(lambda: stored(services, tablet.endpoint) is None, 30, "the tablet's too (410 as well)")
    assert [phone.decrypt(r.body)["url"] for r in push_service.for_endpoint(phone)] == [
        f"/jobs/{job_id}",
        f"/jobs/{second}",
    ]
    again = phone.decrypt(push_service.for_endpoint(phone)[1].body)
    assert (again["title"], again["body"]) == (
        "Import finished",
        "0 new, 0 updated, 7 already up to date (Spreadsheet).",
    )
    push_service.status = 201


def _last_success(services: Services, endpoint: str) -> object:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT last_success_at FROM push_subscriptions WHERE endpoint = %s", [endpoint]).fetchone()
    return row[0] if row else None


def test_a_job_the_workers_gave_up_on_is_announced_as_failed_in_its_own_words(
    account: Account, services: Services, push_service: PushService, worker: subprocess.Popen[bytes]
) -> None:
    from jobs.failures import DEAD_MESSAGE, settle_dead_job

    phone = push_service.browser()
    assert subscribe(account, phone.to_json()) == 204
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status) VALUES (%s, 'full_import', 'tave', 'running') "
            "RETURNING id",
            [account.supplier_id],
        ).fetchone()
    assert row is not None
    job_id = int(row[0])
    # What Dramatiq's dead-letter hook (and the stalled-job sweep) calls: the job ends failed, and the phone hears.
    assert settle_dead_job(account.supplier_id, job_id)
    got = wait_for(lambda: push_service.for_endpoint(phone), 60, "the failed job's notice")
    assert phone.decrypt(got[0].body) == {
        "title": "Import failed",
        "body": f"{DEAD_MESSAGE} (Tave)",
        "url": f"/jobs/{job_id}",
        "tag": f"job-{job_id}",
        "urgency": "normal",
    }
    assert not settle_dead_job(account.supplier_id, job_id)  # already ended: no second notice
    # A job the photographer stopped is not announced (they know); the worker has no message to send.
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE sync_jobs SET status = 'cancelled' WHERE id = %s", [job_id])
    from jobs.notify import send_notices

    assert send_notices(account.supplier_id, job_id) == {}
    assert len(push_service.for_endpoint(phone)) == 1


def test_a_studio_keeps_its_newest_thirty_phones(
    account: Account, services: Services, push_service: PushService
) -> None:
    token = account.csrf("/settings")
    phones = [push_service.browser() for _ in range(31)]
    for phone in phones:
        resp = account.client.post("/push/subscriptions", json=phone.to_json(), headers={"x-csrftoken": token})
        assert resp.status_code == 204
    assert stored(services, phones[0].endpoint) is None
    assert sorted(visible_to(services, account.supplier_id)) == sorted(p.endpoint for p in phones[1:])


def test_a_push_service_that_fails_for_a_moment_gets_the_notice_again_and_only_that_phone(
    account: Account, services: Services, push_service: PushService, worker: subprocess.Popen[bytes]
) -> None:
    steady, flaky = push_service.browser(), push_service.browser()
    assert subscribe(account, steady.to_json()) == 204
    assert subscribe(account, flaky.to_json()) == 204
    push_service.answers[flaky.endpoint.removeprefix(push_service.origin)] = [503]
    job_id = import_file(account, b"ID,First Name,Email\r\nf1,Fern,fern@example.com\r\n")
    wait_for(lambda: len(push_service.for_endpoint(flaky)) == 2, 60, "the flaky phone's second try")
    assert [flaky.decrypt(r.body)["url"] for r in push_service.for_endpoint(flaky)] == [f"/jobs/{job_id}"] * 2
    wait_for(lambda: _last_success(services, flaky.endpoint) is not None, 10, "the second try's success")
    # The phone that took it the first time is not sent it again.
    assert len(push_service.for_endpoint(steady)) == 1
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT failure_count FROM push_subscriptions WHERE endpoint = %s", [flaky.endpoint])
        assert row.fetchone() == (0,)  # counted while it failed, reset by the success
