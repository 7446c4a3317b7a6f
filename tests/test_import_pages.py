"""The photographer's import flow over real HTTP: upload → preview → import by a real worker → result."""

from __future__ import annotations

import csv
import io
import re
import subprocess
from typing import Any

import psycopg

from jobs.sandbox import SandboxConfig, running_sandbox
from tests.fixtures import Account, Server, Services, import_and_wait, job_ended, signup, wait_for

CSV_TEXT = (
    "Client ID;First Name;Last Name;E-mail;Mobile;Wedding Date;Venue\r\n"
    "A1;Émilie;Dubois;EMILIE@Example.com;020 7946 0111;14/06/2027;Château Lumière\r\n"
    "A2;Tom;Hart;tom@;020 7946 0112;25/12/2027;Kew Gardens\r\n"
    'A3;=HYPERLINK("x");Evil;evil@example.com;;01/01/2028;\r\n'
)


def _upload(account: Account, body: bytes, filename: str, preset: str = "csv") -> str:
    token = account.csrf("/imports/new")
    resp = account.client.post(
        "/imports/", data={"_csrf_token": token, "preset": preset}, files={"file": (filename, body, "text/csv")}
    )
    assert resp.status_code == 303, resp.text[:500]
    return resp.headers["location"]


def _start(account: Account, preview_html: str, job_path: str) -> str:
    mapping = re.search(r'name="mapping" value="([^"]+)"', preview_html)
    signature = re.search(r'name="signature" value="([^"]+)"', preview_html)
    assert mapping
    assert signature
    import html

    resp = account.client.post(
        f"{job_path}/start",
        data={
            "_csrf_token": account.csrf(),
            "mapping": html.unescape(mapping.group(1)),
            "signature": signature.group(1),
        },
    )
    assert resp.status_code == 303
    return resp.headers["location"]


