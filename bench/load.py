"""Load test: ``list_fragment_rps``, ``mix_p95_ms``, ``mix_server_cpu_ms``, ``mix_loop_lag_ms``,
``million_list_p95_ms``, ``cache_hit_ratio``, ``framework_hello_rps`` and ``list_fragment_vs_framework`` (DESIGN.md §5).

Set-up: embedded PostgreSQL and Valkey (or ``DATABASE_URL`` / ``REDIS_URL``), ``wedsync web --workers <cores>``,
50 suppliers with 2,000 clients each and one with 1,000,000 (signed up over HTTP, clients seeded with
``generate_series``: ``bench.seed_scale``), 200 signed-in phones (one real sign-up per supplier, real logins
for the rest; the bench server raises ``LOGIN_ATTEMPTS_PER_MINUTE``, a setting). Phases, each after a warm-up:

1. ``list_fragment_rps``: 32 connections asking for the client-list fragment (``HX-Request``) back to back, on
   raw keep-alive sockets (``RawPhone``: httpx's CPU per request is the server's own, on the same two cores); the
   same through httpx is in the detail.
2. ``cache_hit_ratio``: a steady browse workload for 200 phones after warm-up (each studio's team goes back to its
   list pages, its recent searches and its current couples, writes at 2%), from the
   ``wedsync_cache_lookups_total{tier,result}`` counters on ``/metrics`` (null while that metric is absent). The
   first-visit browse mix (15% cold on purpose, no warm-up of the working set) is in the detail.
3. ``mix_p95_ms``: 200 phones, each a loop of one request then a think time (exponential, mean 1 s): 70% browse
   (list 30 incl. "load more", detail 25, search 15), 20% writes (note 12, status 8, with CSRF and an
   Idempotency-Key as the app's forms send them), 10% progress polls (conditional, ``If-None-Match``).
   ``million_list_p95_ms`` is the p95 of list and search answers for the 1,000,000-client supplier's phones in
   the same phase. Every line reports per route: requests/s, p50/p95/p99, errors (5xx, transport errors).
   ``mix_server_cpu_ms`` is the web processes' CPU per request over the same phase (psutil): a slow day stretches
   the p95 but not the CPU per request; a costlier change moves both. ``mix_loop_lag_ms`` is how late the web
   processes' event loops woke a 50 ms timer then (``wedsync_event_loop_lag_seconds``): how long any request
   waited behind another request's synchronous work.
4. ``list_fragment_vs_framework``: five rounds, each the cached list fragment then a bare Litestar hello-world
   (``bench/hello.py``, served by ``webapp.cli.serve`` as the app is: same uvicorn options and workers) back to
   back on the same raw connections; the median of the rounds' requests/s ratios (``framework_hello_rps``: the
   hello-world's median). Both sides share each round's machine, so the ratio holds on a 2x slower day.

Detail views go 85% to a studio's 50 current couples (shared by its phones) and 15% to any client; searches are
names and venues from the seeded vocabulary (85%) or an email / phone fragment (15%): people repeat themselves,
which is what a cache is for, and the rest is cold on purpose.

Latencies are measured by the client on loopback, so they include the load generator's own event loop: an upper
bound on server time (the detail adds the server's own p95 bucket from ``/metrics``). On the 2-core machine the
generator shares the CPU with the server; its CPU use is in each line's detail (``loadgen_cores``).

Why a script and not locust: no extra dependency or process model (locust brings gevent and its own runner),
exact control of the mix, the think time and the per-tenant split, and it runs inside ``make bench`` and, at a
tiny size, inside ``make test`` (``tests/test_load_smoke.py``). httpx over uvloop keeps the generator light
enough; one ``AsyncClient`` per phone, as each phone has its own connection and cookies.

``BENCH_SCALE`` shrinks the sizes (clients, phones, seconds); ``BENCH_LOAD_SECONDS`` sets the measured seconds
of each phase. Run on its own with ``python -m bench.load`` (or ``python -m bench load``).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import random
import re
import secrets
import statistics
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import httpx
import psutil
import psycopg

from bench.imports import migrated_services
from bench.seed_scale import FIRST_NAMES, LAST_NAMES, VENUES, Seeded, analyze, seed_supplier
from bench.server import running_hello, running_web

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
SUPPLIERS = max(3, int(50 * min(1.0, SCALE * 4)))
CLIENTS_PER_SUPPLIER = max(100, int(2_000 * SCALE))
MILLION = max(2_000, int(1_000_000 * SCALE))
PHONES = max(12, int(200 * SCALE))
MILLION_PHONES_SHARE = 0.1  # the big studio's team: 20 of the 200 phones
SECONDS = float(os.environ.get("BENCH_LOAD_SECONDS", str(max(3.0, 20 * SCALE))))
WARMUP_S = max(1.0, SECONDS / 4)
THINK_S = 1.0
RPS_CONNECTIONS = 32
FRAMEWORK_ROUNDS = 5  # list fragment vs hello-world, alternated
PASSWORD = "a long bench password"  # noqa: S105 - the bench studios' own sign-in
T = TypeVar("T")

# The phone mix: route -> weight (percent).
MIX: dict[str, int] = {
    "list": 22, "list_more": 8, "detail": 25, "search": 15,  # browse 70
    "note": 12, "status": 8,  # writes 20
    "progress": 10,  # polling 10
}  # fmt: skip
BROWSE = {name: MIX[name] for name in ("list", "list_more", "detail", "search")}
SETUP_TROUBLE: Counter[str] = Counter()  # answers during set-up that a healthy server would not give
_CSRF_FIELD = re.compile(r'name="_csrf_token" value="([^"]+)"')
_VERSION = re.compile(r'name="version" value="(\d+)"')
_MORE = re.compile(r'hx-get="(/clients/\?cursor=[^"]+)"')
_LOOP_LAG = "wedsync_event_loop_lag_seconds"
_LAG_QS = {"p50": 0.5, "p99": 0.99, "max": 1.0}
_CACHE = re.compile(r"^wedsync_cache_lookups_total\{(?P<labels>[^}]*)\} (?P<value>[0-9.e+]+)$", re.MULTILINE)


@dataclass
class Tenant:
    seeded: Seeded
    email: str
    million: bool


@dataclass
class Phone:
    tenant: Tenant
    client: httpx.AsyncClient
    csrf: str
    rng: random.Random
    next_page: str | None = None
    current: tuple[int, int] | None = None  # (client id, version) of the detail page last shown
    etag: str = ""
    depth: int = 0  # list pages shown since the first one


@dataclass
class Stats:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    statuses: dict[str, Counter[int]] = field(default_factory=dict)
    # What a status 0 was ("route: ExceptionName"): a server that closed an idle keep-alive connection as a phone
    # reused it (RemoteProtocolError) is not the same finding as a timeout.
    transport: Counter[str] = field(default_factory=Counter)

    def record(self, route: str, status: int, ms: float) -> None:
        self.latencies.setdefault(route, []).append(ms)
        self.statuses.setdefault(route, Counter())[status] += 1

    def errors(self, route: str | None = None) -> int:
        """5xx answers and transport failures (status 0)."""
        routes = [route] if route else list(self.statuses)
        return sum(n for r in routes for code, n in self.statuses.get(r, Counter()).items() if code == 0 or code >= 500)

    def all_latencies(self, routes: list[str] | None = None) -> list[float]:
        return [ms for r, values in self.latencies.items() if routes is None or r in routes for ms in values]


def emit(bench: str, value: float | None, unit: str, budget: str, **detail: object) -> None:
    """``bench.imports.emit``'s line, with ``null`` when there is nothing to measure (JSON has no NaN)."""
    line = {"bench": bench, "value": None if value is None else round(value, 3), "unit": unit, "budget": budget}
    print(json.dumps({**line, **detail}), flush=True)


