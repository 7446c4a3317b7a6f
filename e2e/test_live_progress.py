"""Live progress on a phone (Pixel 7 in a real Chromium): the bar moves during a real import over SSE; with no
EventSource on a 3G connection the page polls at the documented interval with conditional requests; going
offline or hiding the tab pauses it, and coming back resumes at once.

Imports are real (a Tave import from the sandbox CRM, file imports through the real worker); what makes them
observable is a *gate*: the test holds ``LOCK TABLE clients IN EXCLUSIVE MODE``, which blocks the worker's
batch upsert (an INSERT) but none of the page's reads, and lets batches through one at a time.
"""

from __future__ import annotations

import itertools
import secrets
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlparse

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Locator, Page, Playwright, Request, Response, expect

from e2e.conftest import device_context_options
from jobs.sandbox import SandboxConfig, running_sandbox
from tests.fixtures import Account, Server, Services, import_csv, wait_for
from tests.test_progress import start_file_import

pytestmark = pytest.mark.e2e

TAVE_KEY = f"tave-e2e-{secrets.token_hex(8)}"
TAVE_SIZE = 4_500  # Tave imports commit about 2,000 couples at a time: three batches
FILE_ROWS = 3_000  # two batches
SSE_FILE_ROWS = 9_000  # five batches of up to 2,000
# DevTools' "3G" preset: 300 ms latency, ~1.6 Mbit/s down; Chromium derives effectiveType "3g" from it.
THREE_G = {
    "offline": False,
    "latency": 300,
    "downloadThroughput": 1_600_000 / 8,
    "uploadThroughput": 750_000 / 8,
    "connectionType": "cellular3g",
}
# Counts every poll the page *attempts* (an offline fetch never reaches the network), with page-clock times.
COUNT_POLLS = """
(() => {
  const original = window.fetch;
  window.__polls = [];
  window.__pollStatuses = [];
  window.fetch = function (input, init) {
    const url = typeof input === "string" ? input : input.url;
    if (url.indexOf("/progress") < 0) return original.apply(this, arguments);
    window.__polls.push(performance.now());
    return original.apply(this, arguments).then(function (r) { window.__pollStatuses.push(r.status); return r; });
  };
})();
"""
NO_EVENTSOURCE = "delete window.EventSource"
# A hidden tab as the page sees it (headless Chromium never hides a page by itself).
SET_VISIBILITY = """hidden => {
  Object.defineProperty(document, "hidden", {configurable: true, get: () => hidden});
  Object.defineProperty(document, "visibilityState", {configurable: true, get: () => (hidden ? "hidden" : "visible")});
  document.dispatchEvent(new Event("visibilitychange"));
}"""


class Gate:
    """Holds the worker's batch upserts back (an EXCLUSIVE lock on ``clients`` lets reads through)."""

    def __init__(self, database_url: str) -> None:
        self._conn = psycopg.connect(database_url)
        self._conn.execute("SET lock_timeout = '120s'")
        row = self._conn.execute("SELECT coalesce(max(id), 0) FROM sync_jobs").fetchone()
        self._first_job = (row[0] if row else 0) + 1  # jobs from other modules are not this gate's business
        self._conn.commit()
        self._closed = False

    def close(self) -> None:
        try:
            self._conn.execute("LOCK TABLE clients IN EXCLUSIVE MODE")
        except psycopg.errors.LockNotAvailable:
            self._conn.rollback()
            raise AssertionError(f"the gate could not close; holding locks on clients: {self._holders()}") from None
        self._closed = True

    def _holders(self) -> list[tuple[object, ...]]:
        """Who held a lock on ``clients`` as the gate gave up: the test's failure says what to look at."""
        return self._conn.execute(
            "SELECT l.pid, l.mode, l.granted, a.application_name, a.state, left(a.query, 200)"
            " FROM pg_locks l JOIN pg_stat_activity a USING (pid)"
            " WHERE l.relation = 'clients'::regclass AND l.pid <> pg_backend_pid()"
        ).fetchall()

    def worker_waiting(self) -> bool:
        row = self._conn.execute(
            "SELECT count(*) FROM pg_locks WHERE relation = 'clients'::regclass AND NOT granted"
        ).fetchone()
        return bool(row and row[0])

    def step(self) -> None:
        """Let the next batch through, and close again behind it (returns once that batch committed)."""
        wait_for(self.worker_waiting, 30, "the worker to reach the gate")
        self._conn.commit()
        # Queues behind the worker's row lock: granted the moment its batch commits, before its next one.
        self.close()

    def open(self) -> None:
        if self._closed:
            self._conn.commit()
            self._closed = False

    def jobs_in_flight(self) -> int:
        """Jobs started since this gate was made that are still queued or running (call with the gate open)."""
        row = self._conn.execute(
            "SELECT count(*) FROM sync_jobs WHERE id >= %s AND status IN ('queued', 'running')", [self._first_job]
        ).fetchone()
        self._conn.commit()  # a fresh snapshot on every call
        return int(row[0]) if row else 0

    def shut_down(self) -> None:
        """Open, and let every job a test left behind finish: the next test must find the worker idle, or the
        lock waiter it sees at its gate could be this test's job instead of its own."""
        self.open()
        try:
            wait_for(lambda: self.jobs_in_flight() == 0, 60, "the jobs left by the test to finish")
        finally:
            self._conn.close()


