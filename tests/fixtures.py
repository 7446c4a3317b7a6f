"""Real services for the whole test session: embedded PostgreSQL and Valkey (or DATABASE_URL / REDIS_URL),
a real web server and a real Dramatiq worker as subprocesses. Tests isolate themselves by signing up
their own supplier (unique email), which RLS turns into a private slice of the database."""

from __future__ import annotations

import asyncio
import html
import inspect
import os
import re
import secrets
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Services:
    database_url: str
    redis_url: str
    var_dir: Path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            DATABASE_URL=self.database_url,
            REDIS_URL=self.redis_url,
            WEDSYNC_VAR_DIR=str(self.var_dir),
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
            JOB_SWEEP_INTERVAL_S="0",  # modules share this PostgreSQL but not their Redis database
            SIGNUP_ATTEMPTS_PER_MINUTE="1000",  # every test signs up its own studio from this one address
        )
        env.update(extra)
        return env


@pytest.fixture(autouse=True)
def _fresh_settings() -> Iterator[None]:
    """Settings are read once per process; a test that changes the environment (monkeypatch) gets them read again,
    and the next test does not inherit its values."""
    from core.settings import settings

    settings.cache_clear()
    yield
    settings.cache_clear()


def wait_for(predicate, timeout: float = 30.0, what: str = "condition"):  # type: ignore[no-untyped-def]
    """Poll ``predicate`` until it returns something truthy; the tests' only way to wait."""
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.2)


async def wait_until(condition: Callable[[], Any], seconds: float = 30.0, what: str = "condition") -> Any:
    """``wait_for`` inside an event loop, where the condition is brought about by another task of the same loop (or
    another process): ``condition`` may be a plain function or a coroutine function."""
    try:
        async with asyncio.timeout(seconds):
            while True:
                result = condition()
                if inspect.isawaitable(result):
                    result = await result
                if result:
                    return result
                await asyncio.sleep(0.01)  # gives the loop to the task that brings the condition about
    except TimeoutError:
        raise AssertionError(f"timed out after {seconds:.0f} s waiting for {what}") from None


@pytest.fixture(scope="session")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Services]:
    var_dir = tmp_path_factory.mktemp("var")
    stops = []
    db_url = os.environ.get("TEST_DATABASE_URL")
    redis_url = os.environ.get("TEST_REDIS_URL")
    warnings.filterwarnings("ignore", module="platformdirs")
    from core.embedded import EmbeddedPostgres, EmbeddedValkey

    if not db_url:
        pg = EmbeddedPostgres(var_dir / "postgres")
        pg.start()
        stops.append(pg.stop)
        db_url = pg.url
    if not redis_url:
        valkey = EmbeddedValkey(var_dir / "valkey")
        valkey.start()
        stops.append(valkey.stop)
        redis_url = valkey.url
    from core.db.migrate import migrate

    migrate(db_url)
    # Code under test that reads the environment (the Dramatiq broker) sees the same servers.
    os.environ["DATABASE_URL"], os.environ["REDIS_URL"] = db_url, redis_url
    try:
        yield Services(db_url, redis_url, var_dir)
    finally:
        for stop in reversed(stops):
            stop()


def free_port() -> int:
    from core.embedded import free_port as _free_port

    return _free_port()


@dataclass
class Server:
    url: str
    process: subprocess.Popen[bytes]


def start_web(services: Services, **env: str) -> Server:
    """``wedsync web`` on a port it binds itself (``--port 0``) and reports: a port picked here and bound later
    could be taken in between, and another test's server would answer for this one."""
    with tempfile.TemporaryDirectory(prefix="wedsync-port-") as tmp:
        port_file = Path(tmp) / "port"
        proc = subprocess.Popen(
            [sys.executable, "-m", "webapp.cli", "web", "--port", "0", "--port-file", str(port_file)],
            env=services.env(**env),
            cwd=ROOT,
        )
        url = ""

        def up() -> bool:
            nonlocal url
            if proc.poll() is not None:
                raise AssertionError("web server exited during start-up")
            if not url:
                if not port_file.exists() or not port_file.read_text().strip():
                    return False
                url = f"http://127.0.0.1:{int(port_file.read_text())}"
            try:
                return httpx.get(url + "/login", timeout=1).status_code == 200
            except httpx.TransportError:
                return False

        wait_for(up, 30, "the web server")
    return Server(url, proc)


