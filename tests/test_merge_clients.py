"""Merging two clients: the side-by-side page, the merge and what moves with it, its replay, a version conflict, tenant
isolation, and imports from either source after a merge updating the survivor without recreating the other."""

from __future__ import annotations

import datetime as dt
import re
import threading
from pathlib import Path
from typing import Any

import msgspec
import psycopg
import pytest

from core import client_keys
from core.db.pool import tenant_sync
from core.import_service import create_file_job, open_pool
from core.importing.records import ClientRecord
from jobs.inline import run_inline
from jobs.upsert import SourceWriter
from tests.fixtures import Account, Server, Services, seed_clients, signup, wait_for
from tests.test_import_pages import _upload


def _merge_form(account: Account, keep: int, gone: int) -> tuple[str, dict[str, str]]:
    """The merge page's HTML and its form's fields as the page fills them (the checked radios)."""
    resp = account.client.get(f"/clients/{keep}/merge/{gone}")
    assert resp.status_code == 200
    html = resp.text
    fields = {
        "idempotency_key": re.search(r'name="idempotency_key" value="([^"]+)"', html).group(1),  # type: ignore[union-attr]
        "version": re.search(r'name="version" value="(\d+)"', html).group(1),  # type: ignore[union-attr]
        "other_version": re.search(r'name="other_version" value="(\d+)"', html).group(1),  # type: ignore[union-attr]
    }
    fields.update(re.findall(r'name="(keep_\w+)" value="(\w+)" checked', html))
    return html, fields


def _rows(database_url: str, query: str, params: list[Any]) -> list[tuple[Any, ...]]:
    with psycopg.connect(database_url) as conn:
        return conn.execute(query, params).fetchall()


def _job(database_url: str, supplier_id: int) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO sync_jobs (supplier_id, kind, source, status) "
            "VALUES (%s, 'file_import', 'vcard', 'succeeded') RETURNING id",
            [supplier_id],
        ).fetchone()
    assert row is not None
    return int(row[0])


def _pair(account: Account, services: Services) -> tuple[int, int]:
    return tuple(  # type: ignore[return-value]
        seed_clients(
            services.database_url,
            account.supplier_id,
            [
                {
                    "partner1_first": "Ada",
                    "partner1_last": "Lovelace",
                    "partner1_email": "ada@example.com",
                    "venue": "Barn",
                    "source": "csv",
                    "external_id": "c1",
                },
                {
                    "partner1_first": "Ada",
                    "partner1_last": "Lovelace",
                    "partner1_email": "ada@example.com",
                    "partner1_phone": "+447911123456",
                    "venue": "Kew Gardens",
                    "status": "booked",
                    "booking_date": dt.date(2026, 11, 2),
                    "source": "vcard",
                    "external_id": "v1",
                },
            ],
        )
    )


