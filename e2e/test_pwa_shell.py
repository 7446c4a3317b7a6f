"""The installable shell on phones: install criteria, offline reading from saved pages, the offline page, sign-out
forgetting saved pages, and an update that only takes over on "reload" and never mixes two deploys' files."""

from __future__ import annotations

import datetime as dt
import json
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from e2e.conftest import CHROMIUM_ARGS, DEVICES, device_context_options, sign_up, supplier_id_of
from tests.fixtures import (
    ROOT,
    Server,
    Services,
    browser_client,
    free_port,
    seed_clients,
    stop_process,
    wait_for,
)

SAVED_NOTE = re.compile(r"Saved at \d{1,2}:\d{2}( [AP]M)? — you're offline")
# Paths (with query) held in the worker's saved-pages cache.
SAVED_PATHS_JS = """async () => {
  const names = (await caches.keys()).filter((n) => n.startsWith("wedsync-pages-"));
  const out = [];
  for (const n of names) for (const r of await (await caches.open(n)).keys()) {
    const u = new URL(r.url); out.push(u.pathname + u.search);
  }
  return out;
}"""
# Every /static/ file a page links or has loaded.
ASSET_URLS_JS = """() => [
  ...[...document.querySelectorAll("link[href^='/static/'], script[src^='/static/']")]
    .map((e) => e.getAttribute("href") || e.getAttribute("src")),
  ...performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)
    .filter((p) => p.startsWith("/static/")),
]"""


def _sign_up(page: Page, services: Services) -> int:
    return supplier_id_of(services, sign_up(page, "Offline Studio"))


def _wait_controlled(page: Page) -> None:
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")


def _wait_saved(page: Page, *paths: str) -> None:
    # A function, not a bare expression: the page's CSP forbids eval, which Playwright uses for expressions.
    page.wait_for_function(
        f"async (paths) => {{ const kept = await ({SAVED_PATHS_JS})(); return paths.every((p) => kept.includes(p)) }}",
        arg=list(paths),
    )


def _styled(page: Page) -> bool:
    """The page's stylesheet really loaded (from the worker's cache when offline)."""
    return bool(page.evaluate("[...document.styleSheets].some((s) => s.cssRules.length > 10)"))