def stop_process(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def second(services: Services) -> Iterator[Server]:
    """A second web process on the same PostgreSQL and Redis, as behind a load balancer."""
    srv = start_web(services)
    try:
        yield srv
    finally:
        stop_process(srv.process)


def same_phone_on(account: Account, server: Server) -> httpx.Client:
    """The same signed-in phone talking to another web process (sessions are shared through Redis)."""
    cookie = account.client.get("/login").request.headers["cookie"]
    return httpx.Client(base_url=server.url, headers={"cookie": cookie}, timeout=10, follow_redirects=False)


@pytest.fixture(scope="session")
def server(services: Services) -> Iterator[Server]:
    srv = start_web(services, LOGIN_ATTEMPTS_PER_MINUTE="10", ALLOW_LOCAL_CRM_URLS="1", ALLOW_LOCAL_PUSH_URLS="1")
    try:
        yield srv
    finally:
        stop_process(srv.process)


@pytest.fixture(scope="session")
def worker(services: Services) -> Iterator[subprocess.Popen[bytes]]:
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "worker", "--processes", "1", "--threads", "2"],
        # The sandbox CRM and the tests' stand-in push service run on this machine.
        env=services.env(CRM_REQUESTS_PER_S="500", ALLOW_LOCAL_CRM_URLS="1", ALLOW_LOCAL_PUSH_URLS="1"),
        cwd=ROOT,
    )
    import redis

    from core.queue import HEARTBEAT_KEY

    client = redis.Redis.from_url(services.redis_url)
    wait_for(lambda: client.zcard(HEARTBEAT_KEY) > 0, 60, "the worker's first heartbeat")
    try:
        yield proc
    finally:
        stop_process(proc)


