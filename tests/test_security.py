"""Hardening against the holes of a hostile review: session fixation, CSRF bound to the session, control
characters, sign-up abuse and security headers on every response. Real HTTP against a real server."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import psycopg
import pytest
import redis

from tests.fixtures import (
    Account,
    Server,
    Services,
    browser_client,
    csrf_from,
    seed_clients,
    signup,
    start_web,
    stop_process,
)

PLANTED = "f" * 64  # a session id the server never issued
SESSION = "wedsync_session"


@pytest.fixture
def second_account(server: Server, services: Services) -> Iterator[Account]:
    acct = signup(server.url, services.database_url, "Another Studio")
    yield acct
    acct.client.close()


def _session_id(resp: httpx.Response) -> str | None:
    for header in resp.headers.get_list("set-cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        if name.strip() == SESSION:
            return value.strip()
    return None


def _signed_in_with(server: Server, session_id: str) -> bool:
    """Whether a second browser holding only this session id is let into the studio's clients."""
    with httpx.Client(base_url=server.url, headers={"cookie": f"{SESSION}={session_id}"}, timeout=10) as other:
        return other.get("/clients/").status_code == 200


def _notes(database_url: str, client_id: int) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM client_notes WHERE client_id = %s", [client_id]).fetchone()
    assert row is not None
    return int(row[0])


# --- session fixation -------------------------------------------------------------------------------------------


def test_a_planted_session_id_is_replaced_and_never_signed_in(server: Server, account: Account) -> None:
    phone = browser_client(server.url, cookies={SESSION: PLANTED})
    login_page = phone.get("/login")
    issued = _session_id(login_page)
    assert issued is not None
    assert issued != PLANTED  # never adopted: the server issues its own id
    resp = phone.post(
        "/login",
        data={"_csrf_token": csrf_from(login_page.text), "email": account.email, "password": account.password},
    )
    assert resp.status_code == 303
    signed_in = _session_id(resp)
    assert signed_in is not None
    assert signed_in not in (PLANTED, issued)  # a new id at sign-in
    assert phone.get("/clients/").status_code == 200
    assert _signed_in_with(server, signed_in)  # (the check itself works)
    assert not _signed_in_with(server, PLANTED)
    assert not _signed_in_with(server, issued)  # the signed-out page's id died at sign-in


def test_sign_up_issues_a_new_session_id(server: Server) -> None:
    phone = browser_client(server.url)
    form = phone.get("/signup")
    before = _session_id(form)
    assert before is not None
    resp = phone.post(
        "/signup",
        data={
            "_csrf_token": csrf_from(form.text),
            "business_name": "Fresh Start",
            "email": "fresh-start@example.com",
            "password": "a good long password",
        },
    )
    assert resp.status_code == 303, resp.text
    after = _session_id(resp)
    assert after is not None
    assert after != before
    assert _signed_in_with(server, after)
    assert not _signed_in_with(server, before)


# --- CSRF bound to the session ----------------------------------------------------------------------------------


def _cookies(client: httpx.Client) -> dict[str, str]:
    header = client.get("/login").request.headers.get("cookie", "")
    return dict(part.strip().partition("=")[::2] for part in header.split(";") if "=" in part)


def test_csrf_token_and_cookies_from_another_session_are_refused(
    server: Server, services: Services, account: Account, second_account: Account
) -> None:
    """Studio A's session with B's CSRF token and every other cookie B holds (what a cookie planted from a sibling
    subdomain gives an attacker), or an anonymous visitor's: refused; A's own token works."""
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ada"}])
    own_session = _cookies(account.client)[SESSION]
    anonymous = browser_client(server.url)
    donors = [(second_account.csrf("/"), _cookies(second_account.client))]
    donors.append((csrf_from(anonymous.get("/login").text), _cookies(anonymous)))
    for token, cookies in donors:
        planted = "; ".join(f"{k}={v}" for k, v in {**cookies, SESSION: own_session}.items())
        with httpx.Client(base_url=server.url, headers={"cookie": planted}, timeout=10) as forger:
            assert forger.get("/clients/").status_code == 200  # it is A's session
            resp = forger.post(f"/clients/{cid}/notes", data={"_csrf_token": token, "body": "forged"})
            assert resp.status_code == 403, token
            assert "expired" in resp.text
            htmx = forger.post(f"/clients/{cid}/notes", data={"body": "forged"}, headers={"x-csrftoken": token})
            assert htmx.status_code == 403
    assert _notes(services.database_url, cid) == 0
    mine = account.client.post(f"/clients/{cid}/notes", data={"_csrf_token": account.csrf("/"), "body": "real"})
    assert mine.status_code in (200, 303)
    assert _notes(services.database_url, cid) == 1


