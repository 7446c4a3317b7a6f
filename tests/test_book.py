"""GET /book/changes: the offline book's incremental refresh. Cursors, deletions (soft, merged away, undone),
every write path moving a client into the next refresh (the app's, an import's upsert and its undo), RLS between
studios, paging, and the whole book again when the cursor is older than the tombstones kept."""

from __future__ import annotations

import subprocess
from typing import Any

import psycopg

from tests.fixtures import Account, Server, Services, browser_client, import_and_wait, seed_clients, signup
from tests.test_merge_clients import _merge_form
from webapp.queries.book import Cursor


def _changes(account: Account, since: str | None = None) -> dict[str, Any]:
    resp = account.client.get("/book/changes", params={"since": since} if since is not None else {})
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("application/json")
    assert resp.headers["cache-control"] == "no-store"
    body: dict[str, Any] = resp.json()
    return body


def _sweep(account: Account, since: str | None = None) -> tuple[dict[int, list[Any]], set[int], str, bool]:
    """Every page of one refresh: (rows by id, deleted ids, the next cursor, whether it was the whole book)."""
    rows: dict[int, list[Any]] = {}
    deleted: set[int] = set()
    page = _changes(account, since)
    full = page["full"]
    while True:
        rows.update({r[0]: r for r in page["rows"]})
        deleted.update(page["deleted"])
        if not page["more"]:
            return rows, deleted, page["cursor"], full
        page = _changes(account, page["cursor"])
        assert page["full"] is False  # only the first page says to start again


def test_the_whole_book_then_only_what_changed(account: Account, services: Services) -> None:
    ada, bea, cy = seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {"partner1_first": "Zoë", "partner1_last": "Brontë", "partner2_first": "Sam", "partner2_last": "O'Neil",
             "partner1_phone": "+447700900123", "partner1_email": "zoe@example.com", "venue": "Château Lumière",
             "wedding_date": "2027-06-12", "status": "booked"},
            {"partner1_first": "Bea", "partner1_last": "Quill"},
            {"partner1_first": "Cy", "partner1_last": "Twist"},
        ],
    )  # fmt: skip
    rows, deleted, cursor, full = _sweep(account)
    assert full is True
    assert (set(rows), deleted) == ({ada, bea, cy}, set())
    assert rows[ada][:13] == [
        ada, "Zoë", "Brontë", "Sam", "O'Neil", "2027-06-12", "Château Lumière", "+447700900123", "", "zoe@example.com",
        "", "booked", rows[ada][12],
    ]  # fmt: skip
    # The search words as the server's search holds them: accents folded, split at punctuation, phone digits.
    words = set(rows[ada][12].split(" "))
    assert {"zoe", "bronte", "sam", "o", "neil", "chateau", "lumiere", "447700900123", "example", "com"} <= words
    page = _changes(account)
    assert page["studio"] == {"timezone": "Europe/London", "date_style": "dd mon yyyy", "country_code": "44",
                              "trunk": "0"}  # fmt: skip

    # Nothing changed: nothing sent, and the cursor stays usable.
    rows, deleted, again, full = _sweep(account, cursor)
    assert (rows, deleted, full) == ({}, set(), False)

    # A status change, an edit-like write behind the app's back, a soft delete: exactly those three come back.
    assert account.post(f"/clients/{bea}/status", {"status": "booked", "version": "1"}, htmx=True).status_code == 200
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE clients SET venue = 'The Barn' WHERE id = %s", [ada])
    gone = account.post(f"/clients/{cy}/delete", {"idempotency_key": "book-delete-cy-0001"})
    assert gone.status_code == 303
    rows, deleted, after, full = _sweep(account, again)
    assert full is False
    assert (set(rows), deleted) == ({ada, bea}, {cy})
    assert (rows[bea][11], rows[ada][6]) == ("booked", "The Barn")

    # A write that leaves the book's fields alone sends nothing; a restore brings the client back.
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE clients SET lead_source = 'Instagram' WHERE id = %s", [ada])
    assert _sweep(account, after)[:2] == ({}, set())
    assert account.post(f"/clients/{cy}/restore", {"idempotency_key": "book-restore-cy-01"}).status_code == 303
    rows, deleted, _, _ = _sweep(account, after)
    assert (set(rows), deleted) == ({cy}, set())


