"""Editing a couple, deleting and restoring a client, deleting a note: every route, its replays, its conflicts, its
tenant isolation, and an edit surviving a later re-import of the client's file."""

from __future__ import annotations

import csv
import datetime as dt
import re
from pathlib import Path
from typing import Any

import psycopg
import pytest

from core.import_service import create_file_job, open_pool
from jobs.inline import run_inline
from tests.fixtures import Account, Server, Services, seed_clients, signup

GOOD_PHONE = "07911 123456"  # a UK mobile phonenumbers calls valid (Ofcom's 07700 900xxx drama range is not)


def _key(html: str) -> str:
    found = re.search(r'name="idempotency_key" value="([^"]+)"', html)
    assert found
    return found.group(1)


def _edit_form(account: Account, cid: int) -> dict[str, str]:
    """The edit form's fields as the page fills them."""
    resp = account.client.get(f"/clients/{cid}/edit")
    assert resp.status_code == 200
    html = resp.text
    fields = dict(re.findall(r'<input name="(\w+)" value="([^"]*)"', html))
    fields["status"] = re.search(r'<option value="(\w+)" selected', html).group(1)  # type: ignore[union-attr]
    fields["version"] = re.search(r'name="version" value="(\d+)"', html).group(1)  # type: ignore[union-attr]
    fields["idempotency_key"] = _key(html)
    return {k: v.replace("&#39;", "'").replace("&amp;", "&") for k, v in fields.items()}


def _row(database_url: str, cid: int, *columns: str) -> tuple[Any, ...]:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(f"SELECT {', '.join(columns)} FROM clients WHERE id = %s", [cid]).fetchone()
    assert row is not None
    return tuple(row)


def test_an_edit_cleans_every_field_as_an_import_would_and_is_applied_once(
    account: Account, services: Services
) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ada", "status": "lead"}])
    form = _edit_form(account, cid)
    assert form["version"] == "1"
    assert form["partner1_first"] == "Ada"
    form.update(
        partner1_first="  maya ",
        partner1_last="o'neill",
        partner1_email=" Maya@Example.COM ",
        partner1_phone=GOOD_PHONE,
        partner2_first="Sam",
        partner2_phone="+1 415 555 2671",
        wedding_date="2027-06-12",
        venue="  Kew   Gardens ",
        lead_source="Instagram",
        status="booked",
    )
    first = account.post(f"/clients/{cid}", form, csrf_page=f"/clients/{cid}/edit")
    again = account.post(f"/clients/{cid}", form, csrf_page=f"/clients/{cid}/edit")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == f"/clients/{cid}"
    assert again.headers["idempotent-replayed"] == "true"
    assert _row(
        services.database_url,
        cid,
        "partner1_first, partner1_last, partner1_email, partner1_phone, partner2_first, partner2_phone",
        "wedding_date, venue, lead_source, status, version",
    ) == (
        "Maya", "O'Neill", "maya@example.com", "+447911123456", "Sam", "+14155552671",
        dt.date(2027, 6, 12), "Kew Gardens", "Instagram", "booked", 2,
    )  # fmt: skip
    page = account.client.get(f"/clients/{cid}").text
    assert "Maya O&#39;Neill &amp; Sam" in page  # the page shows the edit at once (no stale cache)
    assert "Maya O&#39;Neill" in account.client.get("/clients/", params={"q": "maya"}).text