def test_csrf_token_is_renewed_at_sign_in(server: Server, account: Account) -> None:
    phone = browser_client(server.url)
    before = csrf_from(phone.get("/login").text)
    phone.post("/login", data={"_csrf_token": before, "email": account.email, "password": account.password})
    after = csrf_from(phone.get("/").text)
    assert after != before
    assert phone.post("/logout", data={"_csrf_token": before}).status_code == 403
    assert phone.get("/clients/").status_code == 200  # still signed in: the stale token did nothing
    assert phone.post("/logout", data={"_csrf_token": after}).status_code == 303


# --- control characters -----------------------------------------------------------------------------------------

REFUSED = "characters we can"


def _refused(resp: httpx.Response) -> None:
    assert resp.status_code in (400, 422), (resp.status_code, resp.text[:300])
    assert REFUSED in resp.text.replace("&#39;", "'")
    assert resp.headers["content-type"].startswith("text/html")


def test_nul_bytes_anywhere_get_a_plain_400(server: Server, services: Services, account: Account) -> None:
    anonymous = browser_client(server.url)
    token = csrf_from(anonymous.get("/login").text)
    _refused(anonymous.post("/login", data={"_csrf_token": token, "email": "a\x00@example.com", "password": "x\x00"}))
    _refused(
        anonymous.post(
            "/signup",
            data={
                "_csrf_token": csrf_from(anonymous.get("/signup").text),
                "business_name": "Nul\x00 Studio",
                "email": "nul@example.com",
                "password": "a good long password",
            },
        )
    )
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ada"}])
    _refused(account.post(f"/clients/{cid}/notes", {"body": "before\x00after"}))
    _refused(account.post(f"/clients/{cid}/notes", {"body": "bell\x07"}, htmx=True))
    _refused(account.post("/clients/", {"partner1_first": "Ada\x00", "idempotency_key": "k-nul-1"}))
    _refused(account.post("/integrations/", {"provider": "lightblue", "api_key": "k", "name": "LB\x00"}))
    _refused(account.client.get("/clients/", params={"cursor": "\x00"}))
    _refused(account.client.get("/clients/", params={"q": "ada\x00"}, headers={"HX-Request": "true"}))
    assert _notes(services.database_url, cid) == 0
    ok = account.post(f"/clients/{cid}/notes", {"body": "line one\r\nline two\ttabbed"})
    assert ok.status_code in (200, 303)  # tabs and line breaks are still fine


# --- sign-up: throttled, no common passwords, passwords as typed ------------------------------------------------


@pytest.fixture(scope="module")
def strict_server(services: Services) -> Iterator[Server]:
    srv = start_web(services, SIGNUP_ATTEMPTS_PER_MINUTE="3")
    try:
        yield srv
    finally:
        stop_process(srv.process)


def _clear_rate_limits(services: Services) -> None:
    r = redis.Redis.from_url(services.redis_url)
    for key in r.scan_iter("wedsync:ratelimit*"):
        r.delete(key)


def test_sign_up_is_throttled(strict_server: Server, services: Services) -> None:
    _clear_rate_limits(services)
    try:
        phone = browser_client(strict_server.url)
        token = csrf_from(phone.get("/signup").text)
        statuses = []
        for i in range(5):
            resp = phone.post(
                "/signup",
                data={"_csrf_token": token, "business_name": "Spam", "email": f"spam{i}@", "password": "x"},
            )
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert int(resp.headers["retry-after"]) >= 1
                assert "Too many attempts" in resp.text
                break
        assert statuses == [400, 400, 400, 429]
    finally:
        _clear_rate_limits(services)


def test_common_passwords_are_refused_and_passwords_are_used_as_typed(server: Server, services: Services) -> None:
    phone = browser_client(server.url)
    for weak in ("password12", "1234567890", "Qwertyuiop", "Password2026!", "aaaaaaaaaaaa"):
        resp = phone.post(
            "/signup",
            data={
                "_csrf_token": csrf_from(phone.get("/signup").text),
                "business_name": "Weak",
                "email": "weak@example.com",
                "password": weak,
            },
        )
        assert resp.status_code == 400, weak
        assert "commonly used" in resp.text, weak
    typed = "  spaced out password  "
    email = "spaces@example.com"
    resp = phone.post(
        "/signup",
        data={
            "_csrf_token": csrf_from(phone.get("/signup").text),
            "business_name": "Spaces",
            "email": email,
            "password": typed,
        },
    )
    assert resp.status_code == 303
    phone.post("/logout", data={"_csrf_token": csrf_from(phone.get("/").text)})
    for attempt, expected in ((typed.strip(), 400), (typed, 303)):
        token = csrf_from(phone.get("/login").text)
        resp = phone.post("/login", data={"_csrf_token": token, "email": email, "password": attempt})
        assert resp.status_code == expected, attempt


# --- security headers on every response --------------------------------------------------------------------------