@pytest.mark.e2e
def test_installable_in_chromium(playwright: Playwright, server: Server, tmp_path: Path) -> None:
    # Chromium never offers to install from an incognito profile, and browser.new_context() is one: a real profile.
    context = playwright.chromium.launch_persistent_context(
        str(tmp_path / "profile"),
        executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
        args=CHROMIUM_ARGS,
        headless=True,
        base_url=server.url,
        **device_context_options(playwright, "Pixel 7"),  # type: ignore[arg-type]
    )
    try:
        page = context.pages[0] if context.pages else context.new_page()
        page.goto("/login")
        page.evaluate("navigator.serviceWorker.ready.then(() => true)")
        cdp = context.new_cdp_session(page)
        assert cdp.send("Page.getInstallabilityErrors") == {"installabilityErrors": []}
        manifest = cdp.send("Page.getAppManifest")
        assert manifest["errors"] == []
        parsed = manifest["manifest"]  # Chromium's own reading of the manifest
        assert parsed["name"] == "WedSync Hub"
        assert parsed["display"] == "kStandalone"
        assert parsed["startUrl"] == parsed["scope"] == server.url + "/"
        assert parsed["themeColor"] == "rgba(91,63,140,1)"  # #5b3f8c
        assert {icon["sizes"] for icon in parsed["icons"] if icon["type"] == "image/png"} == {"192x192", "512x512"}
        raw = json.loads(manifest["data"])
        assert {icon["purpose"] for icon in raw["icons"]} == {"any", "maskable"}
        expect(page.locator('meta[name="theme-color"]')).to_have_attribute("content", "#5b3f8c")
    finally:
        context.close()


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_offline_reading_of_recent_pages(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        supplier_id = _sign_up(page, services)
        wedding = dt.date.today() + dt.timedelta(days=12)
        opened, never_opened = seed_clients(
            services.database_url,
            supplier_id,
            [
                {"partner1_first": "Mabel", "partner1_last": "Fenn", "partner2_first": "Otto", "partner2_last": "Reyes",
                 "venue": "Hestercombe", "wedding_date": wedding},
                {"partner1_first": "Ivy", "partner1_last": "Stone"},
            ],
        )  # fmt: skip
        _wait_controlled(page)  # the worker took over the sign-up page; from now on it sees navigations
        page.goto("/")
        page.get_by_role("link", name="Clients", exact=True).first.click()
        expect(page.locator("#client-list li.client")).to_have_count(2)
        page.get_by_role("link", name="Mabel Fenn & Otto Reyes").click()
        expect(page.get_by_test_id("couple-name")).to_have_text("Mabel Fenn & Otto Reyes")
        page.goto("/clients/new")
        page.goto("/clients/987654321")  # an error page online: never saved
        _wait_saved(page, "/", "/clients/", f"/clients/{opened}", "/clients/new")
        assert "/clients/987654321" not in page.evaluate(SAVED_PATHS_JS)

        context.set_offline(True)
        page.goto("/")
        expect(page.get_by_role("heading", name="Offline Studio")).to_be_visible()
        expect(page.locator(".saved-note")).to_have_text(SAVED_NOTE)
        assert _styled(page)

        page.goto("/clients/")
        expect(page.locator("#client-list li.client")).to_have_count(2)
        expect(page.locator(".saved-note")).to_have_text(SAVED_NOTE)
        page.get_by_role("link", name="Mabel Fenn & Otto Reyes").click()
        expect(page.get_by_test_id("couple-name")).to_have_text("Mabel Fenn & Otto Reyes")
        expect(page.locator(".saved-note")).to_be_visible()
        assert _styled(page)

        page.goto("/clients/new")  # a lead met at the venue can be typed in (the outbox sends it later)
        expect(page.get_by_role("heading", name="New lead")).to_be_visible()
        expect(page.locator(".saved-note")).to_be_visible()

        for never in (f"/clients/{never_opened}", "/clients/987654321", "/jobs/"):
            page.goto(never)
            expect(page.get_by_test_id("offline-page")).to_be_visible()
            expect(page.get_by_role("heading", name="What works offline")).to_be_visible()
            assert _styled(page)

        # Back online: the latest page again, not the saved copy.
        context.set_offline(False)
        page.goto(f"/clients/{opened}")
        expect(page.get_by_test_id("couple-name")).to_have_text("Mabel Fenn & Otto Reyes")
        expect(page.locator(".saved-note")).to_have_count(0)
    finally:
        context.close()


@pytest.mark.e2e
def test_saved_pages_are_bounded_least_recently_opened_first(
    playwright: Playwright, browser: Browser, server: Server, services: Services
) -> None:
    context = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    page = context.new_page()
    try:
        supplier_id = _sign_up(page, services)
        ids = seed_clients(
            services.database_url,
            supplier_id,
            [{"partner1_first": f"Guest{i:02d}", "partner1_last": "Lru"} for i in range(52)],
        )
        _wait_controlled(page)
        page.goto("/")
        _wait_saved(page, "/")
        for client_id in ids:
            page.goto(f"/clients/{client_id}", wait_until="commit")
            _wait_saved(page, f"/clients/{client_id}")  # one at a time, so the order of opening is the order saved
        page.goto("/clients/")
        _wait_saved(page, "/clients/")
        saved = page.evaluate(SAVED_PATHS_JS)
        assert len(saved) == 50, saved  # 54 opened: the dashboard and the first three couples fell out
        assert saved[-1] == "/clients/"
        assert saved[:-1] == [f"/clients/{i}" for i in ids[3:]]
    finally:
        context.close()


@pytest.mark.e2e
def test_weak_signal_falls_back_to_the_saved_copy_after_3_s(
    playwright: Playwright, browser: Browser, server: Server, services: Services
) -> None:
    context = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    page = context.new_page()
    try:
        _sign_up(page, services)
        _wait_controlled(page)
        page.goto("/clients/")
        _wait_saved(page, "/clients/")
        # One bar at the venue: every answer takes 8 s (Chromium's own network emulation, which also slows the
        # worker's navigation preload). The worker gives up on the network after 3 s and shows the saved copy.
        cdp = context.new_cdp_session(page)
        cdp.send("Network.enable")
        cdp.send(
            "Network.emulateNetworkConditions",
            {"offline": False, "latency": 8000, "downloadThroughput": -1, "uploadThroughput": -1},
        )
        page.goto("/clients/", wait_until="commit", timeout=7000)
        expect(page.locator(".saved-note")).to_have_text(
            re.compile(r"Saved at \d{1,2}:\d{2}( [AP]M)? — the signal is too weak to load the latest"), timeout=6000
        )
        expect(page.get_by_role("heading", name="Clients")).to_be_visible()
        started = page.evaluate("() => performance.getEntriesByType('navigation')[0].responseStart")
        assert 2900 <= started < 7000, started  # after the 3 s timeout, well before the network's 8 s
    finally:
        context.close()


@pytest.mark.e2e
def test_sign_out_forgets_saved_pages(
    playwright: Playwright, browser: Browser, server: Server, services: Services
) -> None:
    context = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    page = context.new_page()
    try:
        _sign_up(page, services)
        _wait_controlled(page)
        page.goto("/clients/")
        _wait_saved(page, "/clients/")
        page.get_by_role("searchbox", name="Search clients").fill("fenn")
        expect(page).to_have_url(re.compile(r"/clients/\?q=fenn$"))  # htmx keeps a Back snapshot of the list
        assert page.evaluate("() => sessionStorage.getItem('htmx-history-cache')") is not None
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        assert page.evaluate("() => sessionStorage.getItem('htmx-history-cache')") is None
        page.wait_for_function(f"async () => (await ({SAVED_PATHS_JS})()).length === 0")

        # Signed out, a saved page's address answers with a redirect to sign in: followed, nothing saved (the
        # worker never saves a redirect, and reaching the sign-in page forgets saved pages anyway).
        page.goto("/clients/")
        expect(page).to_have_url(re.compile(r"/login$"))
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login$"))
        assert page.evaluate(SAVED_PATHS_JS) == []

        # Offline, the next person on this phone sees the offline page, not the last photographer's clients.
        context.set_offline(True)
        page.goto("/clients/")
        expect(page.get_by_test_id("offline-page")).to_be_visible()
    finally:
        context.close()


def _start_on(services: Services, port: int, static_dir: Path) -> subprocess.Popen[bytes]:
    """A web server on a given port: the update test replaces the server behind one origin, as a deploy does."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "webapp.cli", "web", "--port", str(port)],
        env=services.env(WEDSYNC_STATIC_DIR=str(static_dir)),
        cwd=ROOT,
    )

    def up() -> bool:
        if proc.poll() is not None:
            raise AssertionError("web server exited during start-up")
        try:
            return httpx.get(f"http://127.0.0.1:{port}/login", timeout=1).status_code == 200
        except httpx.TransportError:
            return False

    wait_for(up, 30, "the web server")
    return proc


@pytest.fixture
def deploys(services: Services, tmp_path: Path) -> Iterator[tuple[int, Path, list[subprocess.Popen[bytes]]]]:
    static = shutil.copytree(ROOT / "static", tmp_path / "static")
    procs: list[subprocess.Popen[bytes]] = []
    yield free_port(), static, procs
    for proc in procs:
        stop_process(proc)


def _page_assets(page: Page) -> set[str]:
    return set(page.evaluate(ASSET_URLS_JS))


@pytest.mark.e2e
# One phone: two server starts per run make this the slowest test, and the update flow does not depend on the
# device profile (both profiles drive the same Chromium); the offline reading above runs on both.
@pytest.mark.parametrize("device", ["Pixel 7"])
def test_update_waits_for_reload_and_never_mixes_versions(
    playwright: Playwright,
    browser: Browser,
    services: Services,
    deploys: tuple[int, Path, list[subprocess.Popen[bytes]]],
    device: str,
) -> None:
    port, static, procs = deploys
    url = f"http://127.0.0.1:{port}"
    procs.append(_start_on(services, port, static))
    context: BrowserContext = browser.new_context(**device_context_options(playwright, device), base_url=url)
    page = context.new_page()
    try:
        _sign_up(page, services)
        _wait_controlled(page)
        page.goto("/")
        page.goto("/clients/")
        _wait_saved(page, "/", "/clients/")
        old_assets = _page_assets(page)
        old_css = next(a for a in old_assets if re.fullmatch(r"/static/app\.[0-9a-f]{10}\.css", a))
        old_version = page.evaluate(
            "fetch('/sw.js').then((r) => r.text()).then((t) => JSON.parse(t.split(';')[0].slice(13)).version)"
        )

        # Deploy 2: one line of CSS changed. Same origin, same sessions, new server.
        stop_process(procs.pop())
        (static / "app.css").write_text((static / "app.css").read_text() + "\n.update-test { color: red; }\n")
        procs.append(_start_on(services, port, static))

        page.goto("/clients/")  # the browser checks /sw.js on navigation and installs the new worker beside the old
        banner = page.locator(".update-banner")
        expect(banner).to_have_text("Update ready — reload", timeout=15_000)
        # Until the photographer taps it, the old worker stays in charge, its files still cached beside the new ones.
        shells = page.evaluate("caches.keys().then((ns) => ns.filter((n) => n.startsWith('wedsync-shell-')))")
        assert f"wedsync-shell-{old_version}" in shells, shells
        assert len(shells) == 2, shells
        current = _page_assets(page)
        new_css = next(a for a in current if re.fullmatch(r"/static/app\.[0-9a-f]{10}\.css", a))
        assert new_css != old_css
        assert old_css not in current  # this page came from deploy 2: it has only deploy 2's files

        with page.expect_event("load"):
            banner.get_by_role("button", name="reload").click()
        page.wait_for_function("() => navigator.serviceWorker.controller && !document.querySelector('.update-banner')")
        expect(page.locator("#client-list")).to_be_visible()
        after = _page_assets(page)
        assert new_css in after
        names = httpx.get(url + "/sw.js").text
        new_version = re.search(r'"version":"([0-9a-f]{10})"', names)
        assert new_version
        assert new_version.group(1) != old_version
        # Every file on the reloaded page is one deploy 2 serves under that name, and the new worker has it cached.
        for asset in after:
            assert httpx.get(url + asset).status_code == 200, asset
        cached = page.evaluate("caches.keys().then((ns) => ns.filter((n) => n.startsWith('wedsync-shell-')))")
        assert cached == [f"wedsync-shell-{new_version.group(1)}"]  # the old deploy's files are gone

        # The dashboard, saved under deploy 1 and not opened since, was saved again with deploy 2's files: offline
        # it opens complete, and nothing on it comes from deploy 1.
        page.wait_for_function(
            """async (name) => {
              const names = (await caches.keys()).filter((n) => n.startsWith("wedsync-pages-"));
              return names.length === 1 && names[0] === name && !!(await (await caches.open(name)).match("/"));
            }""",
            arg=f"wedsync-pages-{new_version.group(1)}",
        )
        context.set_offline(True)
        page.goto("/")
        expect(page.locator(".saved-note")).to_be_visible()
        assert new_css in _page_assets(page)
        assert old_css not in _page_assets(page)
        assert _styled(page)
    finally:
        context.close()


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_sign_out_with_no_signal_signs_out_here_and_tells_the_server_later(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        _sign_up(page, services)
        _wait_controlled(page)
        page.goto("/clients/")
        _wait_saved(page, "/clients/")
        session = {c["name"]: c["value"] for c in context.cookies()}
        with browser_client(server.url, session) as old:
            assert old.get("/clients/").status_code == 200  # the phone's session, as the server sees it

        context.set_offline(True)
        page.get_by_role("button", name="Sign out").click()
        # Not the browser's "no internet" page: the phone says it is signed out, and what happens next.
        expect(page.get_by_role("heading", name="You're signed out on this phone")).to_be_visible()
        expect(page.get_by_test_id("signed-out-offline")).to_contain_text("as soon as you're back online")
        assert _styled(page)
        assert page.evaluate(SAVED_PATHS_JS) == []
        # The saved client list is gone: offline, the next person on this phone sees the offline page.
        page.goto("/clients/")
        expect(page.get_by_test_id("offline-page")).to_be_visible()

        # Back online, the first page opened tells the server first: the old session no longer opens anything.
        context.set_offline(False)
        page.goto("/")
        expect(page).to_have_url(re.compile(r"/login$"))
        with browser_client(server.url, session) as old:
            answer = old.get("/clients/")
        assert answer.status_code in (302, 303), answer.status_code
        assert "/login" in answer.headers["location"]
    finally:
        context.close()
