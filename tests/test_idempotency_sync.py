"""Idempotency-Key on every request the phone's outbox may replay: start-sync, status, new lead (notes are in
test_idempotency.py). Same key → applied once and replayed; same key, different body → 422; retry while the
first is still running → 409; keys kept at least 7 days; a 409 conflict carries both versions."""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import httpx
import psycopg
import pytest

from tests.fixtures import Account, Server, Services, seed_clients
from webapp.idempotency import request_fingerprint


def _one(services: Services, sql: str, params: list[object]) -> object:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(sql, params).fetchone()
    assert row is not None
    return row[0]


def _integration(services: Services, supplier_id: int) -> int:
    # A Tave connection pointing at a closed local port: a job that a worker picks up fails at once, harmlessly.
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(supplier_id)])
        row = conn.execute(
            "INSERT INTO crm_integrations (supplier_id, provider, name, base_url) "
            "VALUES (%s, 'tave', 'Test Tave', 'http://127.0.0.1:9') RETURNING id",
            [supplier_id],
        ).fetchone()
    assert row is not None
    return int(row[0])


def _jobs(services: Services, integration_id: int) -> int:
    return int(_one(services, "SELECT count(*) FROM sync_jobs WHERE integration_id = %s", [integration_id]))  # type: ignore[call-overload]


def _claim_in_progress(services: Services, supplier_id: int, key: str, path: str, data: dict[str, str]) -> None:
    """What a first attempt that is still running leaves behind: a claimed key with no response yet."""
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "INSERT INTO idempotency_keys (supplier_id, key, request_hash) VALUES (%s, %s, %s)",
            [supplier_id, key, request_fingerprint("POST", path, data)],
        )


def test_start_sync_form_carries_a_fresh_key_per_button(account: Account, services: Services) -> None:
    _integration(services, account.supplier_id)
    html = account.client.get("/integrations").text
    keys = re.findall(r'name="idempotency_key" value="([^"]+)"', html)
    assert len(keys) == 2  # "Import everything" and "Sync changes"
    assert len(set(keys)) == 2


def test_start_sync_same_key_starts_one_job_and_replays_the_redirect(account: Account, services: Services) -> None:
    iid = _integration(services, account.supplier_id)
    data = {"kind": "incremental_sync", "idempotency_key": "sync-key-000001"}
    first = account.post(f"/integrations/{iid}/jobs", data, csrf_page="/integrations")
    second = account.post(f"/integrations/{iid}/jobs", data, csrf_page="/integrations")
    assert first.status_code == second.status_code == 303
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.headers["location"] == first.headers["location"]
    assert _jobs(services, iid) == 1


def test_start_sync_key_in_header_and_replay_as_htmx(account: Account, services: Services) -> None:
    iid = _integration(services, account.supplier_id)
    headers = {"Idempotency-Key": "sync-hdr-000001", "HX-Request": "true"}
    for _ in range(2):
        resp = account.client.post(
            f"/integrations/{iid}/jobs",
            data={"_csrf_token": account.csrf("/integrations"), "kind": "full_import"},
            headers=headers,
        )
        assert resp.status_code == 303
    assert _jobs(services, iid) == 1


def test_start_sync_same_key_different_body_is_422(account: Account, services: Services) -> None:
    iid = _integration(services, account.supplier_id)
    key = "sync-mismatch-01"
    ok = account.post(
        f"/integrations/{iid}/jobs", {"kind": "full_import", "idempotency_key": key}, csrf_page="/integrations"
    )
    assert ok.status_code == 303
    other = account.post(
        f"/integrations/{iid}/jobs", {"kind": "incremental_sync", "idempotency_key": key}, csrf_page="/integrations"
    )
    assert other.status_code == 422
    assert "different content" in other.text
    assert _jobs(services, iid) == 1


def test_start_sync_retry_while_first_is_running_is_409(account: Account, services: Services) -> None:
    iid = _integration(services, account.supplier_id)
    data = {"kind": "incremental_sync", "idempotency_key": "sync-inflight-1"}
    _claim_in_progress(services, account.supplier_id, data["idempotency_key"], f"/integrations/{iid}/jobs", data)
    resp = account.post(f"/integrations/{iid}/jobs", data, csrf_page="/integrations")
    assert resp.status_code == 409
    assert _jobs(services, iid) == 0


def test_start_sync_concurrent_sends_of_one_key_start_one_job(account: Account, services: Services) -> None:
    """Eight copies racing (a tab and the service worker, a double tap): one job, the rest replay or wait."""
    iid = _integration(services, account.supplier_id)
    token = account.csrf("/integrations")
    cookie = account.client.get("/integrations").request.headers["cookie"]

    def send(_: int) -> int:
        with httpx.Client(base_url=str(account.client.base_url), timeout=10) as c:
            resp = c.post(
                f"/integrations/{iid}/jobs",
                data={"_csrf_token": token, "kind": "incremental_sync", "idempotency_key": "sync-race-00001"},
                headers={"cookie": cookie},
            )
            return resp.status_code

    with ThreadPoolExecutor(8) as pool:
        codes = list(pool.map(send, range(8)))
    assert set(codes) <= {303, 409}
    assert 303 in codes
    assert _jobs(services, iid) == 1


def test_start_sync_unknown_kind_is_422_and_starts_nothing(account: Account, services: Services) -> None:
    iid = _integration(services, account.supplier_id)
    resp = account.post(
        f"/integrations/{iid}/jobs",
        {"kind": "export_to_crm", "idempotency_key": "sync-badkind-01"},
        csrf_page="/integrations",
    )
    assert resp.status_code == 422
    assert "That action isn&#39;t available." in resp.text
    assert _jobs(services, iid) == 0


