"""Phone budgets (DESIGN.md §5): ``js_gzip_kb``, ``lcp_first_ms``, ``lcp_repeat_ms`` and ``offline_start_ms``.

One web process (``wedsync web``) against embedded PostgreSQL and Valkey (or ``DATABASE_URL`` / ``REDIS_URL``), a
supplier signed up over HTTP with a few thousand couples (``BENCH_SCALE`` lowers it), Debian's Chromium through
Playwright with the Pixel 7 profile, Lighthouse's mobile "Slow 4G" conditions (150 ms round trip, 1.6 Mbps down,
750 kbps up, as Lighthouse applies them through CDP ``Network.emulateNetworkConditions``: see ``SLOW_4G``) and a
4x CPU slowdown (``Emulation.setCPUThrottlingRate``).

- ``js_gzip_kb``: every script the pages load (service worker excluded), gzipped at level 9, summed per page; the
  value is the heaviest of the dashboard, client list, a client page and the imports page.
- ``lcp_first_ms``: the client list in a fresh browser profile (cold HTTP cache, no service worker).
- ``lcp_repeat_ms``: the client list again in the same profile, the service worker in charge (warm caches).
- ``offline_start_ms``: the app opened at its start URL with the phone offline: the service worker's saved copy,
  navigation start to the load event.

Each is the median of ``BENCH_PWA_RUNS`` (5) runs, each run in its own browser profile.

Run on its own with ``python -m bench pwa``.
"""

from __future__ import annotations

import gzip
import os
import shutil
import statistics
import sys
from typing import Any

import httpx
import psycopg

from bench.imports import SCALE, emit, migrated_services
from bench.sse import Tenant, sign_up_tenants, web_process

CLIENTS = max(500, int(3_000 * SCALE))
RUNS = int(os.environ.get("BENCH_PWA_RUNS", "5"))
# Lighthouse's mobile Slow 4G (150 ms RTT, 1.6 Mbps down, 750 kbps up) as Lighthouse itself applies it through
# DevTools throttling, which adds latency per request rather than per round trip: 150 ms x 3.75 per request and
# 90% of the throughput (lighthouse-core/config/constants.js, throttling.mobileSlow4G). Plain 150 ms per request
# would skip the connection set-up round trips and flatter us.
SLOW_4G = {
    "offline": False,
    "latency": 150 * 3.75,  # ms per request
    "downloadThroughput": 1.6 * 1024 * 1024 * 0.9 / 8,  # bytes/s
    "uploadThroughput": 750 * 1024 * 0.9 / 8,
}
CPU_SLOWDOWN = 4
# Largest Contentful Paint as the browser reports it, read once the page has loaded. A function: the pages' CSP
# forbids eval, which Playwright would use for a bare expression.
LCP_JS = """() => new Promise((resolve) => {
  new PerformanceObserver((list) => {
    const entries = list.getEntries();
    resolve(entries[entries.length - 1].startTime);
  }).observe({ type: "largest-contentful-paint", buffered: true });
})"""
# True once the service worker has saved the start URL (it saves after answering, so wait before going offline).
START_SAVED_JS = """async () => {
  for (const name of await caches.keys()) {
    if (name.startsWith("wedsync-pages-") && (await (await caches.open(name)).match("/"))) return true;
  }
  return false;
}"""
LOAD_JS = """() => { const n = performance.getEntriesByType("navigation")[0];
  return { load: n.loadEventEnd, html: n.responseEnd, sw: !!navigator.serviceWorker.controller }; }"""


def seed_couples(database_url: str, supplier_id: int, n: int) -> None:
    """Realistic couples in one statement (as the table owner, scoped like the app): names, emails, phones,
    wedding dates over three seasons, venues, statuses."""
    with psycopg.connect(database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(supplier_id)])
        conn.execute(
            """
            INSERT INTO clients (supplier_id, source, external_id, partner1_first, partner1_last, partner1_email,
                                 partner1_phone, partner2_first, partner2_last, wedding_date, venue, status)
            SELECT %(sid)s, 'csv', 'pwa-' || i,
                   (ARRAY['Alex','Sam','Priya','Tom','Aisha','Owen','Lucy','Kwame'])[i %% 8 + 1], 'Smith' || (i %% 997),
                   'couple' || i || '@example.com', '+447700' || lpad((900000 + i)::text, 6, '0'),
                   (ARRAY['Jo','Chris','Ravi','Emma','Noah','Isla'])[i %% 6 + 1], 'Jones' || (i %% 89),
                   current_date + (i %% 900) - 300, 'Venue ' || (i %% 211),
                   (ARRAY['lead','booked','completed'])[i %% 3 + 1]
            FROM generate_series(1, %(n)s) AS i
            """,
            {"sid": supplier_id, "n": n},
        )


def _context(browser: Any, playwright: Any, url: str, tenant: Tenant) -> Any:
    options = dict(playwright.devices["Pixel 7"])
    options.pop("default_browser_type", None)
    context = browser.new_context(**options, base_url=url)
    name, _, value = tenant.cookie.partition("=")
    context.add_cookies([{"name": name, "value": value, "url": url}])
    return context