def percentile(values: list[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))], 2)


def route_table(stats: Stats, seconds: float) -> dict[str, dict[str, object]]:
    table: dict[str, dict[str, object]] = {}
    for route in sorted(stats.latencies):
        values = stats.latencies[route]
        table[route] = {
            "rps": round(len(values) / seconds, 1),
            "p50": round(statistics.median(values), 2),
            "p95": percentile(values, 0.95),
            "p99": percentile(values, 0.99),
            "errors": stats.errors(route),
            "statuses": {str(code): n for code, n in sorted(stats.statuses[route].items())},
        }
    return table


# --- the server -------------------------------------------------------------------------------------------------


@dataclass
class Web:
    url: str
    process: subprocess.Popen[bytes]
    log: Path | None = None
    postgres_hint: str | None = None  # a path in the command line of the bench's own PostgreSQL

    def server_errors(self) -> dict[str, int]:
        """Unhandled errors in the server's log by exception (last traceback line): what a 5xx was."""
        if self.log is None or not self.log.exists():
            return {}
        kinds: Counter[str] = Counter()
        for line in self.log.read_text(errors="replace").splitlines():
            if '"unhandled error"' not in line:
                continue
            try:
                record = json.loads(line)
            except ValueError:
                continue
            trace = str(record.get("exception", "")).strip().splitlines()
            kinds[trace[-1][:160] if trace else "unknown"] += 1
        return dict(kinds.most_common(10))

    def cpu_s(self) -> float:
        """CPU seconds of the web process and its workers so far."""
        return tree_cpu_s(self.process.pid)