def test_start_sync_keys_are_per_supplier(account: Account, services: Services) -> None:
    from tests.fixtures import signup

    other = signup(str(account.client.base_url), services.database_url)
    try:
        mine, theirs = _integration(services, account.supplier_id), _integration(services, other.supplier_id)
        data = {"kind": "full_import", "idempotency_key": "sync-shared-001"}
        assert account.post(f"/integrations/{mine}/jobs", data, csrf_page="/integrations").status_code == 303
        resp = other.post(f"/integrations/{theirs}/jobs", data, csrf_page="/integrations")
        assert resp.status_code == 303
        assert "idempotent-replayed" not in resp.headers
        assert _jobs(services, mine) == _jobs(services, theirs) == 1
    finally:
        other.client.close()


@pytest.mark.parametrize("path_kind", ["status", "lead"])
def test_status_and_lead_same_key_different_body_is_422(account: Account, services: Services, path_kind: str) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ada", "status": "lead"}])
    if path_kind == "status":
        path, first, second = (
            f"/clients/{cid}/status",
            {"status": "booked", "version": "1"},
            {"status": "archived", "version": "1"},
        )
    else:
        path, first, second = "/clients/", {"partner1_first": "Bea"}, {"partner1_first": "Cal"}
    key = f"{path_kind}-mismatch-1"
    assert account.post(path, {**first, "idempotency_key": key}, htmx=True).status_code in {200, 303}
    again = account.post(path, {**first, "idempotency_key": key}, htmx=True)
    assert again.headers["idempotent-replayed"] == "true"
    resp = account.post(path, {**second, "idempotency_key": key}, htmx=True)
    assert resp.status_code == 422
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, false)", [str(account.supplier_id)])
        status = conn.execute("SELECT status, version FROM clients WHERE id = %s", [cid]).fetchone()
        leads = conn.execute(
            "SELECT count(*) FROM clients WHERE supplier_id = %s AND source = 'manual'", [account.supplier_id]
        ).fetchone()
    if path_kind == "status":
        assert status == ("booked", 2)
    else:
        assert leads == (1,)


@pytest.mark.parametrize("path_kind", ["status", "lead"])
def test_status_and_lead_retry_while_running_is_409(account: Account, services: Services, path_kind: str) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Dee", "status": "lead"}])
    path = f"/clients/{cid}/status" if path_kind == "status" else "/clients/"
    data = {"status": "booked", "version": "1"} if path_kind == "status" else {"partner1_first": "Eve"}
    data["idempotency_key"] = f"{path_kind}-inflight-1"
    # The fingerprint uses the path as the app sees it (Litestar drops the trailing slash of "/clients/").
    _claim_in_progress(services, account.supplier_id, data["idempotency_key"], path.rstrip("/"), data)
    resp = account.post(path, data, htmx=True)
    assert resp.status_code == 409
    assert _one(services, "SELECT version FROM clients WHERE id = %s", [cid]) == 1
    leads = _one(
        services, "SELECT count(*) FROM clients WHERE supplier_id = %s AND source = 'manual'", [account.supplier_id]
    )
    assert leads == 0


def test_keys_are_kept_at_least_seven_days(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Flo"}])
    data = {"body": "Confetti at the church door", "idempotency_key": "week-old-key-01"}
    assert account.post(f"/clients/{cid}/notes", data, htmx=True).status_code == 200
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "UPDATE idempotency_keys SET created_at = now() - interval '7 days 1 hour' "
            "WHERE supplier_id = %s AND key = %s",
            [account.supplier_id, data["idempotency_key"]],
        )
    again = account.post(f"/clients/{cid}/notes", data, htmx=True)
    assert again.headers["idempotent-replayed"] == "true"
    assert _one(services, "SELECT count(*) FROM client_notes WHERE client_id = %s", [cid]) == 1


def test_status_conflict_carries_both_versions(account: Account, services: Services) -> None:
    """The outbox's "Changed on another device" screen needs theirs (status + version now) and mine."""
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Gil", "status": "lead"}])
    assert account.post(f"/clients/{cid}/status", {"status": "booked", "version": "1"}, htmx=True).status_code == 200
    resp = account.post(
        f"/clients/{cid}/status", {"status": "archived", "version": "1", "idempotency_key": "conflict-key-1"}, htmx=True
    )
    assert resp.status_code == 409
    assert 'data-status="booked"' in resp.text
    assert 'data-version="2"' in resp.text
    assert "archived" in resp.text  # mine, named in the message


def test_outbox_screen_is_served_to_anyone_and_empty_without_a_service_worker(account: Account, server: Server) -> None:
    # Signed out (an expired session) must still reach the screen that says what is waiting to be sent.
    anonymous = httpx.get(server.url + "/outbox")
    assert anonymous.status_code == 200
    assert 'id="outbox-list"' in anonymous.text
    assert 'hx-get="/outbox/list"' in anonymous.text
    page = account.client.get("/outbox").text
    # Signed in, the outbox is reached from the navigation: the header link on wide screens, "More" on phones.
    assert 'href="/outbox" class="outbox-link wide-only"' in page
    assert 'href="/more" class="phone-only outbox-link"' in page
    assert "data-outbox-count" in page
    assert f'data-account="{account.supplier_id}"' in page
    # Without a service worker nothing can have been saved on the phone: the list is empty.
    listing = httpx.get(server.url + "/outbox/list")
    assert listing.status_code == 200
    assert "Nothing is waiting to be sent." in listing.text
