"""HoneyBook through Zapier: a secret webhook URL that turns a POSTed contact into a client."""

from __future__ import annotations

import re
import subprocess

import httpx
import psycopg

from tests.fixtures import Account, Server, Services, wait_for


def _create_webhook(account: Account) -> str:
    resp = account.post("/integrations/honeybook-webhook", {}, csrf_page="/integrations/")
    assert resp.status_code == 200
    match = re.search(r"(http://[^\s<]+/hooks/honeybook/[A-Za-z0-9_-]+)", resp.text)
    assert match, resp.text[-2000:]
    return match.group(1)


def test_zapier_posts_a_contact_and_it_becomes_a_client(
    account: Account, services: Services, worker: subprocess.Popen[bytes]
) -> None:
    url = _create_webhook(account)
    payload = {"First Name": "Priya", "Last Name": "Shah", "Email": "PRIYA@Example.com", "Phone": "020 7946 0777",
               "Project Date": "2027-09-18", "Lead Source": "Instagram", "nested": {"ignored": True}}  # fmt: skip
    resp = httpx.post(url, json=payload)  # no session, no CSRF token: Zapier has neither
    assert resp.status_code == 202
    job_id = resp.json()["job_id"]

    def client_row() -> tuple[object, ...] | None:
        with psycopg.connect(services.database_url) as conn:
            return conn.execute(
                "SELECT partner1_first, partner1_email, partner1_phone, wedding_date::text, source, lead_source "
                "FROM clients WHERE supplier_id = %s", [account.supplier_id],
            ).fetchone()  # fmt: skip

    row = wait_for(client_row, 60, "the webhook contact to be imported")
    assert row == ("Priya", "priya@example.com", "+442079460777", "2027-09-18", "honeybook", "Instagram")
    with psycopg.connect(services.database_url) as conn:
        token_rows = conn.execute("SELECT token_sha256 FROM webhook_tokens").fetchall()
        assert all(url.rsplit("/", 1)[-1] not in r[0] for r in token_rows)  # only the hash is stored
        assert conn.execute("SELECT source FROM sync_jobs WHERE id = %s", [job_id]).fetchone() == ("honeybook",)


def test_unknown_token_and_garbage_are_refused(account: Account, server: Server) -> None:
    url = _create_webhook(account)
    assert httpx.post(server.url + "/hooks/honeybook/not-a-real-token", json={"Email": "a@b.c"}).status_code == 404
    assert httpx.post(server.url + "/hooks/honeybook", json={"Email": "a@b.c"}).status_code == 404
    garbage = httpx.post(url, content=b"\x00\xff not json", headers={"content-type": "application/json"})
    assert garbage.status_code == 422
    assert httpx.post(url, json=[1, 2, 3]).status_code == 422
    token = url.rsplit("/", 1)[-1]
    by_header = httpx.post(server.url + "/hooks/honeybook", json={"Email": "h@example.com"},
                           headers={"X-Webhook-Token": token})  # fmt: skip
    assert by_header.status_code == 202