@pytest.fixture
def gate(services: Services) -> Iterator[Gate]:
    g = Gate(services.database_url)
    try:
        yield g
    finally:
        g.shut_down()  # whatever a test left blocked finishes normally


@pytest.fixture(scope="module")
def sandbox() -> Iterator[str]:
    with running_sandbox(SandboxConfig(seed=7, size=TAVE_SIZE, api_key=TAVE_KEY)) as url:
        yield url


@dataclass
class Watch:
    """A phone on a job page, with every poll request the browser sent and every status it got back."""

    page: Page
    context: BrowserContext
    job_id: int
    requests: list[Request] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)

    @property
    def region(self) -> Locator:
        return self.page.locator("[data-job-region]")

    def request_times(self) -> list[float]:
        """When each poll request started, in seconds, as the browser timed it (Python receives the
        events later, whenever the sync API next talks to the browser)."""
        return [r.timing["startTime"] / 1000 for r in self.requests]

    def until(self, predicate: Callable[[], bool], what: str, timeout: float = 20) -> None:
        """wait_for, letting Playwright deliver the page's events between checks."""
        wait_for(lambda: self.page.evaluate("0") == 0 and predicate(), timeout, what)

    def polls(self) -> list[float]:
        """Page-clock times (ms) of every poll the page attempted, offline ones included."""
        return list(self.page.evaluate("() => window.__polls"))

    def wait_polls(self, count: int, timeout_ms: float) -> list[float]:
        self.page.wait_for_function("n => window.__polls.length >= n", arg=count, timeout=timeout_ms)
        return self.polls()

    def after_a_poll_was_due(self, intervals: int = 2) -> None:
        """Resolve on a page timer set *now* for longer than ``intervals`` poll intervals: any poll timer
        live.js had pending would fire before it (same event loop), so this ends an observation window
        by ordering, not by guessing how long to sleep."""
        self.page.evaluate(
            "n => new Promise(r => setTimeout(r, n * window.WedSyncLive.pollInterval() + 250))", intervals
        )


def _cookies(account: Account) -> dict[str, str]:
    request = account.client.build_request("GET", "/")
    for hook in account.client.event_hooks["request"]:
        hook(request)
    header = request.headers.get("cookie", "")
    return dict(part.split("=", 1) for part in header.split("; ") if "=" in part)


def open_job_page(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    account: Account,
    job_id: int,
    *,
    init_scripts: tuple[str, ...] = (),
    network: dict[str, Any] | None = None,
) -> Watch:
    context = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    context.add_cookies([{"name": k, "value": v, "url": server.url} for k, v in _cookies(account).items()])
    page = context.new_page()
    for script in (COUNT_POLLS, *init_scripts):
        page.add_init_script(script)
    if network is not None:
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send("Network.emulateNetworkConditions", network)
    watch = Watch(page, context, job_id)
    poll_path = f"/jobs/{job_id}/progress"

    def on_request(request: Request) -> None:
        if urlparse(request.url).path == poll_path:
            watch.requests.append(request)

    def on_response(response: Response) -> None:
        if urlparse(response.url).path == poll_path:
            watch.statuses.append(response.status)

    page.on("request", on_request)
    page.on("response", on_response)
    page.goto(f"/jobs/{job_id}")
    return watch


def _job_status(services: Services, job_id: int) -> str:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT status FROM sync_jobs WHERE id = %s", [job_id]).fetchone()
    return row[0] if row else ""