def test_the_merge_page_shows_both_and_the_merge_moves_everything_once(account: Account, services: Services) -> None:
    keep, gone = _pair(account, services)
    job = _job(services.database_url, account.supplier_id)
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "INSERT INTO client_notes (supplier_id, client_id, body) VALUES (%s, %s, 'Grandma photos first')",
            [account.supplier_id, gone],
        )
        conn.execute(
            "INSERT INTO sync_job_duplicates (supplier_id, job_id, client_id, other_client_id, reason) "
            "VALUES (%s, %s, %s, %s, 'same email')",
            [account.supplier_id, job, gone, keep],
        )
    # The job page links the pair to the merge, the one already here staying.
    assert f'href="/clients/{keep}/merge/{gone}"' in account.client.get(f"/jobs/{job}").text
    # From the client page: the pick page offers the reported duplicate.
    assert 'data-testid="merge-client"' in account.client.get(f"/clients/{keep}").text
    assert f'href="/clients/{keep}/merge/{gone}"' in account.client.get(f"/clients/{keep}/merge").text
    # Or a search by name, email or phone; never the client itself.
    found = account.client.get(f"/clients/{keep}/merge", params={"q": "kew"}).text
    assert f'href="/clients/{keep}/merge/{gone}"' in found
    assert f'href="/clients/{keep}/merge/{keep}"' not in found
    nothing = account.client.get(f"/clients/{gone}/merge", params={"q": "zebedee"}).text
    assert "No other client matches" in nothing

    html, form = _merge_form(account, keep, gone)
    differing = re.findall(r'<tr data-field="(\w+)">', html)
    assert differing == ["partner1_phone", "venue", "status"]  # a radio each; the rest shown once
    same = html.split('data-testid="merge-same"')[1].split("</dl>")[0]
    assert same.count("Lovelace") == 1
    assert same.count("ada@example.com") == 1
    # Defaults: the survivor's value, or the other's where the survivor has none.
    assert (form["keep_partner1_phone"], form["keep_venue"], form["keep_status"]) == ("other", "this", "this")
    form["keep_status"] = "other"

    first = account.post(f"/clients/{keep}/merge/{gone}", form, csrf_page=f"/clients/{keep}/merge/{gone}")
    again = account.post(f"/clients/{keep}/merge/{gone}", form, csrf_page=f"/clients/{keep}/merge/{gone}")
    assert first.status_code == again.status_code == 303
    assert first.headers["location"] == f"/clients/{keep}"
    assert again.headers["idempotent-replayed"] == "true"

    db = services.database_url
    pinned = {"partner1_phone": None, "venue": "Barn", "status": "lead", "booking_date": None}
    merged = "SELECT partner1_phone, venue, status, booking_date, version, app_edits FROM clients WHERE id = %s"
    assert _rows(db, merged, [keep]) == [("+447911123456", "Barn", "booked", dt.date(2026, 11, 2), 2, pinned)]
    assert _rows(db, "SELECT count(*) FROM clients WHERE id = %s", [gone]) == [(0,)]  # deleted for good
    assert _rows(db, "SELECT client_id FROM client_notes WHERE body = 'Grandma photos first'", []) == [(keep,)]
    assert _rows(db, "SELECT count(*) FROM sync_job_duplicates WHERE job_id = %s", [job]) == [(0,)]
    assert _rows(
        db,
        "SELECT source, external_id, target_source, target_external_id FROM client_source_aliases "
        "WHERE supplier_id = %s",
        [account.supplier_id],
    ) == [("vcard", "v1", "csv", "c1")]
    page = account.client.get(f"/clients/{keep}").text
    assert "Grandma photos first" in page
    assert "Kew Gardens" not in page
    assert account.client.get(f"/clients/{gone}").status_code == 404
    assert account.client.get("/clients/", params={"q": "lovelace"}).text.count(f'href="/clients/{keep}"') == 1


def test_a_merge_on_an_older_version_of_either_client_is_409_and_merges_nothing(
    account: Account, services: Services
) -> None:
    keep, gone = _pair(account, services)
    _, form = _merge_form(account, keep, gone)
    with psycopg.connect(services.database_url) as conn:  # edited on another phone meanwhile
        conn.execute("UPDATE clients SET venue = 'Castle', version = version + 1 WHERE id = %s", [gone])
    resp = account.post(f"/clients/{keep}/merge/{gone}", form, csrf_page=f"/clients/{keep}/merge/{gone}")
    assert resp.status_code == 409
    assert "changed elsewhere in the meantime" in resp.text
    assert "Castle" in resp.text  # as it is now, to choose again
    assert 'name="other_version" value="2"' in resp.text
    assert _rows(
        services.database_url, "SELECT id, version FROM clients WHERE id = ANY(%s) ORDER BY id", [[keep, gone]]
    ) == [
        (keep, 1),
        (gone, 2),
    ]
    # A replay of the refused request gets the same answer; a new choice on the page's versions merges.
    again = account.post(f"/clients/{keep}/merge/{gone}", form, csrf_page="/")
    assert (again.status_code, again.headers["idempotent-replayed"]) == (409, "true")
    _, fresh = _merge_form(account, keep, gone)
    assert account.post(f"/clients/{keep}/merge/{gone}", fresh, csrf_page="/").status_code == 303
    assert _rows(services.database_url, "SELECT venue FROM clients WHERE id = %s", [keep]) == [("Barn",)]


def test_another_studio_gets_404_everywhere(account: Account, server: Server, services: Services) -> None:
    keep, gone = _pair(account, services)
    intruder = signup(server.url, services.database_url, "Other Studio")
    [theirs] = seed_clients(services.database_url, intruder.supplier_id, [{"partner1_first": "Eve"}])
    _, form = _merge_form(account, keep, gone)
    assert intruder.client.get(f"/clients/{keep}/merge").status_code == 404
    assert intruder.client.get(f"/clients/{keep}/merge/{gone}").status_code == 404
    assert intruder.post(f"/clients/{keep}/merge/{gone}", form).status_code == 404
    # Nor can either studio reach the other's client through a pair with one of its own.
    assert intruder.client.get(f"/clients/{theirs}/merge/{gone}").status_code == 404
    assert account.client.get(f"/clients/{keep}/merge/{theirs}").status_code == 404
    assert account.post(f"/clients/{keep}/merge/{theirs}", {**form, "idempotency_key": "k" * 20}).status_code == 404
    assert account.client.get(f"/clients/{keep}/merge/{keep}").status_code == 404
    counted = "SELECT count(*) FROM clients WHERE id = ANY(%s)"
    assert _rows(services.database_url, counted, [[keep, gone, theirs]]) == [(3,)]


