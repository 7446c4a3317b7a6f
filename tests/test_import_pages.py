"""The photographer's import flow over real HTTP: upload → preview → import by a real worker → result."""

from __future__ import annotations

import csv
import io
import re
import subprocess

import psycopg

from jobs.sandbox import SandboxConfig, running_sandbox
from tests.fixtures import Account, Server, Services, signup, wait_for

CSV_TEXT = (
    "Client ID;First Name;Last Name;E-mail;Mobile;Wedding Date;Venue\r\n"
    "A1;Émilie;Dubois;EMILIE@Example.com;07700 900111;14/06/2027;Château Lumière\r\n"
    "A2;Tom;Hart;tom@;07700 900112;25/12/2027;Kew Gardens\r\n"
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


def _job_finished(account: Account, job_url: str) -> str | None:
    html = account.client.get(job_url).text
    status = re.search(r'data-testid="job-status">([^<]+)<', html)
    assert status
    return html if status.group(1) in ("succeeded", "partially succeeded", "failed", "cancelled") else None


def test_upload_preview_import_and_fix_rows(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    location = _upload(account, CSV_TEXT.encode("cp1252", errors="replace").replace(b"?", b"e"), "clients.csv")
    job_path = location.removesuffix("/preview")
    preview = account.client.get(location)
    assert preview.status_code == 200
    text = preview.text
    assert 'data-testid="preview-new">2<' in text
    assert 'data-testid="preview-invalid">1<' in text
    assert "tom@" in text  # the bad email is named in plain words
    assert "emilie@example.com" in text  # lower-cased as it will be saved
    assert "+447700900111" in text
    with psycopg.connect(services.database_url) as conn:  # a preview writes no clients
        assert conn.execute(
            "SELECT count(*) FROM clients WHERE supplier_id = %s", [account.supplier_id]
        ).fetchone() == (0,)

    job_url = _start(account, text, job_path)
    final = wait_for(lambda: _job_finished(account, job_url), 60, "the import to finish")
    assert 'data-testid="job-created">2<' in final
    assert 'data-testid="job-failed">1<' in final
    assert "partially succeeded" in final

    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(
            "SELECT external_id, partner1_first, partner1_email, wedding_date::text FROM clients "
            "WHERE supplier_id = %s ORDER BY external_id",
            [account.supplier_id],
        ).fetchall()
    assert rows[0][0] == "A1"
    assert rows[0][2] == "emilie@example.com"
    assert rows[0][3] == "2027-06-14"
    assert rows[1][0] == "A3"
    assert rows[1][3] == "2028-01-01"

    errors_csv = account.client.get(f"{job_url}/errors.csv")
    assert errors_csv.status_code == 200
    assert "attachment" in errors_csv.headers["content-disposition"]
    parsed = list(csv.reader(io.StringIO(errors_csv.text.lstrip("\ufeff"))))
    assert parsed[0][:2] == ["Row", "Problem"]
    assert parsed[1][0] == "3"
    assert "tom@" in parsed[1][1]


def test_formula_cells_are_neutralised_in_the_errors_csv(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    body = b"Name,Email\r\n=cmd|' /C calc'!A0,not-an-email\r\n"
    location = _upload(account, body, "evil.csv")
    job_url = _start(account, account.client.get(location).text, location.removesuffix("/preview"))
    wait_for(lambda: _job_finished(account, job_url), 60, "the import to finish")
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
        final = wait_for(lambda: _job_finished(account, job_url), 90, "the Tave import to finish")
        assert "succeeded" in final
        with psycopg.connect(services.database_url) as conn:
            count = conn.execute(
                "SELECT count(*) FROM clients WHERE supplier_id = %s AND source = 'tave'", [account.supplier_id]
            ).fetchone()
        created = re.search(r'data-testid="job-created">(\d+)<', final)
        assert created
        assert count == (int(created.group(1)),)
        assert count[0] > 0


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
