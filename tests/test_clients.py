from __future__ import annotations

import datetime as dt
import re

import psycopg

from tests.fixtures import Account, Server, Services, seed_clients, signup

TODAY = dt.date.today()


def _names(html: str) -> list[str]:
    return re.findall(r'<span class="name">([^<]+)</span>', html)


def _next_link(html: str) -> str | None:
    match = re.search(r'hx-get="(/clients/\?cursor=[^"]+)"', html)
    return match.group(1).replace("&amp;", "&") if match else None


def test_list_pages_through_every_client_once(account: Account, services: Services) -> None:
    rows = [{"partner1_first": f"Person{i:03d}", "partner1_last": "Walker"} for i in range(123)]
    seed_clients(services.database_url, account.supplier_id, rows)
    first = account.client.get("/clients/")
    assert first.status_code == 200
    seen = _names(first.text)
    assert len(seen) == 50
    link = _next_link(first.text)
    pages = 1
    while link:
        resp = account.client.get(link, headers={"HX-Request": "true"})
        assert "<html" not in resp.text  # a fragment, not a page
        seen += _names(resp.text)
        link = _next_link(resp.text)
        pages += 1
    assert pages == 3
    assert seen == sorted(seen, key=str.lower)
    assert len(seen) == len(set(seen)) == 123


def test_upcoming_filter_orders_by_date(account: Account, services: Services) -> None:
    seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {"partner1_first": "Later", "wedding_date": TODAY + dt.timedelta(days=50)},
            {"partner1_first": "Sooner", "wedding_date": TODAY + dt.timedelta(days=3)},
            {"partner1_first": "TooFar", "wedding_date": TODAY + dt.timedelta(days=90)},
            {"partner1_first": "Past", "wedding_date": TODAY - dt.timedelta(days=3)},
        ],
    )
    resp = account.client.get("/clients/", params={"upcoming": "true"})
    assert _names(resp.text) == ["Sooner", "Later"]
    dashboard = account.client.get("/")
    assert re.search(r'data-testid="upcoming-count">2<', dashboard.text)
    assert re.search(r'data-testid="client-count">4<', dashboard.text)


def test_hostile_names_are_escaped(account: Account, services: Services) -> None:
    [cid] = seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {
                "partner1_first": "<script>alert(1)</script>",
                "partner1_last": "\"onmouseover='x'",
                "venue": "<img src=x>",
            },
        ],
    )
    for path in ("/clients/", f"/clients/{cid}"):
        html = account.client.get(path).text
        assert "<script>alert(1)</script>" not in html
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
        assert "<img src=x>" not in html


