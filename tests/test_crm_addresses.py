"""CRM addresses lead only to the public internet: checked when saved and again on every request (SSRF)."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

import httpx
import psycopg
import pytest

from core.providers.addresses import PublicOnlyTransport, Resolver, UnsafeAddress, resolve_crm_url
from core.providers.errors import ProviderError
from core.providers.lightblue import LightBlueClient, LightBlueLead
from core.providers.tave import TaveClient
from jobs.sandbox import SandboxConfig, running_sandbox
from tests.fixtures import Account, Server, Services, same_phone_on

# Every way the review reached this machine with the old prefix check, and the networks a cloud server must never
# be made to call. {port} is a port that answers on this machine.
HOSTILE = [
    "https://[::1]:{port}/v2",
    "https://0.0.0.0:{port}/v2",
    "https://LOCALHOST:{port}/v2",
    "https://localhost.:{port}/v2",
    "https://2130706433:{port}/v2",
    "https://017700000001:{port}/v2",
    "https://0x7f000001:{port}/v2",
    "https://127.1:{port}/v2",
    "https://0:{port}/v2",
    "https://[::ffff:127.0.0.1]:{port}/v2",
    "https://[::ffff:7f00:1]:{port}/v2",
    "https://[2002:7f00:1::]:{port}/v2",
    "https://127.0.0.1:{port}/v2",
    "http://127.0.0.1:{port}/v2",
    "http://127.0.0.1@[::1]:{port}/v2",
    "https://user:pw@example.com:{port}/v2",
    "https://10.1.2.3:{port}/v2",
    "https://172.16.0.1:{port}/v2",
    "https://192.168.1.1:{port}/v2",
    "https://169.254.169.254/latest/meta-data",
    "https://[fe80::1]:{port}/v2",
    "https://[fd00::1]:{port}/v2",
    "https://100.64.0.1:{port}/v2",
    "https://224.0.0.1:{port}/v2",
    "https://240.0.0.1:{port}/v2",
    "https://[ff02::1]:{port}/v2",
]


def _fake_dns(table: dict[str, list[str]]) -> Resolver:
    def resolve(host: str, port: int) -> list[str]:
        if host not in table:
            raise UnsafeAddress("no such host")
        return table[host]

    return resolve


def test_only_public_addresses_pass_the_save_time_check() -> None:
    for url in HOSTILE:
        with pytest.raises(UnsafeAddress):
            resolve_crm_url(url.format(port=8443))
    dns = _fake_dns(
        {
            "crm.example": ["93.184.216.34", "2606:2800:220:1::1"],
            "internal.example": ["10.0.0.5"],
            "metadata.example": ["169.254.169.254"],
            "mixed.example": ["93.184.216.34", "127.0.0.1"],  # every address must be public
            "mapped.example": ["::ffff:10.0.0.1"],
        }
    )
    assert resolve_crm_url("https://crm.example/v2", resolver=dns) == ["93.184.216.34", "2606:2800:220:1::1"]
    assert resolve_crm_url("https://93.184.216.34/v2") == ["93.184.216.34"]
    for host in ("internal.example", "metadata.example", "mixed.example", "mapped.example", "unknown.example"):
        with pytest.raises(UnsafeAddress):
            resolve_crm_url(f"https://{host}/v2", resolver=dns)


def test_the_sandbox_setting_adds_loopback_and_nothing_else() -> None:
    assert resolve_crm_url("http://127.0.0.1:8765/v2", allow_local=True) == ["127.0.0.1"]
    assert resolve_crm_url("https://[::1]:8765/v2", allow_local=True) == ["::1"]
    for url in (
        "http://127.0.0.1@[::1]:8765/v2",  # userinfo
        "https://2130706433:8765/v2",  # a number for a host
        "https://0.0.0.0:8765/v2",
        "https://10.0.0.1/v2",
        "https://169.254.169.254/",
        "http://93.184.216.34/v2",  # plain http leaves this machine only never
    ):
        with pytest.raises(UnsafeAddress):
            resolve_crm_url(url, allow_local=True)


class _Counter(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:
        type(self).hits += 1
        self.send_response(404)
        self.send_header("content-length", "0")
        self.end_headers()

    do_POST = do_GET

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def listener() -> Iterator[tuple[int, type[_Counter]]]:
    """A web server on this machine that answers 404 to everything and counts what reaches it."""
    handler = type("Counter", (_Counter,), {"hits": 0})
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield srv.server_address[1], handler
    finally:
        srv.shutdown()
        srv.server_close()


def test_every_request_is_checked_when_it_is_sent(listener: tuple[int, type[_Counter]]) -> None:
    """Addresses saved earlier (or whose DNS changed since) are refused by the provider clients of a production
    process, before anything is sent; the refusal reads exactly like an address that does not answer."""
    port, counter = listener
    tave = TaveClient(f"http://127.0.0.1:{port}/v2", "k", sleep=lambda _: None)
    refused = tave.test_connection()
    lightblue = LightBlueClient(f"http://127.0.0.1:{port}/api.php", "k", sleep=lambda _: None)
    with pytest.raises(ProviderError) as lb_err:
        lightblue.post_lead(LightBlueLead(client_id="c-1", first_name="Ada"))
    assert counter.hits == 0
    closed = TaveClient("http://127.0.0.1:9/v2", "k", sleep=lambda _: None, allow_local=True).test_connection()
    assert not refused.ok
    assert refused.reason == closed.reason  # refused or unreachable: the same words
    assert lb_err.value.kind == "unreachable"
    # DNS rebinding: the transport connects to the very address it checked, never asking DNS again. "crm.example"
    # exists only in this resolver, so a request that arrives proves it went to the checked address.
    dns = _fake_dns({"crm.example": ["127.0.0.1"]})
    with httpx.Client(transport=PublicOnlyTransport(resolver=dns)) as production:
        with pytest.raises(UnsafeAddress):
            production.get(f"http://crm.example:{port}/v2/job")
        with pytest.raises(UnsafeAddress):
            production.get(f"https://crm.example:{port}/v2/job")
    assert counter.hits == 0
    with httpx.Client(transport=PublicOnlyTransport(resolver=dns, allow_local=True)) as sandbox:
        assert sandbox.get(f"http://crm.example:{port}/v2/job").status_code == 404
    assert counter.hits == 1


@pytest.fixture
def production(second: Server) -> Server:
    """The second web process runs without ALLOW_LOCAL_CRM_URLS, as production does."""
    return second


NEUTRAL = re.compile(r"couldn(?:'|&#39;)t connect to (Tave / VSCO Workspace|Light Blue) at that address")


def _connect(client: httpx.Client, account: Account, provider: str, url: str) -> httpx.Response:
    token = re.search(r'name="_csrf_token" value="([^"]+)"', client.get("/integrations/").text)
    assert token
    data = {"_csrf_token": token.group(1), "provider": provider, "api_key": "sandbox-key", "base_url": url}
    return client.post("/integrations/", data=data)


def _integrations(database_url: str, supplier_id: int) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT count(*) FROM crm_integrations WHERE supplier_id = %s", [supplier_id]).fetchone()
    assert row is not None
    return int(row[0])


def test_a_production_server_refuses_local_addresses_for_every_provider(
    production: Server, account: Account, services: Services, listener: tuple[int, type[_Counter]]
) -> None:
    port, counter = listener
    phone = same_phone_on(account, production)
    before = _integrations(services.database_url, account.supplier_id)
    for provider in ("tave", "lightblue"):
        for url in HOSTILE:
            resp = _connect(phone, account, provider, url.format(port=port))
            assert resp.status_code == 422, (provider, url)
            error = resp.text.split('class="error"', 1)[-1][:300]
            assert NEUTRAL.search(error) or "must start with https://" in error, (provider, url, error)
    assert counter.hits == 0
    assert _integrations(services.database_url, account.supplier_id) == before


def test_an_address_saved_in_sandbox_mode_is_refused_by_a_production_server(
    server: Server, production: Server, account: Account
) -> None:
    with running_sandbox(SandboxConfig(size=10, seed=3)) as base:
        saved = _connect(account.client, account, "tave", f"{base}/v2")  # allowed here: ALLOW_LOCAL_CRM_URLS=1
        assert saved.status_code == 200, saved.text[:500]
        iid = re.search(r'action="/integrations/(\d+)/test"', saved.text)
        assert iid
        httpx.delete(f"{base}/_sandbox/stats").raise_for_status()
        phone = same_phone_on(account, production)
        token = re.search(r'name="_csrf_token" value="([^"]+)"', phone.get("/integrations/").text)
        assert token
        resp = phone.post(f"/integrations/{iid.group(1)}/test", data={"_csrf_token": token.group(1)})
        assert resp.status_code == 422
        assert "couldn" in resp.text
        assert httpx.get(f"{base}/_sandbox/stats").json()["total"] == 0  # nothing was sent to it
        again = account.post(f"/integrations/{iid.group(1)}/test", {}, csrf_page="/integrations/")
        assert again.status_code == 200  # (the sandbox does answer where local addresses are allowed)


def test_refused_and_unreachable_read_the_same_for_an_unproven_address(
    server: Server, account: Account, listener: tuple[int, type[_Counter]]
) -> None:
    """A port that answers 404 and a closed port give one message: the form is no port scanner."""
    port, counter = listener
    answered = _connect(account.client, account, "tave", f"http://127.0.0.1:{port}/v2")
    closed = _connect(account.client, account, "tave", "http://127.0.0.1:9/v2")
    assert counter.hits > 0  # it did answer (404)
    assert answered.status_code == closed.status_code == 422

    def error(resp: httpx.Response) -> str:
        found = re.search(r'class="error"[^>]*>(.*?)<', resp.text, re.S)
        assert found, resp.text[:500]
        return found.group(1)

    assert error(answered) == error(closed)
    assert NEUTRAL.search(error(answered))
    assert urlsplit(str(answered.url)).path == "/integrations/"