@pytest.fixture
def import_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("IMPORT_PROCESSES", "0")
    return tmp_path


def _import(database_url: str, supplier_id: int, path: Path) -> tuple[int, int]:
    """Runs the file's import in this process; (created, updated)."""
    with open_pool(database_url, max_size=2) as pool:
        job = create_file_job(pool, supplier_id, "GB", path)
        assert run_inline(pool, supplier_id, job) == "succeeded"
    [row] = _rows(database_url, "SELECT created_count, updated_count FROM sync_jobs WHERE id = %s", [job])
    return int(row[0]), int(row[1])


def _csv(path: Path, last: str, venue: str) -> Path:
    path.write_text(f"Client ID,First Name,Last Name,Email,Venue\r\nc1,Ada,{last},ada@example.com,{venue}\r\n")
    return path


def _vcf(path: Path, email: str) -> Path:
    path.write_text(
        f"BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v1\r\nFN:Ada Lovelace\r\nN:Lovelace;Ada;;;\r\nEMAIL:{email}\r\n"
        "TEL:+447911123456\r\nEND:VCARD\r\n",
        newline="",
    )
    return path


def test_imports_from_either_source_after_a_merge_update_the_survivor_and_create_nothing(
    account: Account, services: Services, import_dir: Path
) -> None:
    db, sid = services.database_url, account.supplier_id
    assert _import(db, sid, _csv(import_dir / "a.csv", "Lovelace", "Barn")) == (1, 0)
    assert _import(db, sid, _vcf(import_dir / "a.vcf", "ada@example.com")) == (1, 0)
    ids = dict(_rows(db, "SELECT source, id FROM clients WHERE supplier_id = %s", [sid]))
    keep, gone = ids["csv"], ids["vcard"]
    _, form = _merge_form(account, keep, gone)
    assert form["keep_partner1_phone"] == "other"
    assert account.post(f"/clients/{keep}/merge/{gone}", form, csrf_page="/").status_code == 303
    # The preview of the contacts says what the import will do: update one client, new none, no possible duplicate
    # (the survivor is the client the card's key now leads to).
    preview = account.client.get(
        _upload(account, _vcf(import_dir / "p.vcf", "ada@example.com").read_bytes(), "p.vcf", preset="vcard")
    ).text
    assert 'data-testid="preview-new">0<' in preview
    assert 'data-testid="preview-updated">1<' in preview
    assert 'data-testid="preview-duplicates">0<' in preview

    # The contacts again, unchanged, then with a new email; the spreadsheet with a new surname, and a new venue over
    # the one the merge kept (pinned: the app's value stays and the job lists the conflict).
    assert _import(db, sid, _vcf(import_dir / "b.vcf", "ada@example.com")) == (0, 0)
    assert _import(db, sid, _vcf(import_dir / "c.vcf", "ada.king@example.com")) == (0, 1)
    survivor = "SELECT partner1_email FROM clients WHERE id = %s"
    assert _rows(db, survivor, [keep]) == [("ada.king@example.com",)]
    # A field the merge did not pin follows the last import that wrote the client, whichever its source: the
    # spreadsheet still says ada@example.com.
    assert _import(db, sid, _csv(import_dir / "b.csv", "King", "Castle")) == (0, 1)
    assert _rows(
        db,
        "SELECT id, source, external_id, partner1_last, partner1_email, partner1_phone, venue FROM clients "
        "WHERE supplier_id = %s",
        [sid],
    ) == [(keep, "csv", "c1", "King", "ada@example.com", "+447911123456", "Barn")]
    assert _rows(db, "SELECT field, app_value, file_value FROM sync_job_conflicts WHERE client_id = %s", [keep]) == [
        ("venue", "Barn", "Castle")
    ]
    # Neither import reported the survivor as a duplicate of itself.
    assert _rows(db, "SELECT count(*) FROM sync_job_duplicates WHERE client_id = other_client_id", []) == [(0,)]