def _start_tave_import(account: Account, services: Services, sandbox: str) -> int:
    with psycopg.connect(services.database_url) as conn:  # a US studio, like most Tave users
        conn.execute("UPDATE suppliers SET default_region = 'US' WHERE id = %s", [account.supplier_id])
    connected = account.post(
        "/integrations/",
        {"provider": "tave", "api_key": TAVE_KEY, "base_url": f"{sandbox}/v2", "name": "Sandbox Tave"},
        csrf_page="/integrations/",
    )
    assert connected.status_code == 200, connected.text[:500]
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT id FROM crm_integrations WHERE supplier_id = %s", [account.supplier_id]).fetchone()
    assert row is not None
    started = account.post(f"/integrations/{row[0]}/jobs", {"kind": "full_import"}, csrf_page="/integrations/")
    assert started.status_code == 303, started.text[:500]
    return int(started.headers["location"].rsplit("/", 1)[-1])


def _blocked_file_import(account: Account, services: Services, gate: Gate) -> int:
    """A file import that started and now waits at the gate before its first batch: a stable state."""
    gate.close()
    job_id = start_file_import(account, FILE_ROWS)
    wait_for(
        lambda: gate.worker_waiting() and _job_status(services, job_id) == "running",
        30,
        "the import to reach its first batch",
    )
    return job_id


def _step_and_read(watch: Watch, gate: Gate, testid: str, after: int) -> int:
    """Let one batch through the gate; return the number ``testid`` shows once it has grown past ``after``."""
    gate.step()
    watch.page.wait_for_function(
        "([id, last]) => parseInt(document.querySelector(`[data-testid=${id}]`).textContent, 10) > last",
        arg=[testid, after],
    )
    return int(watch.page.get_by_test_id(testid).inner_text().split()[0])


def test_processed_count_advances_live_over_sse_until_succeeded(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    services: Services,
    account: Account,
    worker: subprocess.Popen[bytes],
    gate: Gate,
) -> None:
    gate.close()
    job_id = start_file_import(account, SSE_FILE_ROWS)
    watch = open_job_page(playwright, browser, server, account, job_id)
    try:
        page = watch.page
        expect(watch.region).to_have_attribute("data-live-mode", "sse")
        page.evaluate("() => { window.__sameDocument = true; }")  # gone if anything reloads the page
        first = _step_and_read(watch, gate, "job-processed", 0)
        second = _step_and_read(watch, gate, "job-processed", first)
        assert 0 < first < second < SSE_FILE_ROWS, (first, second)
        expect(page.get_by_test_id("job-status")).to_have_text("running")
        expect(watch.region).to_have_attribute("data-live-mode", "sse")

        gate.open()
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=30_000)
        expect(page.get_by_test_id("job-progress")).to_have_attribute("value", "100")
        expect(page.get_by_test_id("job-processed")).to_have_text(str(SSE_FILE_ROWS))
        expect(watch.region).to_have_attribute("data-live-mode", "done")
        assert page.evaluate("() => window.__sameDocument") is True
        assert watch.requests == []  # SSE only: no polling on a good connection
    finally:
        watch.context.close()


def test_progress_bar_advances_live_over_sse_during_a_crm_import(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    services: Services,
    account: Account,
    worker: subprocess.Popen[bytes],
    sandbox: str,
    gate: Gate,
) -> None:
    """A CRM import knows its total, so the bar itself moves (a file's total is unknown until the end)."""
    gate.close()
    job_id = _start_tave_import(account, services, sandbox)
    watch = open_job_page(playwright, browser, server, account, job_id)
    try:
        page, bar = watch.page, watch.page.get_by_test_id("job-progress")
        expect(watch.region).to_have_attribute("data-live-mode", "sse")
        page.evaluate("() => { window.__sameDocument = true; }")
        # One step of the gate lets one or two batches commit (the worker writes two at a time): the bar shows
        # that, live, while the rest still waits.
        gate.step()
        page.wait_for_function(
            "() => Number(document.querySelector('[data-testid=job-progress]').getAttribute('value')) > 0"
        )
        seen = int(bar.get_attribute("value") or 0)
        assert 0 < seen < 100, seen
        expect(page.get_by_test_id("job-processed")).to_contain_text(f"of {TAVE_SIZE}")
        expect(watch.region).to_have_attribute("data-live-mode", "sse")

        gate.open()
        expect(watch.region).to_have_attribute("data-live-mode", "done", timeout=30_000)
        expect(bar).to_have_attribute("value", "100")
        expect(page.get_by_test_id("job-processed")).to_have_text(f"{TAVE_SIZE} of {TAVE_SIZE}")
        # The sandbox's couples are messy on purpose (a UK mobile in a US studio, "TBC" for a phone): whatever
        # the importer concluded, the phone shows exactly that, live.
        final = _job_status(services, job_id)
        assert final in ("succeeded", "partially_succeeded")
        expect(page.get_by_test_id("job-status")).to_have_text(final.replace("_", " "))
        assert page.evaluate("() => window.__sameDocument") is True
        assert watch.requests == []
    finally:
        watch.context.close()