def _has_security_headers(resp: httpx.Response) -> None:
    h = resp.headers
    assert "frame-ancestors 'none'" in h.get("content-security-policy", ""), (resp.status_code, resp.url)
    assert h.get("x-content-type-options") == "nosniff"
    assert h.get("x-frame-options") == "DENY"
    assert h.get("referrer-policy") == "same-origin"
    assert h.get("strict-transport-security", "").startswith("max-age="), resp.url  # the server's cookies are Secure


def test_security_headers_on_errors_and_static_files(server: Server, account: Account) -> None:
    anonymous = browser_client(server.url)
    responses = {
        200: anonymous.get("/login"),
        404: anonymous.get("/no-such-page"),
        405: anonymous.delete("/login"),
        403: anonymous.post("/logout", data={"_csrf_token": "nope"}),
    }
    static = anonymous.get("/static/app.css")
    assert static.status_code == 200
    for status, resp in responses.items():
        assert resp.status_code == status, (status, resp.text[:200])
        _has_security_headers(resp)
    _has_security_headers(static)
    big = account.client.post(
        "/imports/",
        files={"file": ("huge.csv", b"a,b\n" * (55 * 1024 * 1024 // 4), "text/csv")},
        data={"preset": "csv"},
        headers={"x-csrftoken": account.csrf("/imports/new")},
    )
    assert big.status_code == 413
    _has_security_headers(big)
    assert "bigger than" in big.text  # the app's own page and words, not a bare "Request Entity Too Large"
    assert "<html" in big.text.lower()


def test_no_hsts_without_secure_cookies() -> None:
    """HSTS only where cookies are Secure (served over HTTPS): a plain-http development server must not pin it."""
    import asyncio

    from webapp.middleware import security_headers_hook

    for hsts in (True, False):
        message = {"type": "http.response.start", "status": 200, "headers": []}
        asyncio.run(security_headers_hook(hsts=hsts)(message, {}))  # type: ignore[arg-type]
        names = {name for name, _ in message["headers"]}  # type: ignore[attr-defined]
        assert (b"strict-transport-security" in names) is hsts
        assert b"content-security-policy" in names
    # A response that set one of them itself keeps its own, once.
    own = {"type": "http.response.start", "status": 200, "headers": [(b"x-frame-options", b"SAMEORIGIN")]}
    asyncio.run(security_headers_hook(hsts=False)(own, {}))  # type: ignore[arg-type]
    assert [v for n, v in own["headers"] if n == b"x-frame-options"] == [b"SAMEORIGIN"]  # type: ignore[attr-defined]


def test_an_account_made_when_passwords_were_stripped_still_signs_in(
    server: Server, services: Services, account: Account
) -> None:
    """Sign-up used to strip passwords: such an account's hash is of the stripped form. Typing it as before (with
    the spaces) signs in once more and stores the password as typed."""
    from core.security import hash_password, verify_password

    with psycopg.connect(services.database_url) as conn:
        stripped_hash = hash_password("old style pass")
        conn.execute("UPDATE suppliers SET password_hash = %s WHERE id = %s", [stripped_hash, account.supplier_id])
    phone = browser_client(server.url)
    token = csrf_from(phone.get("/login").text)
    resp = phone.post("/login", data={"_csrf_token": token, "email": account.email, "password": " old style pass "})
    assert resp.status_code == 303
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT password_hash FROM suppliers WHERE id = %s", [account.supplier_id]).fetchone()
    assert row is not None
    assert verify_password(row[0], " old style pass ")
    assert not verify_password(row[0], "old style pass")


def test_an_outbox_replay_after_signing_in_again_uses_the_new_token(
    server: Server, services: Services, account: Account
) -> None:
    """What sw/outbox.js sends: the body as queued (with the token of the page it was typed on), the page's current
    token in x-csrftoken, the item's Idempotency-Key. A stale token is a 403 (the outbox keeps the item); after
    signing in again, the token handed over by the open page sends it."""
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ada"}])
    queued_token = account.csrf(f"/clients/{cid}")
    body = {"_csrf_token": queued_token, "body": "Typed at the venue"}
    account.post("/logout", {})
    phone = account.client
    login_token = csrf_from(phone.get("/login").text)
    phone.post("/login", data={"_csrf_token": login_token, "email": account.email, "password": account.password})
    headers = {"idempotency-key": "outbox-replay-1", "hx-request": "true"}
    stale = phone.post(f"/clients/{cid}/notes", data=body, headers={**headers, "x-csrftoken": queued_token})
    assert stale.status_code == 403
    fresh = phone.post(f"/clients/{cid}/notes", data=body, headers={**headers, "x-csrftoken": account.csrf("/")})
    assert fresh.status_code == 200
    assert _notes(services.database_url, cid) == 1