def test_a_field_that_cannot_be_used_is_an_error_next_to_it_and_nothing_is_saved(
    account: Account, services: Services
) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ada", "venue": "Old"}])
    form = _edit_form(account, cid)
    form.update(partner1_email="not-an-address", partner2_phone="12", wedding_date="2027-02-31", venue="New")
    resp = account.post(f"/clients/{cid}", form, csrf_page=f"/clients/{cid}/edit")
    assert resp.status_code == 422
    text = resp.text.replace("&#39;", "'")
    assert re.search(r'data-testid="partner1_email-error">The email \'not-an-address\' is not a valid address', text)
    assert re.search(r'data-testid="partner2_phone-error">The partner\'s phone number \'12\' doesn', text)
    assert re.search(r'data-testid="wedding_date-error">The wedding date \'2027-02-31\' isn\'t a real date', text)
    assert 'value="New"' in text  # what was typed is kept for fixing
    assert 'name="version" value="1"' in text  # still the version the photographer started from
    assert _row(services.database_url, cid, "venue", "version") == ("Old", 1)
    # Nobody left to identify, and a status that is not one (without a key: each its own request)
    del form["idempotency_key"]
    form.update(partner1_first="", partner1_email="", partner2_phone="", wedding_date="")
    nobody = account.post(f"/clients/{cid}", form, csrf_page=f"/clients/{cid}/edit")
    assert nobody.status_code == 422
    assert "Give at least a name" in nobody.text
    form.update(partner1_first="Ada", status="married")
    assert account.post(f"/clients/{cid}", form, csrf_page="/").status_code == 422
    form.update(status="lead", venue="x" * 301)
    long = account.post(f"/clients/{cid}", form, csrf_page="/")
    assert long.status_code == 422
    assert "The venue is too long (at most 300 characters)" in long.text
    assert _row(services.database_url, cid, "venue", "version") == ("Old", 1)


def test_a_stale_version_gets_409_with_both_versions_and_saving_again_keeps_mine(
    account: Account, services: Services
) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ada", "venue": "Barn"}])
    phone_a, phone_b = _edit_form(account, cid), _edit_form(account, cid)
    phone_a["venue"] = "Castle"
    assert account.post(f"/clients/{cid}", phone_a, csrf_page="/").status_code == 303
    phone_b["venue"] = "Lighthouse"
    stale = account.post(f"/clients/{cid}", phone_b, csrf_page="/", htmx=True)
    assert stale.status_code == 409
    assert "changed elsewhere" in stale.text
    assert 'data-version="2"' in stale.text  # the outbox's conflict screen reads the current version from here
    assert re.search(r'data-testid="theirs">Castle<.*data-testid="yours">Lighthouse<', stale.text, re.S)
    assert _row(services.database_url, cid, "venue", "version") == ("Castle", 2)
    # The form came back on their version with mine typed in: saving it again keeps mine.
    retry = dict(phone_b, version=re.search(r'name="version" value="(\d+)"', stale.text).group(1))  # type: ignore[union-attr]
    retry["idempotency_key"] = _key(stale.text)
    saved = account.post(f"/clients/{cid}", retry, csrf_page="/", htmx=True)
    assert saved.status_code == 303
    assert _row(services.database_url, cid, "venue", "version") == ("Lighthouse", 3)


def test_a_new_lead_goes_through_the_same_normaliser(account: Account, services: Services) -> None:
    key = _key(account.client.get("/clients/new").text)
    data = {"partner1_first": "jo", "email": "nope@", "phone": GOOD_PHONE, "idempotency_key": key}
    refused = account.post("/clients/", data, csrf_page="/clients/new")
    assert refused.status_code == 422
    assert "is not a valid address" in refused.text.replace("&#39;", "'")
    data.update(email="Jo@Example.com", wedding_date="2027-05-01", idempotency_key=key + "-2")
    assert account.post("/clients/", data, csrf_page="/clients/new").status_code == 303
    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(
            "SELECT partner1_first, partner1_email, partner1_phone, wedding_date, source, app_edits FROM clients "
            "WHERE supplier_id = %s",
            [account.supplier_id],
        ).fetchall()
    assert rows == [("Jo", "jo@example.com", "+447911123456", dt.date(2027, 5, 1), "manual", None)]