def test_polls_at_the_3g_interval_with_conditional_requests(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    services: Services,
    account: Account,
    worker: subprocess.Popen[bytes],
    gate: Gate,
) -> None:
    job_id = _blocked_file_import(account, services, gate)
    watch = open_job_page(playwright, browser, server, account, job_id, init_scripts=(NO_EVENTSOURCE,), network=THREE_G)
    try:
        page = watch.page
        # Chromium derives effectiveType from the emulated conditions; older builds may not, so pin it.
        if page.evaluate("() => navigator.connection && navigator.connection.effectiveType") != "3g":
            page.add_init_script("Object.defineProperty(navigator.connection, 'effectiveType', {get: () => '3g'})")
            page.reload()
        assert page.evaluate("() => navigator.connection.effectiveType") == "3g"
        assert page.evaluate("() => 'EventSource' in window") is False
        expect(watch.region).to_have_attribute("data-live-mode", "poll")
        expect(watch.region).to_have_attribute("data-poll-interval", "5000")

        watch.until(lambda: len(watch.statuses) >= 3, "three polls")
        _assert_spaced(watch.request_times(), 4.5)
        # Nothing changed while the import waits at the gate: the first poll has the body, the next ones
        # carry its ETag and get 304 with no body, which is also what the page's fetch sees.
        assert watch.statuses[:3] == [200, 304, 304], watch.statuses
        assert ["if-none-match" in r.headers for r in watch.requests[:3]] == [False, True, True]
        assert page.evaluate("() => window.__pollStatuses.slice(0, 3)") == [200, 304, 304]

        gate.open()
        expect(page.get_by_test_id("job-status")).to_have_text("succeeded", timeout=20_000)
        expect(page.get_by_test_id("job-progress")).to_have_attribute("value", "100")
        expect(page.get_by_test_id("job-processed")).to_have_text(str(FILE_ROWS))
        expect(watch.region).to_have_attribute("data-live-mode", "done")
        watch.until(lambda: len(watch.statuses) == len(watch.requests), "the last poll's answer")
        assert watch.statuses[-1] == 200
        _assert_spaced(watch.request_times(), 4.5)
    finally:
        watch.context.close()


def _assert_spaced(times: list[float], at_least: float) -> None:
    gaps = [round(b - a, 3) for a, b in itertools.pairwise(times)]
    assert all(gap >= at_least for gap in gaps), (at_least, gaps)


def test_offline_pauses_polling_and_online_resumes_at_once(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    services: Services,
    account: Account,
    worker: subprocess.Popen[bytes],
    gate: Gate,
) -> None:
    job_id = _blocked_file_import(account, services, gate)
    watch = open_job_page(playwright, browser, server, account, job_id, init_scripts=(NO_EVENTSOURCE,))
    try:
        page = watch.page
        expect(watch.region).to_have_attribute("data-live-mode", "poll")
        interval = int(watch.region.get_attribute("data-poll-interval") or 0)
        assert interval == 2000  # headless Chromium reports a 4g connection
        watch.wait_polls(2, 3 * interval)

        watch.context.set_offline(True)
        expect(watch.region).to_have_attribute("data-live-mode", "paused")
        before = len(watch.polls())
        watch.after_a_poll_was_due(2)
        assert len(watch.polls()) == before, "polled while offline"
        assert watch.region.get_attribute("data-live-mode") == "paused"

        went_online = page.evaluate("() => performance.now()")
        watch.context.set_offline(False)
        polls = watch.wait_polls(before + 1, interval / 2)  # at once, not at the next tick
        assert polls[before] - went_online < interval / 2
        expect(watch.region).to_have_attribute("data-live-mode", "poll")
        # One polling loop, not two, after the resume (the connection "change" event fires as well).
        polls = watch.wait_polls(before + 3, 3 * interval)
        _assert_spaced(polls[before:], 0.9 * interval)
    finally:
        watch.context.close()