def _record(external_id: str, venue: str) -> ClientRecord:
    return ClientRecord(
        external_id=external_id, partner1_first="Ada", partner1_last="Lovelace", partner1_email="ada@example.com",
        partner1_phone=None, partner2_first="", partner2_last="", partner2_email=None, partner2_phone=None,
        wedding_date=None, venue=venue, status="lead", lead_source=None, inquiry_date=None, booking_date=None,
    )  # fmt: skip


def test_merges_of_one_source_chain_and_a_batch_holding_every_merged_key_updates_the_survivor_once(
    account: Account, services: Services
) -> None:
    db, sid = services.database_url, account.supplier_id
    base = {"partner1_first": "Ada", "partner1_last": "Lovelace", "partner1_email": "ada@example.com"}
    one, two, three = seed_clients(db, sid, [{**base, "external_id": f"c{n}", "venue": f"V{n}"} for n in (1, 2, 3)])
    for keep, gone in ((one, two), (three, one)):  # c2 into c1, then c1 (with c2's key) into c3
        _, form = _merge_form(account, keep, gone)
        assert account.post(f"/clients/{keep}/merge/{gone}", form, csrf_page="/").status_code == 303
    aliases = "SELECT external_id, target_external_id FROM client_source_aliases WHERE supplier_id = %s ORDER BY 1"
    assert _rows(db, aliases, [sid]) == [("c1", "c3"), ("c2", "c3")]
    # One batch with all three keys, the last row of the file winning as for a repeated key; the venue is pinned by
    # the merges (they differed), so the survivor keeps V3, and the surname, which they agreed on, follows the file.
    with open_pool(db, max_size=1) as pool, tenant_sync(pool, sid) as conn:
        writer = SourceWriter.for_job(conn, sid, "csv", None)
        last = msgspec.structs.replace(_record("c1", "X1"), partner1_last="King")
        batch = [_record("c2", "X2"), _record("c3", "X3"), last]
        counts = writer.write(conn, batch)
    assert (counts.created, counts.updated) == (0, 1)
    assert _rows(db, "SELECT id, external_id, partner1_last, venue FROM clients WHERE supplier_id = %s", [sid]) == [
        (three, "c3", "King", "V3")
    ]


def test_a_batch_arriving_during_a_merge_waits_for_it_and_then_updates_the_survivor(
    account: Account, services: Services
) -> None:
    """Without the studio's key lock (core.client_keys) the batch's snapshot could predate the merge: it would miss
    the alias, find the merged-away client deleted under it, and insert it again."""
    db, sid = services.database_url, account.supplier_id
    keep, gone = _pair(account, services)
    merging = psycopg.connect(db)
    merging.execute("SELECT set_config('app.supplier_id', %s, true)", [str(sid)])
    merging.execute(client_keys.FOR_MERGE, [sid])
    merging.execute("SELECT FROM clients WHERE id = ANY(%s) ORDER BY id FOR UPDATE", [[keep, gone]])  # as lock_pair
    done: list[tuple[int, int]] = []

    def import_batch() -> None:
        with open_pool(db, max_size=1) as pool, tenant_sync(pool, sid) as conn:
            counts = SourceWriter.for_job(conn, sid, "vcard", None).write(conn, [_record("v1", "Tower")])
        done.append((counts.created, counts.updated))

    batch = threading.Thread(target=import_batch)
    batch.start()

    def batch_waits_on_a_lock() -> bool:
        with psycopg.connect(db) as watcher:
            row = watcher.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND pid <> %s",
                [merging.info.backend_pid],
            ).fetchone()
        return bool(row and row[0])

    wait_for(batch_waits_on_a_lock, 30, "the import batch to wait for the merge's lock")
    assert not done  # waiting for the merge
    # What the merge writes for the vcard key, committed while the batch waits.
    merging.execute(
        "INSERT INTO client_source_aliases (supplier_id, source, external_id, target_source, target_external_id) "
        "VALUES (%s, 'vcard', 'v1', 'csv', 'c1')",
        [sid],
    )
    merging.execute("DELETE FROM clients WHERE id = %s", [gone])
    merging.commit()
    merging.close()
    batch.join(30)
    assert done == [(0, 1)]
    assert _rows(db, "SELECT id, venue FROM clients WHERE supplier_id = %s", [sid]) == [(keep, "Tower")]