def test_upload_preview_import_and_fix_rows(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    location = _upload(account, CSV_TEXT.encode("cp1252", errors="replace").replace(b"?", b"e"), "clients.csv")
    job_path = location.removesuffix("/preview")
    preview = account.client.get(location)
    assert preview.status_code == 200
    text = preview.text
    assert 'data-testid="preview-new">3<' in text
    assert 'data-testid="preview-invalid">0<' in text
    assert 'data-testid="preview-warned">1<' in text
    assert "tom@" in text  # the bad email is named in plain words
    assert "emilie@example.com" in text  # lower-cased as it will be saved
    assert "+442079460111" in text
    with psycopg.connect(services.database_url) as conn:  # a preview writes no clients
        assert conn.execute(
            "SELECT count(*) FROM clients WHERE supplier_id = %s", [account.supplier_id]
        ).fetchone() == (0,)

    job_url = _start(account, text, job_path)
    final = wait_for(lambda: job_ended(account, job_url), 60, "the import to finish")
    assert 'data-testid="job-created">3<' in final
    assert 'data-testid="job-failed">0<' in final
    assert "1 imported with something left out" in final

    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(
            "SELECT external_id, partner1_first, partner1_email, wedding_date::text FROM clients "
            "WHERE supplier_id = %s ORDER BY external_id",
            [account.supplier_id],
        ).fetchall()
    assert rows[0][0] == "A1"
    assert rows[0][2] == "emilie@example.com"
    assert rows[0][3] == "2027-06-14"
    assert rows[1][:3] == ("A2", "Tom", None)  # kept without the email no one could send to
    assert rows[2][0] == "A3"
    assert rows[2][3] == "2028-01-01"

    errors_csv = account.client.get(f"{job_url}/errors.csv")
    assert errors_csv.status_code == 200
    assert "attachment" in errors_csv.headers["content-disposition"]
    parsed = list(csv.reader(io.StringIO(errors_csv.text.lstrip("\ufeff"))))
    assert parsed[0][:3] == ["Row", "Imported", "Problem"]
    assert parsed[1][:2] == ["3", "yes, without it"]
    assert "tom@" in parsed[1][2]


def test_formula_cells_are_neutralised_in_the_errors_csv(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    body = b"Name,Email\r\n=cmd|' /C calc'!A0" + b"x" * 200 + b",not-an-email\r\n"  # a name no one has: not imported
    location = _upload(account, body, "evil.csv")
    job_url = _start(account, account.client.get(location).text, location.removesuffix("/preview"))
    wait_for(lambda: job_ended(account, job_url), 60, "the import to finish")
    parsed = list(csv.reader(io.StringIO(account.client.get(f"{job_url}/errors.csv").text.lstrip("\ufeff"))))
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in parsed for cell in row)
    assert any(cell.startswith("'=cmd") for row in parsed for cell in row)


def test_mapping_is_remembered_for_the_next_file_of_the_same_shape(
    account: Account, worker: subprocess.Popen[bytes]
) -> None:
    body = b"Who,Contact,When\r\nAnna Berg,anna@example.com,2027-05-01\r\n"
    location = _upload(account, body, "odd.csv")
    remap = account.client.post(
        location,
        data={
            "_csrf_token": account.csrf(),
            "map_0": "partner1_name",
            "map_1": "partner1_email",
            "map_2": "wedding_date",
        },
    )
    assert 'data-testid="preview-new">1<' in remap.text
    _start(account, remap.text, location.removesuffix("/preview"))
    second = account.client.get(_upload(account, body.replace(b"Anna", b"Bea"), "odd2.csv")).text
    assert re.search(r'<option value="partner1_name" selected>', second)
    assert re.search(r'<option value="wedding_date" selected>', second)


def test_unreadable_files_get_a_clear_message(account: Account) -> None:
    empty = account.client.post(
        "/imports/",
        data={"_csrf_token": account.csrf("/imports/new"), "preset": "csv"},
        files={"file": ("empty.csv", b"   ", "text/csv")},
    )
    assert empty.status_code == 422
    assert "looks empty" in empty.text
    junk = account.client.get(_upload(account, bytes(range(256)) * 50, "junk.csv"))
    assert junk.status_code == 422
    assert "doesn" in junk.text


def test_another_supplier_cannot_see_an_import(server: Server, services: Services, account: Account) -> None:
    location = _upload(account, b"Name,Email\r\nZoe,zoe@example.com\r\n", "mine.csv")
    job_path = location.removesuffix("/preview")
    job_id = job_path.rsplit("/", 1)[-1]
    other = signup(server.url, services.database_url)
    assert other.client.get(location).status_code == 404
    assert other.client.get(f"/jobs/{job_id}").status_code == 404
    assert other.client.get(f"/jobs/{job_id}/errors.csv").status_code == 404
    assert other.post(f"/jobs/{job_id}/cancel", {}).status_code == 404


def test_connect_tave_and_import_everything(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    with running_sandbox(SandboxConfig(size=40, seed=7)) as base:
        bad = account.post(
            "/integrations/",
            {"provider": "tave", "api_key": "wrong", "base_url": f"{base}/v2"},
            csrf_page="/integrations/",
        )
        assert bad.status_code == 422
        assert "wrong" not in bad.text.split("</header>", 1)[1]  # the key is never echoed back
        ok = account.post(
            "/integrations/",
            {"provider": "tave", "api_key": "sandbox-key", "base_url": f"{base}/v2"},
            csrf_page="/integrations/",
        )
        assert ok.status_code == 200
        assert "is connected" in ok.text
        with psycopg.connect(services.database_url) as conn:
            integration_id, secret = conn.execute(
                "SELECT id, secret_encrypted FROM crm_integrations WHERE supplier_id = %s AND provider = 'tave'",
                [account.supplier_id],
            ).fetchone() or (None, None)
        assert integration_id
        assert b"sandbox-key" not in bytes(secret)
        started = account.post(
            f"/integrations/{integration_id}/jobs", {"kind": "full_import"}, csrf_page="/integrations/"
        )
        assert started.status_code == 303
        job_url = started.headers["location"]
        final = wait_for(lambda: job_ended(account, job_url), 90, "the Tave import to finish")
        assert "succeeded" in final
        with psycopg.connect(services.database_url) as conn:
            count = conn.execute(
                "SELECT count(*) FROM clients WHERE supplier_id = %s AND source = 'tave'", [account.supplier_id]
            ).fetchone()
        created = re.search(r'data-testid="job-created">(\d+)<', final)
        assert created
        assert count == (int(created.group(1)),)
        assert count[0] > 0


def test_american_numbers_in_a_uk_studio_are_read_as_american(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    body = (
        b"First Name,Last Name,Email,Phone,Project Date\r\n"
        b"Ava,Miller,ava@example.com,(312) 573-3291,06/07/2027\r\n"
        b"Liam,Brown,liam@example.com,415-555-0134,08/09/2027\r\n"
    )
    location = _upload(account, body, "honeybook.csv", preset="honeybook")
    preview = account.client.get(location).text
    assert "read as US numbers (+1)" in preview
    # The photographer can say otherwise: read as UK numbers, neither is a number anyone has.
    chosen = account.client.post(
        location,
        data={"_csrf_token": account.csrf(), "map_0": "partner1_first", "map_1": "partner1_last",
              "map_2": "partner1_email", "map_3": "partner1_phone", "map_4": "wedding_date", "phone_region": "GB"},
    ).text  # fmt: skip
    assert 'data-testid="preview-warned">2<' in chosen
    job_url = _start(account, preview, location.removesuffix("/preview"))
    wait_for(lambda: job_ended(account, job_url), 60, "the import to finish")
    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(
            "SELECT partner1_first, partner1_phone, wedding_date::text FROM clients WHERE supplier_id = %s "
            "ORDER BY partner1_first",
            [account.supplier_id],
        ).fetchall()
    assert rows == [("Ava", "+13125733291", "2027-06-07"), ("Liam", "+14155550134", "2027-08-09")]


def test_the_upload_form_offers_every_file_source_and_the_preview_says_what_was_fixed(account: Account) -> None:
    from core.sources import UPLOAD_LABELS

    form = account.client.get("/imports/new").text
    for key, label in UPLOAD_LABELS.items():
        assert f'value="{key}"' in form
        assert label in form
    google = (
        "Name,Given Name,Family Name,Notes,E-mail 1 - Type,E-mail 1 - Value,Event 1 - Type,Event 1 - Value\r\n"
        "Olivia Bennett,Olivia,Bennett,Met at a fair,* Home,olivia@example.com ::: liv@example.com,Anniversary,"
        "2027-06-12\r\n"
        "Tom Pr\x00ice,Tom,Price,,* Home,tom@example.com,,\r\n"
    )
    location = _upload(account, google.encode(), "contacts.csv")  # chosen as a plain spreadsheet
    text = account.client.get(location).text
    assert "olivia@example.com" in text
    assert "liv@example.com" not in text.split("First rows as they will be saved")[1]
    assert 'value="notes" selected' in text  # the Notes column is mapped, and Notes is in the field list
    assert "We removed 1 invisible NUL character (a sign of a damaged export) from line 3" in text
    assert "This looks like a Google Contacts export" in text


def test_a_tave_export_upload_is_not_a_tave_connection(account: Account) -> None:
    tave = (
        "Job ID,Job Type,Job Stage,Event Date,Client 1 First Name,Client 1 Email\r\n"
        "j1,Wedding,Booked,2027-05-29,Lucy,l@example.com\r\n"
    )
    _upload(account, tave.encode(), "jobs.csv", preset="tave")
    page = account.client.get("/integrations/").text
    assert "Tave exports" in page
    card = page.split("Tave exports")[1].split("</section>")[0]
    assert "Import everything" not in card
    assert "Test connection" not in card


def test_a_reimport_keeps_what_was_changed_in_the_app_and_asks_about_real_conflicts(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    header = "Client ID,First Name,Last Name,Email,Status,Venue\r\n"
    import_and_wait(
        account,
        header + "K1,Emma,Davis,emma@example.com,Enquiry,Old Barn\r\nK2,Noah,Hart,noah@example.com,Enquiry,Mill\r\n",
    )
    with psycopg.connect(services.database_url) as conn:
        ids = dict(conn.execute("SELECT external_id, id FROM clients WHERE supplier_id = %s", [account.supplier_id]))
    for external_id in ("K1", "K2"):  # both booked in the app
        resp = account.post(f"/clients/{ids[external_id]}/status", {"status": "booked", "version": "1"}, htmx=True)
        assert resp.status_code == 200

    # The file moves Emma's venue (the app never touched it) and marks Noah lost (the app booked him).
    job_url = import_and_wait(
        account,
        header + "K1,Emma,Davis,emma@example.com,Enquiry,New Barn\r\nK2,Noah,Hart,noah@example.com,Lost,Mill\r\n",
    )
    with psycopg.connect(services.database_url) as conn:
        rows = dict(
            (r[0], r[1:])
            for r in conn.execute(
                "SELECT external_id, status, venue FROM clients WHERE supplier_id = %s", [account.supplier_id]
            )
        )
    assert rows == {"K1": ("booked", "New Barn"), "K2": ("booked", "Mill")}
    page = account.client.get(job_url).text
    assert page.count('data-testid="conflict"') == 1
    assert "In WedSync: “booked” · In the file: “archived”" in page
    conflict = re.search(r'action="(/jobs/\d+/conflicts/\d+)"', page)
    assert conflict
    assert account.post(conflict.group(1), {"choice": "file"}, csrf_page=job_url).status_code == 303
    with psycopg.connect(services.database_url) as conn:
        status = conn.execute("SELECT status FROM clients WHERE id = %s", [ids["K2"]]).fetchone()
    assert status == ("archived",)
    assert "Took the file" in account.client.get(job_url).text


def test_undo_an_import_removes_what_it_added_and_puts_back_what_it_changed(
    account: Account, services: Services, worker: subprocess.Popen[bytes], server: Server
) -> None:
    def book() -> dict[str, tuple[Any, ...]]:
        with psycopg.connect(services.database_url) as conn:
            rows = conn.execute(
                "SELECT external_id, venue, status FROM clients WHERE supplier_id = %s", [account.supplier_id]
            )
            return {r[0]: r[1:] for r in rows}

    header = "Client ID,First Name,Last Name,Email,Venue\r\n"
    first = "U1,Emma,Davis,emma@example.com,Old Barn\r\nU2,Noah,Hart,noah@example.com,Mill\r\n"
    import_and_wait(account, header + first)
    before = book()
    second = import_and_wait(
        account,
        header + "U1,Emma,Davis,emma@example.com,New Barn\r\nU2,Noah,Hart,noah@example.com,New Mill\r\n"
        "U3,Ava,Miller,ava@example.com,Chapel\r\n",
    )
    with psycopg.connect(services.database_url) as conn:
        u1 = conn.execute("SELECT id, version FROM clients WHERE external_id = 'U1' AND supplier_id = %s",
                          [account.supplier_id]).fetchone()  # fmt: skip
    assert u1 is not None
    resp = account.post(f"/clients/{u1[0]}/status", {"status": "booked", "version": str(u1[1])}, htmx=True)
    assert resp.status_code == 200  # Emma booked in the app after the second import

    confirm = account.client.get(f"{second}/undo").text
    assert re.search(r'data-testid="undo-created">.*?<strong>1</strong>', confirm, re.S)
    assert re.search(r'data-testid="undo-updated">.*?<strong>2</strong>', confirm, re.S)
    assert 'data-testid="undo-kept">1 of them' in confirm
    done = account.post(f"{second}/undo", {"confirm": "yes"}, csrf_page=f"{second}/undo")
    assert done.status_code == 200
    assert "Undone: 1 client removed, 1 put back as they were, 1 changed since and kept." in done.text
    assert "Emma Davis" in done.text
    after = book()
    assert "U3" not in after
    assert after["U2"] == before["U2"]  # put back
    assert after["U1"] == ("New Barn", "booked")  # changed since: kept as it is now
    assert 'data-testid="job-undone"' in account.client.get(second).text
    assert account.client.get(f"{second}/undo").status_code == 404  # once

    intruder = signup(server.url, services.database_url, "Other Studio")
    assert intruder.client.get(f"{second}/undo").status_code == 404


def test_a_stopped_import_can_be_tried_again_from_its_page(account: Account, services: Services) -> None:
    """ "Try again" shows on a stopped import that still has its file and a confirmed mapping, and queues it; an
    upload stopped before its mapping was confirmed has nothing to try again."""
    draft = _upload(account, CSV_TEXT.encode(), "stopped.csv")
    job_id = int(draft.removesuffix("/preview").rsplit("/", 1)[-1])
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE sync_jobs SET status = 'cancelled', finished_at = now() WHERE id = %s", [job_id])
    assert "Try again" not in account.client.get(f"/jobs/{job_id}").text  # a draft: no mapping to import with
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            'UPDATE sync_jobs SET options = options || \'{"mapping": {"columns": {}}}\', cancel_requested = true '
            "WHERE id = %s",
            [job_id],
        )
    page = account.client.get(f"/jobs/{job_id}").text
    assert "Try again" in page
    resp = account.client.post(f"/jobs/{job_id}/retry", data={"_csrf_token": account.csrf(f"/jobs/{job_id}")})
    assert resp.status_code == 303
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT status, cancel_requested FROM sync_jobs WHERE id = %s", [job_id]).fetchone()
    assert row is not None
    assert row[0] != "cancelled"
    assert row[1] is False