def test_delete_hides_the_client_everywhere_and_undo_brings_it_back(account: Account, services: Services) -> None:
    [gone, _kept] = seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {"partner1_first": "Gone", "wedding_date": dt.date.today() + dt.timedelta(days=5)},
            {"partner1_first": "Kept", "wedding_date": dt.date.today() + dt.timedelta(days=6)},
        ],
    )
    assert "Gone" in account.client.get("/clients/").text  # cached before the delete
    key = _key(account.client.get(f"/clients/{gone}").text.split("/delete", 1)[1])
    resp = account.post(f"/clients/{gone}/delete", {"idempotency_key": key})
    again = account.post(f"/clients/{gone}/delete", {"idempotency_key": key})
    assert resp.status_code == again.status_code == 303
    assert again.headers["idempotent-replayed"] == "true"
    assert resp.headers["location"] == f"/clients/?deleted={gone}"
    landing = account.client.get(resp.headers["location"])
    assert 'data-testid="undo-delete"' in landing.text
    assert f"/clients/{gone}/restore" in landing.text
    assert ">Gone<" not in landing.text
    for path, params in (("/clients/", {}), ("/clients/", {"q": "gone"}), ("/clients/", {"upcoming": "true"})):
        html = account.client.get(path, params=params).text
        assert ">Gone<" not in html
        assert account.client.get(path, params=params, headers={"HX-Request": "true"}).text.count(">Gone<") == 0
    assert ">Kept<" in account.client.get("/clients/", params={"upcoming": "true"}).text
    assert re.search(r'data-testid="client-count">1<', account.client.get("/").text)
    assert "Gone" not in account.client.get("/clients/export.csv").text
    assert "Gone" not in account.client.get("/clients/export.ndjson").text
    assert account.client.get(f"/clients/{gone}").status_code == 404
    assert account.client.get(f"/clients/{gone}/edit").status_code == 404
    assert account.post(f"/clients/{gone}/notes", {"body": "to nobody"}).status_code == 404
    assert account.post(f"/clients/{gone}/delete", {}).status_code == 404
    # Listed where it can be restored for 30 days; another studio's list does not show it.
    deleted_page = account.client.get("/clients/deleted").text
    assert ">Gone<" in deleted_page
    assert ">Kept<" not in deleted_page
    # Undo
    restored = account.post(f"/clients/{gone}/restore", {"idempotency_key": _key(landing.text)})
    assert restored.status_code == 303
    assert restored.headers["location"] == f"/clients/{gone}"
    assert account.client.get(f"/clients/{gone}").status_code == 200
    assert ">Gone<" in account.client.get("/clients/").text
    assert re.search(r'data-testid="client-count">2<', account.client.get("/").text)


def test_a_client_deleted_over_30_days_ago_cannot_be_restored_and_is_purged(
    account: Account, services: Services
) -> None:
    from core.db.pool import make_sync_pool
    from jobs.housekeeping import purge_deleted_clients

    old, recent = seed_clients(
        services.database_url, account.supplier_id, [{"partner1_first": "Old"}, {"partner1_first": "Recent"}]
    )
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE clients SET deleted_at = now() - interval '31 days' WHERE id = %s", [old])
        conn.execute("UPDATE clients SET deleted_at = now() - interval '29 days' WHERE id = %s", [recent])
        conn.execute("INSERT INTO client_notes (supplier_id, client_id, body) VALUES (%s, %s, 'n')",
                     [account.supplier_id, old])  # fmt: skip
    assert account.post(f"/clients/{old}/restore", {}).status_code == 404
    pool = make_sync_pool(services.database_url, min_size=1, max_size=1, statement_timeout_ms=10_000)
    pool.open(wait=True)
    try:
        assert purge_deleted_clients(pool, keep_days=1) >= 1  # asking for less than 30 days still keeps 30
    finally:
        pool.close()
    with psycopg.connect(services.database_url) as conn:
        left = {r[0] for r in conn.execute("SELECT id FROM clients WHERE id = ANY(%s)", [[old, recent]])}
    assert left == {recent}
    assert account.post(f"/clients/{recent}/restore", {}).status_code == 303