def test_add_note_and_change_status(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Nell", "status": "lead"}])
    page = account.client.get(f"/clients/{cid}").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', page)
    assert key
    resp = account.post(
        f"/clients/{cid}/notes", {"body": "Grandma photos before speeches", "idempotency_key": key.group(1)}, htmx=True
    )
    assert resp.status_code == 200
    assert "Grandma photos before speeches" in resp.text
    resp = account.post(f"/clients/{cid}/status", {"status": "booked", "version": "1"}, htmx=True)
    assert resp.status_code == 200
    assert 'data-testid="status">booked<' in resp.text
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT status, version FROM clients WHERE id = %s", [cid]).fetchone() == ("booked", 2)
        assert conn.execute("SELECT count(*) FROM client_notes WHERE client_id = %s", [cid]).fetchone() == (1,)


def test_empty_and_overlong_notes_are_refused(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ola"}])
    for body, message in (("   ", "Note is required"), ("x" * 5001, "Note is too long")):
        resp = account.post(f"/clients/{cid}/notes", {"body": body}, htmx=True)
        assert resp.status_code == 422
        assert message in resp.text
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM client_notes WHERE client_id = %s", [cid]).fetchone() == (0,)


def test_stale_version_gets_409_with_current_state_and_changes_nothing(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Rae", "status": "lead"}])
    assert account.post(f"/clients/{cid}/status", {"status": "booked", "version": "1"}, htmx=True).status_code == 200
    stale = account.post(f"/clients/{cid}/status", {"status": "archived", "version": "1"}, htmx=True)
    assert stale.status_code == 409
    assert "changed elsewhere" in stale.text
    assert 'data-testid="status">booked<' in stale.text
    assert 'name="version" value="2"' in stale.text
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT status, version FROM clients WHERE id = %s", [cid]).fetchone() == ("booked", 2)


def test_unknown_client_is_404(account: Account) -> None:
    resp = account.client.get("/clients/999999999")
    assert resp.status_code == 404
    assert "couldn't find that client" in resp.text.replace("&#39;", "'")
    assert account.post("/clients/999999999/notes", {"body": "hello"}).status_code == 404


def test_second_supplier_gets_404_on_every_client_url_of_the_first(server: Server, services: Services) -> None:
    owner = signup(server.url, services.database_url, "Owner")
    intruder = signup(server.url, services.database_url, "Intruder")
    [cid] = seed_clients(services.database_url, owner.supplier_id, [{"partner1_first": "Private", "status": "lead"}])
    assert intruder.client.get(f"/clients/{cid}").status_code == 404
    assert intruder.post(f"/clients/{cid}/notes", {"body": "snoop"}).status_code == 404
    assert intruder.client.get(f"/clients/{cid}/notes/older", params={"before": 1}).status_code == 404
    assert intruder.post(f"/clients/{cid}/status", {"status": "archived", "version": "1"}).status_code == 404
    assert "Private" not in intruder.client.get("/clients/", params={"q": "private"}).text
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT status FROM clients WHERE id = %s", [cid]).fetchone() == ("lead",)
        assert conn.execute("SELECT count(*) FROM client_notes WHERE client_id = %s", [cid]).fetchone() == (0,)


def test_rls_hides_rows_when_a_query_forgets_the_supplier(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Hidden"}])
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SET ROLE wedsync_app")
        assert conn.execute("SELECT count(*) FROM clients").fetchone() == (0,)
        conn.execute("SELECT set_config('app.supplier_id', %s, false)", [str(account.supplier_id)])
        assert conn.execute("SELECT count(*) FROM clients").fetchone() == (1,)


def test_new_lead_is_created_once(account: Account, services: Services) -> None:
    form = account.client.get("/clients/new").text
    key = re.search(r'name="idempotency_key" value="([^"]+)"', form)
    assert key
    data = {
        "partner1_first": "Maya",
        "partner1_last": "Okafor",
        "email": "Maya@Example.com",
        "phone": "07911 123456",  # a number phonenumbers calls valid: leads are cleaned as imports are
        "wedding_date": "2027-06-12",
        "venue": "Kew Gardens",
        "idempotency_key": key.group(1),
    }
    first = account.post("/clients/", data, csrf_page="/clients/new")
    again = account.post("/clients/", data, csrf_page="/clients/new")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == again.headers["location"]
    assert again.headers["idempotent-replayed"] == "true"
    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(
            "SELECT partner1_email, partner1_phone FROM clients WHERE supplier_id = %s", [account.supplier_id]
        ).fetchall()
    assert rows == [("maya@example.com", "+447911123456")]


def test_notes_page_through_older_ones_with_a_keyset(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Tess"}])
    with psycopg.connect(services.database_url) as conn:
        conn.execute(  # 120 notes a minute apart, two of them sharing a timestamp (the id breaks the tie)
            "INSERT INTO client_notes (supplier_id, client_id, body, created_at) "
            "SELECT %s, %s, 'note ' || i, now() - make_interval(mins => CASE WHEN i = 51 THEN 50 ELSE i END) "
            "FROM generate_series(1, 120) AS i",
            [account.supplier_id, cid],
        )
    html = account.client.get(f"/clients/{cid}").text
    seen = re.findall(r"<p>(note \d+)</p>", html)
    pages = 1
    while (older := re.search(r'hx-get="([^"]+)"[^>]*data-testid="older-notes"', html)) is not None:
        html = account.client.get(older.group(1).replace("&amp;", "&"), headers={"HX-Request": "true"}).text
        assert "<html" not in html  # htmx gets list items, not a page
        seen += re.findall(r"<p>(note \d+)</p>", html)
        pages += 1
    assert pages == 3  # 50 + 50 + 20
    assert len(seen) == len(set(seen)) == 120  # every note once, none twice, the tie included
    assert seen[0] == "note 1"  # newest first
    without_js = account.client.get(f"/clients/{cid}/notes/older", params={"before": 1})
    assert without_js.status_code == 200
    assert "Older notes" in without_js.text
