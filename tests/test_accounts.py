from __future__ import annotations

import psycopg
import redis

from tests.fixtures import Account, Server, Services, browser_client, csrf_from, signup


def test_signup_lands_on_dashboard_with_secure_session_cookie(server: Server, services: Services) -> None:
    client = browser_client(server.url)
    token = csrf_from(client.get("/signup").text)
    resp = client.post(
        "/signup",
        data={
            "_csrf_token": token,
            "business_name": "Lens & Lace",
            "email": "New.Person@Example.com",
            "password": "a very good password",
        },
    )
    assert resp.status_code == 303
    cookie = next(v for k, v in resp.headers.multi_items() if k == "set-cookie" and "wedsync_session" in v)
    assert "Secure" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=lax" in cookie
    dashboard = client.get("/")
    assert dashboard.status_code == 200
    assert "Lens &amp; Lace" in dashboard.text
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT email, password_hash FROM suppliers WHERE email = 'new.person@example.com'"
        ).fetchone()
    assert row is not None
    assert row[1].startswith("$argon2id$")


def test_duplicate_email_is_refused_clearly(server: Server, services: Services) -> None:
    acct = signup(server.url, services.database_url)
    other = browser_client(server.url)
    token = csrf_from(other.get("/signup").text)
    resp = other.post(
        "/signup",
        data={
            "_csrf_token": token,
            "business_name": "Copycat",
            "email": acct.email.upper(),
            "password": "a good long password",
        },
    )
    assert resp.status_code == 409
    assert "already exists" in resp.text
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM suppliers WHERE lower(email) = %s", [acct.email]).fetchone() == (1,)


def test_signup_validation_messages(server: Server) -> None:
    client = browser_client(server.url)
    cases = [
        ({"business_name": "x" * 121, "email": "a@example.com", "password": "x" * 12}, "Business name is too long"),
        ({"business_name": "Studio", "email": "not-an-email", "password": "x" * 12}, "email address doesn"),
        ({"business_name": "Studio", "email": "b@example.com", "password": "short"}, "at least 10 characters"),
        ({"business_name": "", "email": "c@example.com", "password": "x" * 12}, "Business name is required"),
    ]
    for data, message in cases:
        token = csrf_from(client.get("/signup").text)
        resp = client.post("/signup", data={"_csrf_token": token, **data})
        assert resp.status_code == 400, data
        assert message in resp.text, (message, resp.text[:500])


def test_wrong_password_then_right_password(server: Server, account: Account) -> None:
    client = browser_client(server.url)
    token = csrf_from(client.get("/login").text)
    bad = client.post("/login", data={"_csrf_token": token, "email": account.email, "password": "wrong password"})
    assert bad.status_code == 400
    assert "don't match" in bad.text.replace("&#39;", "'")
    assert client.get("/").status_code == 302  # still signed out: redirected to /login
    good = client.post("/login", data={"_csrf_token": token, "email": account.email, "password": account.password})
    assert good.status_code == 303
    assert client.get("/").status_code == 200


def test_logout_ends_the_session(account: Account) -> None:
    assert account.client.get("/clients/").status_code == 200
    resp = account.post("/logout", {})
    assert resp.status_code == 303
    assert account.client.get("/clients/").status_code in (302, 307)


def test_post_without_csrf_token_is_forbidden_and_changes_nothing(server: Server, services: Services) -> None:
    client = browser_client(server.url)
    client.get("/signup")
    resp = client.post("/signup", data={"business_name": "Sneaky", "email": "sneaky@example.com", "password": "x" * 12})
    assert resp.status_code == 403
    assert "expired" in resp.text
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM suppliers WHERE email = 'sneaky@example.com'").fetchone() == (0,)


def test_login_is_throttled_with_retry_after(server: Server, services: Services) -> None:
    client = browser_client(server.url)
    token = csrf_from(client.get("/login").text)
    statuses = []
    try:
        for _ in range(12):
            resp = client.post("/login", data={"_csrf_token": token, "email": "x@example.com", "password": "guess"})
            statuses.append(resp.status_code)
            if resp.status_code == 429:
                assert int(resp.headers["retry-after"]) >= 1
                assert "Too many attempts" in resp.text
                break
        assert statuses[-1] == 429
        assert statuses[:-1] == [400] * (len(statuses) - 1)
    finally:
        r = redis.Redis.from_url(services.redis_url)
        for key in r.scan_iter("wedsync:ratelimit*"):
            r.delete(key)


def test_unknown_pages_and_methods_get_the_friendly_error_page(server: Server, account: Account) -> None:
    """Routing answers 404/405 before the session middleware runs; the error page must still render."""
    anonymous = browser_client(server.url)
    missing = anonymous.get("/no-such-page")
    assert missing.status_code == 404
    assert "find that page" in missing.text
    signed_in = account.client.get("/no-such-page")
    assert signed_in.status_code == 404
    assert "find that page" in signed_in.text
    wrong_method = account.client.put("/clients/", headers={"x-csrftoken": "x"})
    assert wrong_method.status_code in (403, 405)  # CSRF or method: either way a page, not a crash
    assert "Something went wrong on our side" not in wrong_method.text
    head = anonymous.head("/login")
    assert head.status_code in (200, 405)