def test_a_merged_away_client_is_sent_as_deleted(account: Account, services: Services) -> None:
    keep, other = seed_clients(
        services.database_url,
        account.supplier_id,
        [{"partner1_first": "Ada", "partner1_last": "Lovelace", "venue": "Kew"},
         {"partner1_first": "Ada", "partner1_last": "Lovelace", "partner1_phone": "+447700900001"}],
    )  # fmt: skip
    _, _, cursor, _ = _sweep(account)
    _, form = _merge_form(account, keep, other)
    assert account.post(f"/clients/{keep}/merge/{other}", form, csrf_page="/").status_code == 303
    rows, deleted, _, _ = _sweep(account, cursor)
    assert (set(rows), deleted) == ({keep}, {other})
    assert rows[keep][7] == "+447700900001"  # the survivor took the other's phone


def test_pages_of_a_big_book_and_other_studios_see_nothing(
    account: Account, server: Server, services: Services
) -> None:
    ids = seed_clients(
        services.database_url,
        account.supplier_id,
        [{"partner1_first": f"Guest{i:04d}", "partner1_last": "Paged"} for i in range(2105)],
    )
    first = _changes(account)
    assert (first["more"], len(first["rows"])) == (True, 2000)
    rows, _, cursor, full = _sweep(account)
    assert (full, set(rows)) == (True, set(ids))

    other = signup(server.url, services.database_url, "Other Studio")
    try:
        mine = seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Theirs"}])
        theirs, deleted, _, full = _sweep(other)
        assert (set(theirs), deleted, full) == (set(mine), set(), True)
        # The first studio's cursor means nothing to another studio: it gets its own whole book, nothing else.
        theirs, _, _, full = _sweep(other, cursor)
        assert (full, set(theirs)) == (True, set(mine))
        # And another studio's deletions are not in this studio's refresh.
        with psycopg.connect(services.database_url) as conn:
            conn.execute("DELETE FROM clients WHERE id = %s", [mine[0]])
        assert _sweep(account, cursor)[:2] == ({}, set())
        assert _sweep(other, Cursor(other.supplier_id, since=int(cursor.split(".")[1])).encode())[1] == set(mine)
    finally:
        other.client.close()
    # Signed out: nothing.
    with browser_client(server.url) as stranger:
        assert stranger.get("/book/changes").status_code in (302, 303, 401)


def test_a_cursor_older_than_the_kept_tombstones_gets_the_whole_book(account: Account, services: Services) -> None:
    keep, gone = seed_clients(
        services.database_url, account.supplier_id, [{"partner1_first": "Old"}, {"partner1_first": "Gone"}]
    )
    _, _, cursor, _ = _sweep(account)
    with psycopg.connect(services.database_url) as conn:
        conn.execute("DELETE FROM clients WHERE id = %s", [gone])
        conn.execute("UPDATE book_deletions SET deleted_at = now() - interval '40 days' WHERE client_id = %s", [gone])
        assert conn.execute("SELECT purge_book_deletions(30)").fetchone() == (1,)
    rows, deleted, _, full = _sweep(account, cursor)
    assert (full, set(rows), deleted) == (True, {keep}, set())
    # Garbage is a fresh start too, never an error.
    assert _changes(account, "not-a-cursor")["full"] is True


def test_an_import_sends_only_what_it_changed_and_its_undo_sends_the_rest(
    account: Account, services: Services, worker: subprocess.Popen[bytes], server: Server
) -> None:
    def ids() -> dict[str, int]:
        with psycopg.connect(services.database_url) as conn:
            rows = conn.execute("SELECT external_id, id FROM clients WHERE supplier_id = %s", [account.supplier_id])
            return {r[0]: r[1] for r in rows}

    header = "Client ID,First Name,Last Name,Email,Venue\r\n"
    first = "U1,Emma,Davis,emma@example.com,Old Barn\r\nU2,Noah,Hart,noah@example.com,Mill\r\n"
    import_and_wait(account, header + first)
    _, _, cursor, _ = _sweep(account)
    # The re-import's upsert changes U1 and adds U3; U2 is the same and is not sent again.
    second = import_and_wait(
        account,
        header + "U1,Emma,Davis,emma@example.com,New Barn\r\nU2,Noah,Hart,noah@example.com,Mill\r\n"
        "U3,Ava,Miller,ava@example.com,Chapel\r\n",
    )
    known = ids()
    rows, deleted, cursor, _ = _sweep(account, cursor)
    assert (set(rows), deleted) == ({known["U1"], known["U3"]}, set())
    assert rows[known["U1"]][6] == "New Barn"
    # Undoing it deletes U3 outright and puts U1's venue back.
    done = account.post(f"{second}/undo", {"confirm": "yes"}, csrf_page=f"{second}/undo")
    assert done.status_code == 200
    rows, deleted, _, _ = _sweep(account, cursor)
    assert (set(rows), deleted) == ({known["U1"]}, {known["U3"]})
    assert rows[known["U1"]][6] == "Old Barn"