def test_hidden_tab_pauses_and_visible_resumes(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    services: Services,
    account: Account,
    worker: subprocess.Popen[bytes],
    gate: Gate,
) -> None:
    job_id = _blocked_file_import(account, services, gate)
    watch = open_job_page(playwright, browser, server, account, job_id, init_scripts=(NO_EVENTSOURCE,))
    try:
        page = watch.page
        expect(watch.region).to_have_attribute("data-live-mode", "poll")
        interval = int(watch.region.get_attribute("data-poll-interval") or 0)
        watch.wait_polls(2, 3 * interval)

        page.evaluate(SET_VISIBILITY, True)
        expect(watch.region).to_have_attribute("data-live-mode", "paused")
        before, requests_before = len(watch.polls()), len(watch.requests)
        watch.after_a_poll_was_due(2)
        assert len(watch.polls()) == before, "polled while hidden"
        assert len(watch.requests) == requests_before

        shown_at = page.evaluate("() => performance.now()")
        page.evaluate(SET_VISIBILITY, False)
        polls = watch.wait_polls(before + 1, interval / 2)
        assert polls[before] - shown_at < interval / 2
        expect(watch.region).to_have_attribute("data-live-mode", "poll")
        polls = watch.wait_polls(before + 3, 3 * interval)
        _assert_spaced(polls[before:], 0.9 * interval)
    finally:
        watch.context.close()


def _start_csv_import(account: Account, body: bytes) -> int:
    return import_csv(account, "mixed.csv", body)


BAD_ROWS = 12  # rows with nothing that identifies anyone: "Not imported"


def test_finished_job_shows_its_results_without_a_reload(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    services: Services,
    account: Account,
    worker: subprocess.Popen[bytes],
    gate: Gate,
) -> None:
    """The live "done" also brings what only a finished job has: the stop button goes, and the rows to fix
    (grouped by kind, counted, paged), their download, the timeline and undo come in, in the same document."""
    lines = ["ID,First Name,Last Name,Email"]
    lines += [f"r{i},Guest{i},Surname{i},guest{i}@example.com" for i in range(FILE_ROWS)]
    lines += [f"bad{i},,," for i in range(BAD_ROWS)]
    gate.close()
    job_id = _start_csv_import(account, ("\r\n".join(lines) + "\r\n").encode())
    wait_for(lambda: gate.worker_waiting(), 30, "the import to reach its first batch")
    watch = open_job_page(playwright, browser, server, account, job_id)
    try:
        page = watch.page
        expect(watch.region).to_have_attribute("data-live-mode", "sse")
        page.evaluate("() => { window.__sameDocument = true; }")
        stop = page.get_by_role("button", name="Stop this import")
        expect(stop).to_be_visible()
        expect(page.get_by_role("heading", name="Rows to fix")).to_have_count(0)

        gate.open()
        expect(watch.region).to_have_attribute("data-live-mode", "done", timeout=30_000)
        expect(stop).to_be_hidden()
        expect(page.locator("#job-results[data-refreshed]")).to_have_count(1)
        expect(page.get_by_role("heading", name="Rows to fix")).to_be_visible()
        expect(page.get_by_role("link", name="Download them as a spreadsheet")).to_be_visible()
        expect(page.get_by_role("heading", name="What happened")).to_be_visible()
        expect(page.get_by_test_id("undo-link")).to_be_visible()
        expect(page.get_by_role("button", name="Stop this import")).to_have_count(0)
        # One kind of problem: its group is open, counted, with the first ten rows; the next two on the next page,
        # swapped into the group in place.
        group = page.get_by_test_id("fix-row")
        expect(group.locator("summary")).to_have_text(f"{BAD_ROWS} rows couldn't be imported")
        expect(group.get_by_test_id("fix-rows").locator("li")).to_have_count(10)
        expect(group.get_by_test_id("fix-rows").locator("li").last).to_be_visible()
        group.get_by_test_id("fix-next").click()
        expect(page.get_by_test_id("fix-row").get_by_test_id("fix-rows").locator("li")).to_have_count(BAD_ROWS - 10)
        expect(page.get_by_test_id("fix-row").get_by_role("link", name="First rows")).to_be_visible()
        assert page.evaluate("() => window.__sameDocument") is True
    finally:
        watch.context.close()
