"""The kept client-list fragment answered in front of the route stack (``webapp.routes.clients.list_front``): the
same answer as the full path, byte for byte and header for header, and only when nothing else could apply."""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from tests.fixtures import Account, Server, Services, same_phone_on, seed_clients

HTMX = {"HX-Request": "true", "Accept-Encoding": "gzip"}
# A header sent twice is left to the full path: the same request, answered by the route stack.
FULL_PATH = [("HX-Request", "true"), ("HX-Boosted", "false"), ("HX-Boosted", "false"), ("Accept-Encoding", "gzip")]
VARYING = {"date", "x-request-id"}


def _front(server: Server) -> dict[str, float]:
    text = httpx.get(server.url + "/metrics").text
    return {
        s.labels["answer"]: s.value
        for family in text_string_to_metric_families(text)
        if family.name == "wedsync_list_front"
        for s in family.samples
        if s.name.endswith("_total")
    }


def _headers(resp: httpx.Response) -> dict[str, str]:
    return {k.lower(): v for k, v in resp.headers.items() if k.lower() not in VARYING}


def test_a_kept_fragment_is_the_full_paths_answer(account: Account, server: Server, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": f"Kept{i}"} for i in range(60)])
    phone = account.client
    for params in ({}, {"q": "kept"}):
        phone.get("/clients/", params=params, headers=HTMX)  # rendered and kept; the session renewed
        before = _front(server)
        kept = phone.get("/clients/", params=params, headers=HTMX)
        assert _front(server).get("kept", 0) == before.get("kept", 0) + 1, "the front did not answer"
        full = phone.get("/clients/", params=params, headers=FULL_PATH)
        assert _front(server).get("kept", 0) == before.get("kept", 0) + 1, "the full path was not taken"
        assert kept.status_code == full.status_code == 200
        assert kept.content == full.content
        assert kept.headers["content-encoding"] == "gzip"
        assert _headers(kept) == _headers(full)
        assert kept.headers["x-request-id"]
        assert "frame-ancestors 'none'" in kept.headers["content-security-policy"]

        # A phone revalidating its copy: 304 from the front, as from the full path.
        etag = kept.headers["etag"]
        kept_304 = phone.get("/clients/", params=params, headers={**HTMX, "If-None-Match": etag})
        full_304 = phone.get("/clients/", params=params, headers=[*FULL_PATH, ("If-None-Match", etag)])
        assert kept_304.status_code == full_304.status_code == 304
        assert _headers(kept_304) == _headers(full_304)


def test_the_front_passes_on_what_it_does_not_know(account: Account, server: Server, second: Server) -> None:
    account.client.get("/clients/", headers=HTMX)
    account.client.get("/clients/", headers=HTMX)
    before = _front(server)
    # Unknown parameters, a query too long, a control character, a page load, no session: the full path answers.
    assert account.client.get("/clients/", params={"deleted": "1"}, headers=HTMX).status_code == 200
    assert account.client.get("/clients/", params={"q": "x" * 101}, headers=HTMX).status_code == 400
    assert account.client.get("/clients/", params={"q": "a\x00b"}, headers=HTMX).status_code == 400
    assert account.client.get("/clients/").status_code == 200
    signed_out = httpx.get(server.url + "/clients/", headers=HTMX)
    assert signed_out.status_code == 401
    assert signed_out.headers["hx-redirect"] == "/login"
    after = _front(server)
    assert after.get("kept", 0) == before.get("kept", 0)
    assert after.get("passed", 0) == before.get("passed", 0) + 5

    # Signed out through this process: the very next list request is not answered from the kept fragment.
    twin = same_phone_on(account, second)
    assert account.post("/logout", {}).status_code == 303
    assert twin.get("/clients/", headers=HTMX).status_code == 401
    assert account.client.get("/clients/", headers=HTMX).status_code == 401
    twin.close()