def tree_cpu_s(pid: int) -> float:
    """CPU seconds so far of a process and its live descendants (a server and its uvicorn workers)."""
    try:
        procs = [psutil.Process(pid), *psutil.Process(pid).children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            times = proc.cpu_times()
            total += times.user + times.system
    return total


@contextlib.contextmanager
def web_server(database_url: str, redis_url: str, var_dir: Path, workers: int, **extra: str) -> Iterator[Web]:
    """``wedsync web --workers N`` on a free port, logging to ``var_dir/web.log`` (stdout carries only the JSON
    lines)."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url, REDIS_URL=redis_url, WEDSYNC_VAR_DIR=str(var_dir), LOG_LEVEL="WARNING",
        LOGIN_ATTEMPTS_PER_MINUTE="100000", SIGNUP_ATTEMPTS_PER_MINUTE="100000", PYTHONUNBUFFERED="1",
        PROMETHEUS_MULTIPROC_DIR=str(var_dir / "prom"),
    )  # fmt: skip
    env.update(extra)
    var_dir.mkdir(parents=True, exist_ok=True)
    # read by server_errors(); the child keeps its own descriptor
    with (
        (var_dir / "web.log").open("ab") as log,
        running_web(env, "--workers", str(workers), stdout=log, stderr=log) as (url, _, proc),
    ):
        yield Web(url, proc, var_dir / "web.log")


# --- tenants and phones -----------------------------------------------------------------------------------------


def _cookies(response: httpx.Response, jar: dict[str, str]) -> None:
    for header in response.headers.get_list("set-cookie"):
        name, _, value = header.split(";", 1)[0].partition("=")
        if "max-age=0" in header.lower():
            jar.pop(name.strip(), None)
        else:
            jar[name.strip()] = value.strip()


def _cookie_header(jar: dict[str, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in jar.items())


async def _form_page(client: httpx.AsyncClient, path: str, jar: dict[str, str]) -> str:
    page = await client.get(path, headers={"cookie": _cookie_header(jar)})
    _cookies(page, jar)
    match = _CSRF_FIELD.search(page.text)
    assert match, f"{path} has no CSRF field"
    return match.group(1)


async def sign_up(base_url: str, name: str) -> tuple[str, dict[str, str]]:
    """A new supplier through ``/signup``; returns the email and the signed-in cookies."""
    email = f"bench-load-{secrets.token_hex(5)}@example.com"
    jar: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        token = await _form_page(client, "/signup", jar)
        resp = await client.post(
            "/signup",
            data={"_csrf_token": token, "business_name": name, "email": email, "password": PASSWORD},
            headers={"cookie": _cookie_header(jar)},
        )
        assert resp.status_code == 303, resp.text[:300]
        _cookies(resp, jar)
    return email, jar


async def log_in(base_url: str, email: str) -> dict[str, str]:
    jar: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        token = await _form_page(client, "/login", jar)
        resp = await client.post(
            "/login",
            data={"_csrf_token": token, "email": email, "password": PASSWORD},
            headers={"cookie": _cookie_header(jar)},
        )
        assert resp.status_code == 303, f"login answered {resp.status_code}"
        _cookies(resp, jar)
    return jar


def supplier_id_of(database_url: str, email: str) -> int:
    with psycopg.connect(database_url) as conn:
        row = conn.execute("SELECT id FROM suppliers WHERE lower(email) = lower(%s)", [email]).fetchone()
    assert row is not None
    return int(row[0])


def make_tenants(base_url: str, database_url: str, suppliers: int, clients: int, million: int) -> tuple[
    list[Tenant], list[dict[str, str]], dict[str, float]
]:  # fmt: skip
    """Sign up ``suppliers`` + 1 studios over HTTP and seed their clients; the last one has ``million``."""
    timings: dict[str, float] = {}
    started = time.perf_counter()
    signed = asyncio.run(_gather_limited([sign_up(base_url, f"Bench Studio {i}") for i in range(suppliers + 1)], 8))
    timings["signup_s"] = round(time.perf_counter() - started, 1)
    started = time.perf_counter()
    tenants = []
    for i, (email, _) in enumerate(signed):
        big = i == suppliers
        seeded = seed_supplier(database_url, supplier_id_of(database_url, email), million if big else clients)
        tenants.append(Tenant(seeded, email, big))
    timings["seed_s"] = round(time.perf_counter() - started, 1)
    timings["analyze_s"] = round(analyze(database_url), 1)
    return tenants, [jar for _, jar in signed], timings


async def _gather_limited(coros: list[Awaitable[T]], limit: int) -> list[T]:
    gate = asyncio.Semaphore(limit)

    async def one(coro: Awaitable[T]) -> T:
        async with gate:
            return await coro

    return list(await asyncio.gather(*(one(c) for c in coros)))


async def open_phones(base_url: str, tenants: list[Tenant], jars: list[dict[str, str]], phones: int) -> list[Phone]:
    """``phones`` signed-in phones: the sign-up's own session first, then a real login for every other phone."""
    big = [t for t in tenants if t.million]
    small = [t for t in tenants if not t.million]
    n_big = max(1, round(phones * MILLION_PHONES_SHARE))
    owners = [big[i % len(big)] for i in range(n_big)] + [small[i % len(small)] for i in range(phones - n_big)]
    first_jar = {id(t): jar for t, jar in zip(tenants, jars, strict=True)}
    used: set[int] = set()

    async def session_for(tenant: Tenant) -> dict[str, str]:
        if id(tenant) not in used:
            used.add(id(tenant))
            return first_jar[id(tenant)]
        return await log_in(base_url, tenant.email)

    jars_for = await _gather_limited([session_for(t) for t in owners], 8)
    out = []
    for n, (tenant, jar) in enumerate(zip(owners, jars_for, strict=True)):
        client = httpx.AsyncClient(
            base_url=base_url,
            timeout=httpx.Timeout(30),
            headers={"cookie": _cookie_header(jar)},
            limits=httpx.Limits(max_connections=2, max_keepalive_connections=2),
        )
        page = await client.get("/clients/")
        for attempt in range(1, 10):
            if page.status_code == 200:
                break
            if attempt == 5:  # still signed out: sign this phone in again, as its owner would
                client.headers["cookie"] = _cookie_header(await log_in(base_url, tenant.email))
                SETUP_TROUBLE["signed in again"] += 1
            # Seen on a saturated machine: a Redis call timed out, the session store's breaker opened, and this
            # process, which had not served the session yet, answered "sign in". Counted, then asked again.
            SETUP_TROUBLE[f"first page {page.status_code}"] += 1
            await asyncio.sleep(0.5 * attempt)  # back-off before asking again, not synchronisation
            page = await client.get("/clients/")
        assert page.status_code == 200, f"a signed-in phone got {page.status_code} for /clients/"
        match = _CSRF_FIELD.search(page.text) or re.search(r'"x-csrftoken": "([^"]+)"', page.text)
        assert match, "the client list has no CSRF token"
        out.append(Phone(tenant, client, match.group(1), random.Random(n)))
    return out


# --- what a phone does --------------------------------------------------------------------------------------------

_HX = {"HX-Request": "true"}


def _search_term(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.4:
        return rng.choice(LAST_NAMES).lower()
    if kind < 0.7:
        return rng.choice(FIRST_NAMES)
    if kind < 0.85:
        return rng.choice(VENUES).split()[-1]
    if kind < 0.95:
        return f"{rng.choice(FIRST_NAMES).lower()}.{rng.randrange(1, 5000)}@"
    return f"07700 {rng.randrange(0, 1000000):06d}"


HOT_CLIENTS = 50  # the couples a studio is working on this month: most detail views are of these
HOT_SHARE = 0.85


def _client_id(phone: Phone) -> int:
    """A client to open: usually one of the studio's current couples (shared by its phones), sometimes any."""
    s = phone.tenant.seeded
    if phone.rng.random() < HOT_SHARE:
        stride = max(1, s.clients // HOT_CLIENTS)
        return s.first_client_id + stride * phone.rng.randrange(min(HOT_CLIENTS, s.clients))
    return phone.rng.randint(s.first_client_id, s.last_client_id)


async def _timed(phone: Phone, stats: Stats, route: str, call: Awaitable[httpx.Response]) -> httpx.Response | None:
    started = time.perf_counter()
    try:
        resp = await call
    except httpx.HTTPError as exc:
        stats.record(route, 0, (time.perf_counter() - started) * 1000)
        stats.transport[f"{route}: {type(exc).__name__}"] += 1
        return None
    ms = (time.perf_counter() - started) * 1000
    stats.record(route, resp.status_code, ms)
    if phone.tenant.million and route in ("list", "list_more", "search"):
        stats.record("million_" + route, resp.status_code, ms)
    return resp


async def do_list(phone: Phone, stats: Stats) -> None:
    resp = await _timed(phone, stats, "list", phone.client.get("/clients/", headers=_HX))
    phone.depth = 1
    if resp is not None:
        more = _MORE.search(resp.text)
        phone.next_page = more.group(1).replace("&amp;", "&") if more else None


async def do_list_more(phone: Phone, stats: Stats) -> None:
    if phone.next_page is None:
        await do_list(phone, stats)
        return
    resp = await _timed(phone, stats, "list_more", phone.client.get(phone.next_page, headers=_HX))
    phone.depth += 1
    if resp is not None:
        more = _MORE.search(resp.text)
        phone.next_page = more.group(1).replace("&amp;", "&") if more else None


async def do_search(phone: Phone, stats: Stats) -> None:
    params = {"q": _search_term(phone.rng)}
    await _timed(phone, stats, "search", phone.client.get("/clients/", params=params, headers=_HX))


async def do_detail(phone: Phone, stats: Stats) -> None:
    await _open_client(phone, stats, _client_id(phone))


async def _open_client(phone: Phone, stats: Stats, client_id: int) -> None:
    """A client's page; the phone remembers it (and its version) for a following note or status change."""
    resp = await _timed(phone, stats, "detail", phone.client.get(f"/clients/{client_id}"))
    if resp is not None and resp.status_code == 200:
        version = _VERSION.search(resp.text)
        phone.current = (client_id, int(version.group(1))) if version else None


def _write_headers(phone: Phone) -> dict[str, str]:
    return {**_HX, "x-csrftoken": phone.csrf, "idempotency-key": secrets.token_urlsafe(12)}


async def do_note(phone: Phone, stats: Stats) -> None:
    client_id = phone.current[0] if phone.current else _client_id(phone)
    body = {"body": f"Bench note {phone.rng.randrange(1_000_000)}: first look by the lake at 2pm."}
    call = phone.client.post(f"/clients/{client_id}/notes", data=body, headers=_write_headers(phone))
    await _timed(phone, stats, "note", call)


async def do_status(phone: Phone, stats: Stats) -> None:
    if phone.current is None:
        await do_detail(phone, stats)
        if phone.current is None:
            return
    client_id, version = phone.current
    status = phone.rng.choice(["lead", "booked", "completed"])
    call = phone.client.post(
        f"/clients/{client_id}/status", data={"status": status, "version": str(version)}, headers=_write_headers(phone)
    )
    resp = await _timed(phone, stats, "status", call)
    if resp is not None:
        found = _VERSION.search(resp.text)  # 200 and 409 both show the current version
        phone.current = (client_id, int(found.group(1))) if found else None


async def do_progress(phone: Phone, stats: Stats) -> None:
    headers = {"If-None-Match": phone.etag} if phone.etag else {}
    call = phone.client.get(f"/jobs/{phone.tenant.seeded.job_id}/progress", headers=headers)
    resp = await _timed(phone, stats, "progress", call)
    if resp is not None and resp.headers.get("etag"):
        phone.etag = resp.headers["etag"]


# -- the steady browse workload (cache_hit_ratio): people going back to what they work on ---------------------------
STEADY_LIST_PAGES = 3  # "load more" twice, then back to the top
RECENT_SEARCHES = 10  # the names and venues a studio's team looks up this week
# Writes at 1 in 50 requests (notes and status changes 3:2, as in the mix); a status change bumps the studio's
# lists (every list page and search of the studio is read again from PostgreSQL once), a note one client's page.
STEADY: dict[str, float] = {
    "list": 25, "list_more": 12, "detail": 40, "search": 21,  # browse 98
    "note": 1.2, "status": 0.8,  # writes 2
}  # fmt: skip


def recent_searches(tenant: Tenant) -> list[str]:
    """The studio's recent searches: names and venues from the vocabulary, the same for all of its phones."""
    rng = random.Random(tenant.seeded.supplier_id)
    terms: list[str] = []
    while len(terms) < RECENT_SEARCHES:
        term = _search_term(rng)
        if "@" not in term and not term[:1].isdigit() and term not in terms:
            terms.append(term)
    return terms


def _hot_client_id(phone: Phone) -> int:
    s = phone.tenant.seeded
    stride = max(1, s.clients // HOT_CLIENTS)
    return s.first_client_id + stride * phone.rng.randrange(min(HOT_CLIENTS, s.clients))


async def do_list_again(phone: Phone, stats: Stats) -> None:
    if phone.depth >= STEADY_LIST_PAGES:
        await do_list(phone, stats)
    else:
        await do_list_more(phone, stats)


async def do_search_again(phone: Phone, stats: Stats) -> None:
    params = {"q": phone.rng.choice(recent_searches(phone.tenant))}
    await _timed(phone, stats, "search", phone.client.get("/clients/", params=params, headers=_HX))


async def do_detail_hot(phone: Phone, stats: Stats) -> None:
    await _open_client(phone, stats, _hot_client_id(phone))


async def visit_working_set(phones: list[Phone]) -> None:
    """Warm-up of the steady phase: one phone per studio opens every page of the studio's working set once (the
    list's first pages, the recent searches, the current couples' pages), as the team did before today."""
    first: dict[int, Phone] = {}
    for phone in phones:
        first.setdefault(phone.tenant.seeded.supplier_id, phone)

    async def visit(phone: Phone) -> None:
        stats = Stats()
        await do_list(phone, stats)
        for _ in range(STEADY_LIST_PAGES - 1):
            await do_list_more(phone, stats)
        for term in recent_searches(phone.tenant):
            await phone.client.get("/clients/", params={"q": term}, headers=_HX)
        s = phone.tenant.seeded
        stride = max(1, s.clients // HOT_CLIENTS)
        for n in range(min(HOT_CLIENTS, s.clients)):
            await phone.client.get(f"/clients/{s.first_client_id + stride * n}")

    await _gather_limited([visit(p) for p in first.values()], 16)


ACTIONS: dict[str, Callable[[Phone, Stats], Awaitable[None]]] = {
    "list": do_list, "list_more": do_list_more, "detail": do_detail, "search": do_search,
    "note": do_note, "status": do_status, "progress": do_progress,
}  # fmt: skip
STEADY_ACTIONS = {**ACTIONS, "list_more": do_list_again, "search": do_search_again, "detail": do_detail_hot}


async def phone_loop(
    phone: Phone,
    mix: dict[str, int] | dict[str, float],
    until: float,
    stats: Stats,
    think_s: float,
    actions: dict[str, Callable[[Phone, Stats], Awaitable[None]]],
) -> None:
    routes, weights = list(mix), list(mix.values())
    # Phones start spread over one think time rather than all at once.
    await asyncio.sleep(phone.rng.uniform(0, think_s))
    while time.perf_counter() < until:
        route = phone.rng.choices(routes, weights)[0]
        await actions[route](phone, stats)
        if think_s:
            # The workload model (a person reading the screen), not synchronisation.
            await asyncio.sleep(phone.rng.expovariate(1 / think_s))


async def run_mix(
    phones: list[Phone],
    mix: dict[str, int] | dict[str, float],
    seconds: float,
    think_s: float = THINK_S,
    actions: dict[str, Callable[[Phone, Stats], Awaitable[None]]] | None = None,
) -> Stats:
    stats = Stats()
    until = time.perf_counter() + seconds
    await asyncio.gather(*(phone_loop(p, mix, until, stats, think_s, actions or ACTIONS) for p in phones))
    return stats


async def run_list_rps(
    phones: list[Phone], seconds: float, connections: int, *, conditional: bool = False, raw: bool = True
) -> Stats:
    """Back-to-back client-list fragments on ``connections`` phones of 2,000-client studios (no think time).

    ``conditional``: each phone sends back the ETag it got (as a browser revalidating its cached copy does), so
    an unchanged list is a 304; recorded as route ``list_conditional``.

    ``raw``: the requests go out on plain keep-alive sockets (``RawPhone``), the same bytes a phone's browser sends
    (its cookie, ``HX-Request``, ``Accept-Encoding: gzip``). httpx spends about as much CPU per request as the
    server does (0.9 ms against 1 ms), and on two shared cores the generator's CPU is taken from the server
    being measured; ``raw=False`` is the httpx client, kept as a comparison.
    """
    small = [p for p in phones if not p.tenant.million][:connections]
    stats = Stats()
    route = "list_conditional" if conditional else "list"
    # Raw connections are opened one at a time, each answered once, before the clock starts: opened in one burst,
    # most of them were accepted by whichever web process woke first, and the figure measured one core.
    opened: dict[int, RawPhone] = {}
    if raw:
        for phone in small:
            opened[id(phone)] = raw_phone = await RawPhone.open(phone)
            await raw_phone.get("/clients/", _HX)
    until = time.perf_counter() + seconds

    async def hammer(phone: Phone) -> None:
        etag = ""
        raw_phone = opened.get(id(phone))
        try:
            while time.perf_counter() < until:
                headers = {**_HX, "If-None-Match": etag} if etag else _HX
                if raw_phone is not None:
                    started = time.perf_counter()
                    status, answer_etag = await raw_phone.get("/clients/", headers)
                    stats.record(route, status, (time.perf_counter() - started) * 1000)
                else:
                    resp = await _timed(phone, stats, route, phone.client.get("/clients/", headers=headers))
                    answer_etag = resp.headers.get("etag", "") if resp is not None else ""
                if conditional:
                    etag = answer_etag
        finally:
            if raw_phone is not None:
                raw_phone.close()

    await asyncio.gather(*(hammer(p) for p in small))
    return stats


async def run_hello_rps(base_url: str, seconds: float, connections: int) -> Stats:
    """The framework's floor, asked as ``run_list_rps`` asks for the list: ``GET /`` of the bare hello-world
    (``bench.hello``) back to back on ``connections`` raw keep-alive connections, opened one at a time first."""
    stats = Stats()
    opened = []
    for _ in range(connections):
        opened.append(raw := await RawPhone.connect(base_url))
        await raw.get("/", {})
    until = time.perf_counter() + seconds

    async def hammer(raw: RawPhone) -> None:
        try:
            while time.perf_counter() < until:
                started = time.perf_counter()
                status, _ = await raw.get("/", {})
                stats.record("hello", status, (time.perf_counter() - started) * 1000)
        finally:
            raw.close()

    await asyncio.gather(*(hammer(raw) for raw in opened))
    return stats


@dataclass
class RawPhone:
    """One keep-alive HTTP/1.1 connection sending a phone's GETs as bytes and reading answers by Content-Length.

    Hand-written on purpose: it is the smallest client that speaks what the server answers here (uvicorn sends a
    Content-Length on every non-streamed response), and nothing else is on the machine to do it (no wrk/oha; locust
    and httpx cost the CPU this avoids). A chunked or malformed answer counts as an error (status 0)."""

    reader: asyncio.StreamReader
    writer: asyncio.StreamWriter
    host: str
    cookie: str

    @classmethod
    async def open(cls, phone: Phone) -> RawPhone:
        return await cls.connect(str(phone.client.base_url), phone.client.headers.get("cookie", ""))

    @classmethod
    async def connect(cls, base_url: str, cookie: str = "") -> RawPhone:
        url = httpx.URL(base_url)
        reader, writer = await asyncio.open_connection(url.host, url.port)
        return cls(reader, writer, f"{url.host}:{url.port}", cookie)

    async def get(self, path: str, headers: dict[str, str]) -> tuple[int, str]:
        """(status, ETag) of one GET; status 0 when the answer could not be read."""
        lines = [f"GET {path} HTTP/1.1", f"host: {self.host}", f"cookie: {self.cookie}", "accept-encoding: gzip"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1"))
        try:
            head = (await self.reader.readuntil(b"\r\n\r\n")).decode("latin-1").split("\r\n")
            status = int(head[0][9:12])
            fields = {name.lower(): value for name, _, value in (line.partition(": ") for line in head[1:]) if value}
            if "chunked" in fields.get("transfer-encoding", ""):
                return 0, ""
            await self.reader.readexactly(int(fields.get("content-length", "0")))
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError):
            return 0, ""
        return status, fields.get("etag", "")

    def close(self) -> None:
        self.writer.close()


# --- /metrics ---------------------------------------------------------------------------------------------------


async def scrape(client: httpx.AsyncClient) -> str:
    return (await client.get("/metrics")).text


def cache_counts(metrics: str) -> dict[tuple[str, str], float]:
    out: dict[tuple[str, str], float] = {}
    for m in _CACHE.finditer(metrics):
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group("labels")))
        key = (labels.get("tier", ""), labels.get("result", ""))
        out[key] = out.get(key, 0.0) + float(m.group("value"))
    return out


def cache_ratio(before: str, after: str) -> dict[str, object] | None:
    """Hit ratios per tier, and overall: reads answered without PostgreSQL / all reads (each starts in memory)."""
    if "wedsync_cache_lookups_total" not in after:
        return None
    b, a = cache_counts(before), cache_counts(after)
    delta = {k: a.get(k, 0.0) - b.get(k, 0.0) for k in a}
    tiers = sorted({tier for tier, _ in delta})
    out: dict[str, object] = {"lookups": {f"{t}_{r}": int(v) for (t, r), v in sorted(delta.items())}}
    for tier in tiers:
        hits, misses = delta.get((tier, "hit"), 0.0), delta.get((tier, "miss"), 0.0)
        out[tier] = round(hits / (hits + misses), 4) if hits + misses else None
    first, last = ("memory" if "memory" in tiers else tiers[0]), tiers[-1]
    reads = delta.get((first, "hit"), 0.0) + delta.get((first, "miss"), 0.0)
    to_database = delta.get((last, "miss"), 0.0)
    out["overall"] = round(1 - to_database / reads, 4) if reads else None
    return out


def server_p95_ms(before: str, after: str, labels_match: Callable[[str], bool] = lambda _: True) -> float | None:
    """The server's own p95 (upper bucket bound) between two ``/metrics`` scrapes, from the request-duration
    histogram: every route, or the series whose label text ``labels_match`` accepts."""
    return histogram_ms(before, after, "wedsync_request_duration_seconds", 0.95, labels_match)


def histogram_ms(
    before: str, after: str, metric: str, q: float, labels_match: Callable[[str], bool] = lambda _: True
) -> float | None:
    """Quantile ``q`` (the upper bound of its bucket, in ms) of histogram ``metric`` between two scrapes."""
    pattern = re.compile(rf"^{metric}_bucket\{{(?P<labels>.*)\}} (?P<count>[0-9.e+]+)$", re.M)

    def buckets(text: str) -> dict[float, float]:
        out: dict[float, float] = {}
        for m in pattern.finditer(text):
            if not labels_match(m.group("labels")):
                continue
            le = re.search(r'le="([^"]+)"', m.group("labels"))
            if le:
                bound = float("inf") if le.group(1) == "+Inf" else float(le.group(1))
                out[bound] = out.get(bound, 0.0) + float(m.group("count"))
        return out

    b, a = buckets(before), buckets(after)
    delta = {k: a[k] - b.get(k, 0.0) for k in a}
    total = delta.get(float("inf"), 0.0)
    if not total:
        return None
    for bound in sorted(delta):
        if delta[bound] >= q * total:
            return bound * 1000
    return None


# --- phases -------------------------------------------------------------------------------------------------------


@dataclass
class Phase:
    stats: Stats
    seconds: float
    loadgen_cores: float
    server_cores: float
    metrics_before: str
    metrics_after: str
    machine: dict[str, float]


async def measured(web: Web, run: Callable[[], Awaitable[Stats]]) -> Phase:
    async with httpx.AsyncClient(base_url=web.url, timeout=30) as plain:
        before = await scrape(plain)
        pg0 = postgres_cpu_s(web.postgres_hint)
        cpu0, srv0, sys0, t0 = time.process_time(), web.cpu_s(), psutil.cpu_times(), time.perf_counter()
        stats = await run()
        elapsed = time.perf_counter() - t0
        cpu1, srv1, sys1 = time.process_time(), web.cpu_s(), psutil.cpu_times()
        pg1 = postgres_cpu_s(web.postgres_hint)
        after = await scrape(plain)
    loadgen, server = (cpu1 - cpu0) / elapsed, (srv1 - srv0) / elapsed
    postgres = (pg1 - pg0) / elapsed if pg0 is not None and pg1 is not None else 0.0
    busy = (sum(sys1) - sum(sys0) - (sys1.idle - sys0.idle) - (sys1.iowait - sys0.iowait)) / elapsed
    # The bench machine may be shared: what else ran shows how far the figures are from a quiet machine.
    machine = {
        "busy_cores": round(busy, 2),
        "postgres_cores": round(postgres, 2),
        "other_cores": round(max(0.0, busy - loadgen - server - postgres), 2),  # Valkey and anything else
        "loadavg_1m": round(os.getloadavg()[0], 2),
    }
    return Phase(stats, elapsed, round(loadgen, 2), round(server, 2), before, after, machine)


async def run_all(web: Web, phones: list[Phone], seconds: float, warmup_s: float) -> dict[str, Phase]:
    phases: dict[str, Phase] = {}
    await run_mix(phones, BROWSE, warmup_s)  # connections open, caches and PostgreSQL buffers warm
    phases["list_rps"] = await measured(web, lambda: run_list_rps(phones, seconds, RPS_CONNECTIONS))
    phases["list_rps_httpx"] = await measured(
        web, lambda: run_list_rps(phones, seconds / 2, RPS_CONNECTIONS, raw=False)
    )
    phases["list_304"] = await measured(
        web, lambda: run_list_rps(phones, seconds / 2, RPS_CONNECTIONS, conditional=True)
    )
    phases["browse"] = await measured(web, lambda: run_mix(phones, BROWSE, seconds))
    await visit_working_set(phones)  # the steady phase's warm-up: its working set has been seen once
    await run_mix(phones, STEADY, warmup_s, actions=STEADY_ACTIONS)
    phases["steady"] = await measured(web, lambda: run_mix(phones, STEADY, seconds, actions=STEADY_ACTIONS))
    phases["mix"] = await measured(web, lambda: run_mix(phones, MIX, seconds))
    return phases


@dataclass
class FrameworkRound:
    list_rps: float
    hello_rps: float
    list_cpu_ms: float  # the web processes' CPU per cached list fragment
    hello_cpu_ms: float  # the hello-world's CPU per answer

    @property
    def ratio(self) -> float:
        return self.list_rps / self.hello_rps if self.hello_rps else 0.0


async def run_framework(web: Web, hello_url: str, hello_pid: int, phones: list[Phone], seconds: float) -> list[
    FrameworkRound
]:  # fmt: skip
    """``FRAMEWORK_ROUNDS`` rounds of the cached list fragment then the bare hello-world, each ``seconds`` back to
    back on ``RPS_CONNECTIONS`` raw connections: adjacent in time, so a busy moment on the machine weighs on both
    sides of each round's ratio."""
    rounds = []
    for _ in range(FRAMEWORK_ROUNDS):
        cpu0, t0 = web.cpu_s(), time.perf_counter()
        listed = await run_list_rps(phones, seconds, RPS_CONNECTIONS)
        list_s, list_cpu = time.perf_counter() - t0, web.cpu_s() - cpu0
        cpu0, t0 = tree_cpu_s(hello_pid), time.perf_counter()
        hello = await run_hello_rps(hello_url, seconds, RPS_CONNECTIONS)
        hello_s, hello_cpu = time.perf_counter() - t0, tree_cpu_s(hello_pid) - cpu0
        ok_list = sum(n for code, n in listed.statuses.get("list", Counter()).items() if 200 <= code < 300)
        ok_hello = sum(n for code, n in hello.statuses.get("hello", Counter()).items() if code == 200)
        rounds.append(
            FrameworkRound(
                list_rps=ok_list / list_s,
                hello_rps=ok_hello / hello_s,
                list_cpu_ms=list_cpu * 1000 / max(1, ok_list),
                hello_cpu_ms=hello_cpu * 1000 / max(1, ok_hello),
            )
        )
    return rounds


def postgres_cpu_s(data_hint: str | None) -> float | None:
    """CPU seconds so far of the PostgreSQL server whose command line names ``data_hint`` (the bench's embedded
    one) and its backends; None when it is not on this machine (``DATABASE_URL`` elsewhere)."""
    if not data_hint:
        return None
    for proc in psutil.process_iter(["cmdline"]):
        cmdline = proc.info.get("cmdline") or []
        if any("postgres" in part for part in cmdline[:1]) and any(data_hint in part for part in cmdline):
            total = 0.0
            with contextlib.suppress(psutil.NoSuchProcess):
                own = proc.cpu_times()
                total += own.children_user + own.children_system  # backends that have exited
                for each in [proc, *proc.children(recursive=True)]:
                    with contextlib.suppress(psutil.NoSuchProcess):
                        times = each.cpu_times()
                        total += times.user + times.system
            return total
    return None


def _rps_detail(phase: Phase) -> dict[str, object]:
    """The same back-to-back list through httpx: the generator, not the server, is what differs."""
    done = max(1, len(phase.stats.all_latencies()))
    return {
        "rps": round(done / phase.seconds, 1),
        "p95": percentile(phase.stats.all_latencies(), 0.95),
        "errors": phase.stats.errors(),
        "server_cpu_ms_per_request": round(phase.server_cores * phase.seconds * 1000 / done, 3),
        "loadgen_cpu_ms_per_request": round(phase.loadgen_cores * phase.seconds * 1000 / done, 3),
        "machine": phase.machine,
    }


def _conditional_detail(phase: Phase) -> dict[str, object]:
    """The same list asked for with If-None-Match: requests/s and how many were 304 (nothing rendered)."""
    statuses = phase.stats.statuses.get("list_conditional", Counter())
    return {
        "rps": round(sum(statuses.values()) / phase.seconds, 1),
        "share_304": round(statuses.get(304, 0) / max(1, sum(statuses.values())), 3),
        "p95": percentile(phase.stats.all_latencies(), 0.95),
        "errors": phase.stats.errors(),
        "server_cores": phase.server_cores,
        "loadgen_cores": phase.loadgen_cores,
    }


def _spread(values: list[float], digits: int = 3) -> dict[str, object]:
    return {"runs": len(values), "min": round(min(values), digits), "max": round(max(values), digits)}


def report_framework(rounds: list[FrameworkRound], *, cores: int) -> None:
    """The bare hello-world's requests/s, and the cached list fragment's as a share of it (medians of alternated
    rounds): a machine twice as slow today halves both, so the share tells a slow change from a slow day."""
    hello = [r.hello_rps for r in rounds]
    ratios = [r.ratio for r in rounds]
    common = {"web_workers": cores, "cpu_cores": os.cpu_count(), "connections": RPS_CONNECTIONS}
    emit(
        "framework_hello_rps", statistics.median(hello), "requests/s", "none (the floor pages are read against)",
        served="a bare Litestar hello-world (bench/hello.py) with wedsync web's uvicorn options and workers",
        server_cpu_ms_per_request=round(statistics.median(r.hello_cpu_ms for r in rounds), 3),
        **_spread(hello, 1), **common,
    )  # fmt: skip
    emit(
        "list_fragment_vs_framework", statistics.median(ratios), "ratio", ">= 0.3",
        measured="cached client-list fragment requests/s / hello-world requests/s, each round back to back",
        list_rps=[round(r.list_rps, 1) for r in rounds], hello_rps=[round(r.hello_rps, 1) for r in rounds],
        list_server_cpu_ms_per_request=round(statistics.median(r.list_cpu_ms for r in rounds), 3),
        hello_server_cpu_ms_per_request=round(statistics.median(r.hello_cpu_ms for r in rounds), 3),
        # The same share from CPU per request (hello's / the list's): what requests/s would give if the servers had
        # the cores to themselves; steadier than requests/s when other programs take CPU between rounds.
        cpu_ratio=round(statistics.median(r.hello_cpu_ms / r.list_cpu_ms for r in rounds if r.list_cpu_ms), 3),
        **_spread(ratios), **common,
    )  # fmt: skip


def report(
    phases: dict[str, Phase], *, cores: int, phones: int, sizes: dict[str, object], server_errors: dict[str, int]
) -> None:
    common = {
        "web_workers": cores, "cpu_cores": os.cpu_count(), **sizes, "server_errors": server_errors,
        "note": "client-side latency on loopback; the load generator runs on the same cores as the server",
    }  # fmt: skip
    rps = phases["list_rps"]
    ok = sum(n for code, n in rps.stats.statuses.get("list", Counter()).items() if 200 <= code < 300)
    done = max(1, sum(rps.stats.statuses.get("list", Counter()).values()))
    # CPU per request barely depends on what else the machine runs, unlike requests/s: the ceiling the two cores
    # would give the server alone (generator elsewhere) is cores / server CPU per request.
    server_ms = rps.server_cores * rps.seconds * 1000 / done
    loadgen_ms = rps.loadgen_cores * rps.seconds * 1000 / done
    emit(
        "list_fragment_rps", ok / rps.seconds, "requests/s", ">= 1500", connections=RPS_CONNECTIONS,
        server_cpu_ms_per_request=round(server_ms, 3), loadgen_cpu_ms_per_request=round(loadgen_ms, 3),
        ceiling_rps_server_alone=round((os.cpu_count() or 1) * 1000 / server_ms) if server_ms else None,
        conditional=_conditional_detail(phases["list_304"]),
        generator="raw keep-alive HTTP/1.1 sockets (RawPhone); httpx until 2026-11-24, its figure in httpx_generator",
        httpx_generator=_rps_detail(phases["list_rps_httpx"]),
        seconds=round(rps.seconds, 1), errors=rps.stats.errors(), p50=percentile(rps.stats.all_latencies(), 0.5),
        p95=percentile(rps.stats.all_latencies(), 0.95), loadgen_cores=rps.loadgen_cores,
        server_cores=rps.server_cores, machine=rps.machine, **common,
    )  # fmt: skip
    mix = phases["mix"]
    main_routes = [r for r in mix.stats.latencies if not r.startswith("million_")]
    mix_latencies = mix.stats.all_latencies(main_routes)
    emit(
        "mix_p95_ms", percentile(mix.stats.all_latencies(main_routes), 0.95), "ms", "< 50",
        phones=phones, think_s=THINK_S, seconds=round(mix.seconds, 1),
        rps=round(len(mix.stats.all_latencies(main_routes)) / mix.seconds, 1),
        errors_5xx=sum(mix.stats.errors(r) for r in main_routes), transport_errors=dict(mix.stats.transport),
        routes=route_table(mix.stats, mix.seconds),
        server_cpu_ms_per_request=round(mix.server_cores * mix.seconds * 1000 / max(1, len(mix_latencies)), 3),
        server_p95_ms_bucket=server_p95_ms(mix.metrics_before, mix.metrics_after),
        cache=cache_ratio(mix.metrics_before, mix.metrics_after),
        loadgen_cores=mix.loadgen_cores, server_cores=mix.server_cores, machine=mix.machine, **common,
    )  # fmt: skip
    mix_cpu_ms = mix.server_cores * mix.seconds * 1000 / max(1, len(mix_latencies))
    emit(
        "mix_server_cpu_ms", mix_cpu_ms, "ms", "none (read beside mix_p95_ms)",
        measured="the web processes' CPU time (user + system, psutil) over the mix phase / requests answered",
        why="a slower machine stretches mix_p95_ms but barely moves CPU per request; a costlier change moves both",
        rps=round(len(mix_latencies) / mix.seconds, 1), server_cores=mix.server_cores, machine=mix.machine,
        **common,
    )  # fmt: skip
    lag = {name: histogram_ms(mix.metrics_before, mix.metrics_after, _LOOP_LAG, q) for name, q in _LAG_QS.items()}
    emit(
        "mix_loop_lag_ms", lag["p99"], "ms", "none (read beside mix_p95_ms)",
        measured="how late the web processes' event loops woke a 50 ms timer during the mix (upper bucket bounds)",
        why="how long a request can wait behind another's synchronous work (a render, rows parsed, a gzip)",
        **lag, machine=mix.machine, **common,
    )  # fmt: skip
    big_routes = [r for r in mix.stats.latencies if r.startswith("million_")]
    emit(
        "million_list_p95_ms", percentile(mix.stats.all_latencies(big_routes), 0.95), "ms", "< 30",
        measured="list, load more and search answers to the big studio's phones during the mix",
        phones=max(1, round(phones * MILLION_PHONES_SHARE)),
        routes={r: v for r, v in route_table(mix.stats, mix.seconds).items() if r in big_routes}, machine=mix.machine,
        **common,
    )  # fmt: skip
    steady, browse = phases["steady"], phases["browse"]
    ratio = cache_ratio(steady.metrics_before, steady.metrics_after)
    first_visits = cache_ratio(browse.metrics_before, browse.metrics_after)
    emit(
        "cache_hit_ratio", ratio["overall"] if ratio else None, "ratio", ">= 0.95",  # type: ignore[arg-type]
        measured=(
            f"reads answered by the cache / all cached reads, steady browse after warm-up: each studio's phones go "
            f"back to its list ({STEADY_LIST_PAGES} pages), its {RECENT_SEARCHES} recent searches and its "
            f"{HOT_CLIENTS} current couples, with writes at 2% of requests (notes 1.2, status changes 0.8); every "
            f"page of that working set opened once, then {WARMUP_S:g} s of the workload, before measuring"
        ),
        definition_changed=(
            "until 2026-11-24 the value was first_visit_browse.overall: the browse mix right after a short "
            "warm-up, with 15% of detail views and searches cold on purpose and the working set not yet seen"
        ),
        tiers=ratio, phones=phones, seconds=round(steady.seconds, 1),
        rps=round(len(steady.stats.all_latencies()) / steady.seconds, 1),
        routes=route_table(steady.stats, steady.seconds),
        errors_5xx=steady.stats.errors(), p95=percentile(steady.stats.all_latencies(), 0.95),
        first_visit_browse={
            "overall": first_visits["overall"] if first_visits else None, "tiers": first_visits,
            "measured": "browse (list, load more, detail, search; no writes), 15% of details and searches cold",
            "p95": percentile(browse.stats.all_latencies(), 0.95), "errors_5xx": browse.stats.errors(),
        },
        mix_tiers=cache_ratio(mix.metrics_before, mix.metrics_after), loadgen_cores=steady.loadgen_cores,
        server_cores=steady.server_cores, machine=steady.machine, **common,
    )  # fmt: skip


async def close_phones(phones: list[Phone]) -> None:
    await asyncio.gather(*(p.client.aclose() for p in phones))


def run_async(coro: Awaitable[T]) -> T:
    """On uvloop when installed: a lighter event loop leaves more of the shared CPU to the server."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)  # type: ignore[arg-type]
    return uvloop.run(coro)  # type: ignore[arg-type]


def main() -> int:
    cores = os.cpu_count() or 1
    with (
        migrated_services("load") as (tmp, database_url, redis_url),
        web_server(database_url, redis_url, tmp / "var", cores) as web,
        running_hello(cores) as (hello_url, _, hello),
    ):
        web.postgres_hint = None if os.environ.get("DATABASE_URL") else str(tmp / "postgres")
        tenants, jars, timings = make_tenants(web.url, database_url, SUPPLIERS, CLIENTS_PER_SUPPLIER, MILLION)

        async def go() -> tuple[dict[str, Phase], list[FrameworkRound]]:
            started = time.perf_counter()
            phones = await open_phones(web.url, tenants, jars, PHONES)
            timings["sessions_s"] = round(time.perf_counter() - started, 1)
            try:
                phases = await run_all(web, phones, SECONDS, WARMUP_S)
                return phases, await run_framework(web, hello_url, hello.pid, phones, max(2.0, SECONDS / 4))
            finally:
                await close_phones(phones)

        phases, framework = run_async(go())
        sizes = {
            "suppliers": SUPPLIERS, "clients_each": CLIENTS_PER_SUPPLIER, "big_supplier_clients": MILLION,
            "setup": {**timings, "trouble": dict(SETUP_TROUBLE)},
        }  # fmt: skip
        report(phases, cores=cores, phones=PHONES, sizes=sizes, server_errors=web.server_errors())
        report_framework(framework, cores=cores)
    return 0


__all__ = ["main"]

if __name__ == "__main__":
    sys.exit(main())