def browser_client(base_url: str, cookies: dict[str, str] | None = None) -> httpx.Client:
    """An HTTP client that keeps cookies like a browser on localhost does, Secure ones included.

    httpx's cookie jar (the stdlib's) never sends Secure cookies over plain http, and the app's session
    and CSRF cookies are Secure, so this client keeps its own small jar.
    """
    jar: dict[str, str] = dict(cookies or {})

    def send_cookies(request: httpx.Request) -> None:
        if jar:
            request.headers["cookie"] = "; ".join(f"{k}={v}" for k, v in jar.items())

    def keep_cookies(response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            name, _, value = header.split(";", 1)[0].partition("=")
            lowered = header.lower()
            if "max-age=0" in lowered or "expires=thu, 01 jan 1970" in lowered:
                jar.pop(name.strip(), None)
            else:
                jar[name.strip()] = value.strip()

    return httpx.Client(
        base_url=base_url,
        timeout=10,
        follow_redirects=False,
        event_hooks={"request": [send_cookies], "response": [keep_cookies]},
    )


_CSRF = re.compile(r'name="_csrf_token" value="([^"]+)"')


def csrf_from(html: str) -> str:
    match = _CSRF.search(html)
    assert match, "page has no CSRF field"
    return match.group(1)


@dataclass
class Account:
    client: httpx.Client
    email: str
    password: str
    supplier_id: int

    def csrf(self, path: str = "/") -> str:
        return csrf_from(self.client.get(path).text)

    def post(self, path: str, data: dict[str, str], *, htmx: bool = False, csrf_page: str = "/") -> httpx.Response:
        headers = {"HX-Request": "true"} if htmx else {}
        return self.client.post(path, data={"_csrf_token": self.csrf(csrf_page), **data}, headers=headers)


def upload_for_preview(account: Account, name: str, content: bytes) -> tuple[str, dict[str, str]]:
    """A CSV uploaded as a photographer would, up to its preview: where to start it, and the form that starts it
    (the mapping and signature the preview proposes)."""
    token = account.csrf("/imports/new")
    resp = account.client.post(
        "/imports/", data={"_csrf_token": token, "preset": "csv"}, files={"file": (name, content, "text/csv")}
    )
    assert resp.status_code == 303, resp.text[:300]
    preview = account.client.get(resp.headers["location"]).text
    mapping = re.search(r'name="mapping" value="([^"]+)"', preview)
    signature = re.search(r'name="signature" value="([^"]+)"', preview)
    assert mapping
    assert signature
    form = {"mapping": html.unescape(mapping.group(1)), "signature": signature.group(1)}
    return resp.headers["location"].removesuffix("/preview") + "/start", form


def start_import(account: Account, url: str, form: dict[str, str]) -> int:
    """Start a previewed import (``upload_for_preview``); the job's id."""
    started = account.client.post(url, data={"_csrf_token": account.csrf(), **form})
    assert started.status_code == 303, started.text[:300]
    return int(started.headers["location"].rstrip("/").rsplit("/", 1)[-1])


def import_csv(account: Account, name: str, content: bytes) -> int:
    """Upload a CSV and start its import with the proposed mapping; the job's id."""
    return start_import(account, *upload_for_preview(account, name, content))


_JOB_ENDS = ("succeeded", "partially succeeded", "failed", "cancelled")


def job_ended(account: Account, job_url: str) -> str | None:
    """The job page's HTML once the job has ended, else None (for ``wait_for``)."""
    page = account.client.get(job_url).text
    status = re.search(r'data-testid="job-status">([^<]+)<', page)
    assert status
    return page if status.group(1) in _JOB_ENDS else None


def import_and_wait(account: Account, text: str, name: str = "book.csv") -> str:
    """Import a CSV as ``import_csv`` does and wait for the job to end; the job page's path."""
    job_url = f"/jobs/{import_csv(account, name, text.encode())}"
    wait_for(lambda: job_ended(account, job_url), 60, "the import to finish")
    return job_url


def signup(base_url: str, database_url: str, name: str = "Test Studio") -> Account:
    client = browser_client(base_url)
    email = f"t-{secrets.token_hex(6)}@example.com"
    password = "correct horse battery"
    token = csrf_from(client.get("/signup").text)
    resp = client.post(
        "/signup", data={"_csrf_token": token, "business_name": name, "email": email, "password": password}
    )
    assert resp.status_code == 303, resp.text
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM suppliers WHERE email = %s", [email]).fetchone()
    assert row is not None
    return Account(client, email, password, row[0])


@pytest.fixture
def account(server: Server, services: Services) -> Iterator[Account]:
    acct = signup(server.url, services.database_url)
    yield acct
    acct.client.close()


def bare_supplier(database_url: str, name: str = "Test Studio") -> int:
    """A supplier row with no sign-in (tests that call the query and import code directly)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO suppliers (business_name, email, password_hash) VALUES (%s, %s, 'x') RETURNING id",
            [name, f"bare-{secrets.token_hex(6)}@example.com"],
        ).fetchone()
    assert row is not None
    return int(row[0])


def seed_clients(database_url: str, supplier_id: int, rows: list[dict[str, object]]) -> list[int]:
    """Insert clients directly (as the migration owner) for a supplier; returns their ids in order."""
    ids = []
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(supplier_id)])
        for i, row in enumerate(rows):
            values = {"source": "csv", "external_id": f"t-{i}-{secrets.token_hex(4)}", **row}
            cols = ", ".join(values)
            marks = ", ".join(f"%({k})s" for k in values)
            new_id = conn.execute(
                f"INSERT INTO clients (supplier_id, {cols}) VALUES (%(sid)s, {marks}) RETURNING id",
                {"sid": supplier_id, **values},
            ).fetchone()
            assert new_id is not None
            ids.append(new_id[0])
    # Written behind the app's back, as an import is: tell the web processes' caches the way a worker does.
    from core.cache_generations import bump_from_worker

    bump_from_worker(supplier_id)
    return ids