def _throttle(context: Any, page: Any) -> None:
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.emulateNetworkConditions", SLOW_4G)
    cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})


def _lcp(page: Any, path: str) -> float:
    page.goto(path, wait_until="load")
    return float(page.evaluate(LCP_JS))


def _script_sizes(page: Any, url: str, path: str) -> dict[str, int]:
    scripts: list[str] = []
    page.on("request", lambda r: scripts.append(r.url) if r.resource_type == "script" else None)
    page.goto(path, wait_until="load")
    page.wait_for_load_state("networkidle")
    sizes = {}
    for src in dict.fromkeys(scripts):
        body = httpx.get(src if src.startswith("http") else url + src).content
        sizes[src.removeprefix(url)] = len(gzip.compress(body, 9))
    return sizes


def run(web_url: str, tenant: Tenant, client_id: int) -> None:
    from playwright.sync_api import sync_playwright

    from e2e.conftest import CHROMIUM_ARGS

    first: list[float] = []
    repeat: list[float] = []
    offline: list[float] = []
    repeat_served_by_sw: list[bool] = []
    html_ms: dict[str, list[float]] = {"first": [], "repeat": []}  # navigation start to the last byte of the page
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=shutil.which("chromium") or shutil.which("chromium-browser"),
            args=CHROMIUM_ARGS,
            headless=True,
        )
        try:
            context = _context(browser, p, web_url, tenant)
            pages = {
                "/": "dashboard",
                "/clients/": "client list",
                f"/clients/{client_id}": "client",
                "/jobs/": "imports",
            }
            per_page = {name: _script_sizes(context.new_page(), web_url, path) for path, name in pages.items()}
            context.close()
            totals = {name: round(sum(s.values()) / 1024, 2) for name, s in per_page.items()}
            heaviest = max(totals, key=lambda k: totals[k])
            emit("js_gzip_kb", totals[heaviest], "KB", "<= 25", page=heaviest, per_page=totals,
                 scripts={k: v for k, v in per_page[heaviest].items()})  # fmt: skip

            for _ in range(RUNS):
                context = _context(browser, p, web_url, tenant)
                page = context.new_page()
                _throttle(context, page)
                first.append(_lcp(page, "/clients/"))
                html_ms["first"].append(float(page.evaluate(LOAD_JS)["html"]))
                page.wait_for_function("() => navigator.serviceWorker.controller !== null")
                page.close()
                page = context.new_page()  # a new tab: what a photographer opening the app again gets
                _throttle(context, page)
                repeat.append(_lcp(page, "/clients/"))
                timing = page.evaluate(LOAD_JS)
                repeat_served_by_sw.append(bool(timing["sw"]))
                html_ms["repeat"].append(float(timing["html"]))
                page.goto("/")  # the start URL, saved by the worker while online
                page.wait_for_function(START_SAVED_JS)
                page.close()
                context.set_offline(True)
                page = context.new_page()
                _throttle(context, page)
                page.goto("/", wait_until="load")
                offline.append(float(page.evaluate(LOAD_JS)["load"]))
                assert page.locator(".saved-note").count() == 1, "offline start did not come from the saved copy"
                context.close()
        finally:
            browser.close()
    conditions = {"network": "Slow 4G (Lighthouse devtools)", "request_latency_ms": 562.5, "down_kbps": 1474.6,
                  "up_kbps": 675, "cpu_slowdown": CPU_SLOWDOWN, "device": "Pixel 7"}  # fmt: skip
    detail = {"runs": RUNS, "clients": CLIENTS, **conditions}
    emit("lcp_first_ms", statistics.median(first), "ms", "<= 1500", min=round(min(first)), max=round(max(first)),
         html_ms=round(statistics.median(html_ms["first"])), **detail)  # fmt: skip
    emit("lcp_repeat_ms", statistics.median(repeat), "ms", "<= 1000", min=round(min(repeat)),
         max=round(max(repeat)), html_ms=round(statistics.median(html_ms["repeat"])),
         service_worker=all(repeat_served_by_sw), **detail)  # fmt: skip
    emit("offline_start_ms", statistics.median(offline), "ms", "<= 1000", min=round(min(offline)),
         max=round(max(offline)), **detail)  # fmt: skip


def main() -> int:
    with migrated_services("pwa") as (tmp, database_url, redis_url), web_process(database_url, redis_url, tmp) as web:
        [tenant] = sign_up_tenants(web, database_url, 1)
        seed_couples(database_url, tenant.supplier_id, CLIENTS)
        with psycopg.connect(database_url) as conn:
            row = conn.execute(
                "SELECT id FROM clients WHERE supplier_id = %s ORDER BY sort_name LIMIT 1", [tenant.supplier_id]
            ).fetchone()
        assert row is not None
        run(web.url, tenant, int(row[0]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