def test_delete_a_note(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Nell"}])
    with psycopg.connect(services.database_url) as conn:
        ids = [
            conn.execute(
                "INSERT INTO client_notes (supplier_id, client_id, body) VALUES (%s, %s, %s) RETURNING id",
                [account.supplier_id, cid, body],
            ).fetchone()[0]  # type: ignore[index]
            for body in ("keep me", "drop me")
        ]
    assert "drop me" in account.client.get(f"/clients/{cid}").text
    resp = account.post(f"/clients/{cid}/notes/{ids[1]}/delete", {}, htmx=True)
    assert resp.status_code == 200
    assert "keep me" in resp.text
    assert "drop me" not in resp.text
    page = account.client.get(f"/clients/{cid}").text
    assert "keep me" in page
    assert "drop me" not in page
    assert account.post(f"/clients/{cid}/notes/{ids[1]}/delete", {}).status_code == 404
    plain = account.post(f"/clients/{cid}/notes/{ids[0]}/delete", {})
    assert plain.status_code == 303
    assert plain.headers["location"] == f"/clients/{cid}"


def test_another_studio_gets_404_on_every_new_route(server: Server, services: Services) -> None:
    owner = signup(server.url, services.database_url, "Owner")
    intruder = signup(server.url, services.database_url, "Intruder")
    [cid] = seed_clients(services.database_url, owner.supplier_id, [{"partner1_first": "Private"}])
    with psycopg.connect(services.database_url) as conn:
        note = conn.execute(
            "INSERT INTO client_notes (supplier_id, client_id, body) VALUES (%s, %s, 'secret') RETURNING id",
            [owner.supplier_id, cid],
        ).fetchone()[0]  # type: ignore[index]
    form = _edit_form(owner, cid)
    assert intruder.client.get(f"/clients/{cid}/edit").status_code == 404
    assert intruder.post(f"/clients/{cid}", dict(form, partner1_first="Hacked")).status_code == 404
    assert intruder.post(f"/clients/{cid}/delete", {}).status_code == 404
    assert intruder.post(f"/clients/{cid}/notes/{note}/delete", {}).status_code == 404
    # Deleted by its owner, it is still not the intruder's to restore.
    assert owner.post(f"/clients/{cid}/delete", {}).status_code == 303
    assert intruder.post(f"/clients/{cid}/restore", {}).status_code == 404
    assert "Private" not in intruder.client.get("/clients/deleted").text
    assert "Private" in owner.client.get("/clients/deleted").text
    assert _row(services.database_url, cid, "partner1_first") == ("Private",)
    assert owner.post(f"/clients/{cid}/restore", {}).status_code == 303
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute("SELECT count(*) FROM client_notes WHERE id = %s", [note]).fetchone() == (1,)


@pytest.fixture
def import_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IMPORT_PROCESSES", "0")
    return tmp_path


def _import(database_url: str, supplier_id: int, path: Path, rows: list[list[str]]) -> None:
    with path.open("w", newline="") as out:
        csv.writer(out).writerows([["Client ID", "First Name", "Last Name", "Email", "Venue", "Status"], *rows])
    with open_pool(database_url, max_size=2) as pool:
        run_inline(pool, supplier_id, create_file_job(pool, supplier_id, "GB", path))


def test_an_edit_survives_a_later_reimport(account: Account, services: Services, import_dir: Path) -> None:
    row = ["c1", "Ada", "Lovelace", "ada@example.com", "Barn", "Enquiry"]
    _import(services.database_url, account.supplier_id, import_dir / "one.csv", [row])
    with psycopg.connect(services.database_url) as conn:
        found = conn.execute("SELECT id FROM clients WHERE supplier_id = %s", [account.supplier_id]).fetchone()
    assert found is not None
    cid = found[0]
    form = _edit_form(account, cid)
    form.update(partner1_last="King", wedding_date="2027-09-04", status="booked")
    assert account.post(f"/clients/{cid}", form, csrf_page="/").status_code == 303
    assert _row(services.database_url, cid, "app_edits")[0] == {
        "partner1_last": "Lovelace",
        "wedding_date": None,
        "status": "lead",
    }
    # The same file again, and then the file with another field changed: the app's three edits stay.
    _import(services.database_url, account.supplier_id, import_dir / "two.csv", [row])
    _import(services.database_url, account.supplier_id, import_dir / "three.csv", [[*row[:4], "Castle", row[5]]])
    assert _row(services.database_url, cid, "partner1_last", "wedding_date", "status", "venue") == (
        "King",
        dt.date(2027, 9, 4),
        "booked",
        "Castle",
    )
    # A second edit of the same field keeps the import's value as its base, so a re-import still keeps it.
    form = _edit_form(account, cid)
    form.update(partner1_last="Byron")
    assert account.post(f"/clients/{cid}", form, csrf_page="/").status_code == 303
    assert _row(services.database_url, cid, "app_edits")[0]["partner1_last"] == "Lovelace"
    _import(services.database_url, account.supplier_id, import_dir / "four.csv", [[*row[:4], "Tower", row[5]]])
    assert _row(services.database_url, cid, "partner1_last", "venue") == ("Byron", "Tower")
