from __future__ import annotations

import psycopg

from tests.fixtures import Account, Services, seed_clients


def _note_count(services: Services, cid: int) -> int:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT count(*) FROM client_notes WHERE client_id = %s", [cid]).fetchone()
    assert row is not None
    return int(row[0])


def test_same_key_is_applied_once_and_replayed(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Una"}])
    data = {"body": "First dance at 8", "idempotency_key": "key-replay-0001"}
    first = account.post(f"/clients/{cid}/notes", data, htmx=True)
    second = account.post(f"/clients/{cid}/notes", data, htmx=True)
    assert first.status_code == second.status_code == 200
    assert "idempotent-replayed" not in first.headers
    assert second.headers["idempotent-replayed"] == "true"
    assert second.text == first.text
    assert _note_count(services, cid) == 1


def test_header_key_works_like_the_form_field(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Vic"}])
    for _ in range(2):
        resp = account.client.post(
            f"/clients/{cid}/notes",
            data={"_csrf_token": account.csrf(), "body": "via header"},
            headers={"Idempotency-Key": "hdr-key-000001", "HX-Request": "true"},
        )
        assert resp.status_code == 200
    assert _note_count(services, cid) == 1


def test_same_key_different_body_is_422(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Wyn"}])
    account.post(f"/clients/{cid}/notes", {"body": "one", "idempotency_key": "key-mismatch-01"}, htmx=True)
    resp = account.post(f"/clients/{cid}/notes", {"body": "two", "idempotency_key": "key-mismatch-01"}, htmx=True)
    assert resp.status_code == 422
    assert _note_count(services, cid) == 1


def test_retry_while_first_is_running_is_409(account: Account, services: Services) -> None:
    [cid] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Xan"}])
    data = {"body": "slow", "idempotency_key": "key-inflight-01"}
    from webapp.idempotency import request_fingerprint

    # The first attempt has claimed the key and not finished (as a request still running would have).
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "INSERT INTO idempotency_keys (supplier_id, key, request_hash) VALUES (%s, %s, %s)",
            [account.supplier_id, data["idempotency_key"], request_fingerprint("POST", f"/clients/{cid}/notes", data)],
        )
    resp = account.post(f"/clients/{cid}/notes", data, htmx=True)
    assert resp.status_code == 409
    assert _note_count(services, cid) == 0


def test_keys_are_scoped_per_supplier(account: Account, services: Services) -> None:
    from tests.fixtures import signup

    other = signup(str(account.client.base_url), services.database_url)
    [a] = seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Yas"}])
    [b] = seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Zed"}])
    key = "shared-key-0001"
    assert account.post(f"/clients/{a}/notes", {"body": "a", "idempotency_key": key}, htmx=True).status_code == 200
    assert other.post(f"/clients/{b}/notes", {"body": "b", "idempotency_key": key}, htmx=True).status_code == 200
    assert _note_count(services, a) == 1
    assert _note_count(services, b) == 1
