"""The offline outbox on phones: what a photographer does without signal is kept on the phone, shown as pending,
and applied exactly once when the signal comes back — in order, through conflicts, validation errors, an expired
session, an interrupted replay and two open tabs. Every "exactly once" is checked in PostgreSQL."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, Route, expect

from e2e.conftest import DEVICES, PASSWORD, device_context_options, sign_up, supplier_id_of
from tests.fixtures import Server, Services, seed_clients, wait_for

PENDING = "Saved on this phone — will send when you're back online"


@pytest.fixture
def context(
    playwright: Playwright, browser: Browser, server: Server, request: pytest.FixtureRequest
) -> Iterator[BrowserContext]:
    device = getattr(request, "param", "Pixel 7")
    ctx = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    ctx.on("dialog", lambda d: d.accept())  # "Discard this change?" confirmations
    yield ctx
    ctx.close()


def _sign_up(page: Page, services: Services) -> int:
    email = sign_up(page, "Venue Signal Studio", controlled=True)
    supplier_id = supplier_id_of(services, email)
    EMAILS[supplier_id] = email
    return supplier_id


EMAILS: dict[int, str] = {}


def _rows(services: Services, sql: str, params: list[object]) -> list[tuple[object, ...]]:
    with psycopg.connect(services.database_url) as conn:
        return conn.execute(sql, params).fetchall()


def _notes(services: Services, client_id: int) -> list[str]:
    return [
        str(r[0])
        for r in _rows(services, "SELECT body FROM client_notes WHERE client_id = %s ORDER BY id", [client_id])
    ]


def _status(services: Services, client_id: int) -> tuple[object, ...]:
    return _rows(services, "SELECT status, version FROM clients WHERE id = %s", [client_id])[0]


def _badge(page: Page):  # type: ignore[no-untyped-def]
    # The count a photographer sees on a phone: on the tab bar's More signed in, on the header's Outbox signed out.
    seen = 'nav.tabs a[href="/more"] [data-outbox-count], header.top > nav:not(.tabs) [data-outbox-count]'
    return page.locator(seen).first


def _open_client(page: Page, client_id: int) -> None:
    page.goto(f"/clients/{client_id}")
    expect(page.get_by_test_id("couple-name")).to_be_visible()


def _add_note(page: Page, text: str) -> None:
    page.get_by_label("Add a note").fill(text)
    page.get_by_role("button", name="Add note").click()


@pytest.mark.e2e
@pytest.mark.parametrize("context", DEVICES, indirect=True)
def test_offline_changes_are_pending_then_applied_exactly_once(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(
        services.database_url, supplier_id, [{"partner1_first": "Maud", "partner1_last": "Lyle", "status": "lead"}]
    )
    page.goto("/outbox")  # opened once online: the outbox screen is then kept for offline use
    expect(page.get_by_test_id("outbox-empty")).to_be_visible()
    # A couple met at the venue: the lead form was opened in a tab while there was still a bar of signal.
    lead_tab = context.new_page()
    lead_tab.goto("/clients/new")
    _open_client(page, cid)

    context.set_offline(True)
    _add_note(page, "Grandma photos before the speeches")
    expect(page.locator(".notes .outbox-pending").first).to_contain_text(PENDING)
    expect(page.get_by_label("Add a note")).to_have_value("")  # the form is ready for the next note
    _add_note(page, "Confetti at the church door")
    expect(page.locator(".notes .outbox-pending")).to_have_count(2)
    page.get_by_role("button", name="booked").click()
    expect(page.get_by_test_id("status")).to_have_text("booked")
    expect(page.locator("#status-card .outbox-pending")).to_contain_text("Saved on this phone")
    expect(_badge(page)).to_have_text("3")

    lead_tab.get_by_label("First name").first.fill("Nell")
    lead_tab.get_by_label("Last name").first.fill("Archer")
    lead_tab.get_by_role("button", name="Save lead").click()
    expect(lead_tab).to_have_url(re.compile(r"/outbox\?saved=\d+$"))
    lead_tab.close()
    expect(_badge(page)).to_have_text("4")
    page.goto("/outbox")  # offline: the kept copy of the screen, listing what this phone holds
    expect(page.locator(".outbox-item")).to_have_count(4)
    expect(page.locator(".outbox-item.pending")).to_have_count(4)
    expect(page.locator(".outbox-item").nth(3)).to_contain_text("New lead: Nell Archer")
    expect(_badge(page)).to_have_text("4")
    assert _notes(services, cid) == []

    context.set_offline(False)
    expect(_badge(page)).to_be_hidden(timeout=15000)
    expect(page.locator(".outbox-item.sent")).to_have_count(4)
    assert _notes(services, cid) == ["Grandma photos before the speeches", "Confetti at the church door"]
    assert _status(services, cid) == ("booked", 2)
    leads = _rows(
        services,
        "SELECT partner1_first, partner1_last FROM clients WHERE supplier_id = %s AND source = 'manual'",
        [supplier_id],
    )
    assert leads == [("Nell", "Archer")]


def _waiting_notes(page: Page, n: int) -> None:
    expect(page.locator(".notes .outbox-pending")).to_have_count(n)
    expect(_badge(page)).to_have_text(str(n))  # the worker has counted them (so "badge hidden" later means sent)


@pytest.mark.e2e
def test_replay_interrupted_midway_still_applies_each_once(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Rosa"}])
    _open_client(page, cid)
    context.set_offline(True)
    for n, text in enumerate(("First look by the lake", "Ring shots", "Sparkler exit at 10"), 1):
        _add_note(page, text)
        _waiting_notes(page, n)  # one tap at a time, as a thumb does

    posts: list[str] = []

    def lose_second_answer(route: Route) -> None:
        posts.append(route.request.headers.get("idempotency-key", ""))
        if len(posts) == 2:
            route.fetch()  # the server applies it ...
            route.abort("internetdisconnected")  # ... and the phone never hears back
        else:
            route.continue_()

    context.route("**/clients/*/notes", lose_second_answer)
    context.set_offline(False)
    # The run stops at the lost answer and retries by itself (backoff), sending the second note again, same key.
    # (Waiting through Playwright, not wait_for: the route handler runs only while Playwright has control.)
    expect(_badge(page)).to_be_hidden(timeout=30000)
    assert _notes(services, cid) == ["First look by the lake", "Ring shots", "Sparkler exit at 10"]
    assert posts[1] == posts[2], "the lost request was re-sent under its own Idempotency-Key"
    assert len(set(posts)) == 3


@pytest.mark.e2e
@pytest.mark.parametrize("context", ["iPhone 14"], indirect=True)
def test_without_background_sync_the_online_event_replays(context: BrowserContext, services: Services) -> None:
    # As on Safari and Firefox: no SyncManager, so the worker registers no sync; the page's `online` replays.
    context.add_init_script("delete window.SyncManager")
    # Record what the page asks of the worker (the replay must be asked for on `online`).
    context.add_init_script(
        "const post = ServiceWorker.prototype.postMessage; window.__asked = [];"
        "ServiceWorker.prototype.postMessage = function (m) {"
        "  window.__asked.push(m && m.type); return post.apply(this, arguments); };"
    )
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Iris"}])
    _open_client(page, cid)
    context.set_offline(True)
    _add_note(page, "Vows by the old oak")
    _waiting_notes(page, 1)
    tags = page.evaluate("() => navigator.serviceWorker.ready.then((r) => (r.sync ? r.sync.getTags() : []))")
    assert tags == []
    assert page.evaluate("() => 'SyncManager' in window") is False
    asked_before = page.evaluate("() => window.__asked.length")
    context.set_offline(False)
    page.wait_for_function("(n) => window.__asked.slice(n).includes('outbox:replay')", arg=asked_before)
    wait_for(lambda: _notes(services, cid) == ["Vows by the old oak"], 15, "the note to arrive")
    expect(page.locator(".notes .outbox-pending small")).to_have_text("Sent")
    expect(_badge(page)).to_be_hidden()


@pytest.mark.e2e
def test_conflict_needs_you_and_the_choice_is_applied(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    mine, theirs = seed_clients(
        services.database_url,
        supplier_id,
        [{"partner1_first": "Kit", "status": "lead"}, {"partner1_first": "Lou", "status": "lead"}],
    )
    page.goto("/outbox")
    _open_client(page, mine)
    second = context.new_page()
    _open_client(second, theirs)
    context.set_offline(True)
    page.get_by_role("button", name="completed").click()
    second.get_by_role("button", name="archived").click()
    expect(_badge(page)).to_have_text("2")
    second.close()
    # Meanwhile, on the studio's laptop, both couples were marked booked.
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE clients SET status = 'booked', version = version + 1 WHERE id = ANY(%s)", [[mine, theirs]])
    context.set_offline(False)
    page.goto("/outbox")
    conflicts = page.locator(".outbox-item.needs_you")
    expect(conflicts).to_have_count(2)
    expect(conflicts.first).to_contain_text("Changed on another device")
    expect(conflicts.first.get_by_test_id("theirs")).to_have_text("booked")
    expect(conflicts.first.get_by_test_id("yours")).to_have_text("completed")
    expect(_badge(page)).to_have_text("2")
    assert _status(services, mine) == ("booked", 2)

    conflicts.first.get_by_role("button", name="Keep mine").click()
    wait_for(lambda: _status(services, mine) == ("completed", 3), 15, "my status to be applied")
    expect(page.locator(".outbox-item.needs_you")).to_have_count(1)
    page.locator(".outbox-item.needs_you").get_by_role("button", name="Use theirs").click()
    expect(page.locator(".outbox-item.needs_you")).to_have_count(0)
    expect(_badge(page)).to_be_hidden()
    assert _status(services, theirs) == ("booked", 2)


@pytest.mark.e2e
def test_validation_error_shows_the_servers_message_and_can_be_fixed(
    context: BrowserContext, services: Services
) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Ned"}])
    page.goto("/outbox")
    _open_client(page, cid)
    context.set_offline(True)
    _add_note(page, "   ")  # only spaces: the browser lets it through, the server does not
    _waiting_notes(page, 1)
    _add_note(page, "Second thought: bring the ring box")
    _waiting_notes(page, 2)
    context.set_offline(False)
    page.goto("/outbox")
    item = page.locator(".outbox-item.needs_you")
    expect(item.get_by_role("alert")).to_have_text("Note is required.")
    # The later note for the same couple waits behind the one that needs fixing: order is kept.
    expect(page.locator(".outbox-item.pending")).to_have_count(1)
    assert _notes(services, cid) == []
    item.get_by_text("Edit").click()
    item.get_by_label("Body").fill("Speeches before the meal")
    item.get_by_role("button", name="Send again").click()
    both = ["Speeches before the meal", "Second thought: bring the ring box"]
    wait_for(lambda: len(_notes(services, cid)) == 2, 15, "both notes")
    assert _notes(services, cid) == both
    expect(_badge(page)).to_be_hidden()


@pytest.mark.e2e
def test_server_errors_are_retried_with_backoff_never_dropped(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Uma"}])
    _open_client(page, cid)
    context.set_offline(True)
    _add_note(page, "Drone shots if calm")
    _waiting_notes(page, 1)
    answers: list[int] = []

    def flaky_server(route: Route) -> None:
        if len(answers) < 2:  # WedSync has a bad moment: two 503s, then it recovers
            answers.append(503)
            route.fulfill(status=503, body="Service Unavailable")
        else:
            answers.append(200)
            route.continue_()

    context.route("**/clients/*/notes", flaky_server)
    context.set_offline(False)
    expect(_badge(page)).to_be_hidden(timeout=30000)
    assert answers == [503, 503, 200]
    assert _notes(services, cid) == ["Drone shots if calm"]


@pytest.mark.e2e
def test_start_sync_offline_starts_one_job_when_back(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    with psycopg.connect(services.database_url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(supplier_id)])
        row = conn.execute(
            "INSERT INTO crm_integrations (supplier_id, provider, name, base_url) "
            "VALUES (%s, 'tave', 'Studio Tave', 'http://127.0.0.1:9') RETURNING id",
            [supplier_id],
        ).fetchone()
    assert row is not None
    page.goto("/outbox")
    page.goto("/integrations")
    context.set_offline(True)
    page.get_by_role("button", name="Sync changes").click()
    expect(page).to_have_url(re.compile(r"/outbox\?saved=\d+$"))
    expect(page.locator(".outbox-item")).to_contain_text("Sync changes")
    expect(_badge(page)).to_have_text("1")
    context.set_offline(False)
    expect(_badge(page)).to_be_hidden(timeout=15000)
    jobs = _rows(services, "SELECT kind FROM sync_jobs WHERE integration_id = %s", [row[0]])
    assert jobs == [("incremental_sync",)]


@pytest.mark.e2e
def test_session_expired_offline_sign_in_then_replay(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Opal"}])
    page.goto("/outbox")
    _open_client(page, cid)
    context.set_offline(True)
    _add_note(page, "Speeches start at 4")
    _waiting_notes(page, 1)
    context.clear_cookies()  # the session (and its CSRF cookie) is gone by the time the signal returns
    context.set_offline(False)
    page.goto("/outbox")
    expect(page.locator(".outbox-signin")).to_contain_text("Sign in to send 1 saved change")
    assert _notes(services, cid) == []
    page.locator(".outbox-signin").get_by_role("link", name="Sign in").click()
    page.get_by_label("Email").fill(EMAILS[supplier_id])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Venue Signal Studio")).to_be_visible()
    wait_for(lambda: _notes(services, cid) == ["Speeches start at 4"], 15, "the note after signing in")
    expect(_badge(page)).to_be_hidden()


QUEUE_NOTES_JS = """async ([cid, n]) => {
  const token = JSON.parse(document.body.getAttribute("hx-headers"))["x-csrftoken"];
  for (let i = 0; i < n; i++) {
    const text = "Shot " + String(i).padStart(2, "0");
    const body = new URLSearchParams({ body: text, idempotency_key: crypto.randomUUID() });
    await fetch(`/clients/${cid}/notes`, {
      method: "POST", body,
      headers: {
        "content-type": "application/x-www-form-urlencoded", "hx-request": "true", "x-csrftoken": token,
        "x-outbox-kind": "note", "x-outbox-group": "client:" + cid,  // what the page's notes form names
      },
    });
  }
}"""


@pytest.mark.e2e
def test_fifty_queued_actions_replay_in_order(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Pia"}])
    _open_client(page, cid)
    context.set_offline(True)
    page.evaluate(QUEUE_NOTES_JS, [cid, 50])
    expect(_badge(page)).to_have_text("50")
    started = time.monotonic()
    context.set_offline(False)
    wait_for(lambda: len(_notes(services, cid)) >= 50, 30, "50 notes")
    took = time.monotonic() - started
    print(f"outbox: 50 queued notes replayed in {took:.2f} s")  # a figure for the report, not a timed assertion
    assert _notes(services, cid) == [f"Shot {i:02d}" for i in range(50)]
    expect(_badge(page)).to_be_hidden()


@pytest.mark.e2e
def test_two_tabs_never_replay_the_same_item_twice(context: BrowserContext, services: Services) -> None:
    one = context.new_page()
    supplier_id = _sign_up(one, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Quin"}])
    _open_client(one, cid)
    two = context.new_page()
    _open_client(two, cid)
    context.set_offline(True)
    _add_note(one, "From the first tab")
    _add_note(two, "From the second tab")
    expect(_badge(one)).to_have_text("2")
    # Requests the server answered (one the browser failed while still going online never reached it, and is
    # rightly sent again under the same key).
    sent: list[str] = []
    context.on(
        "requestfinished", lambda r: sent.append(r.headers.get("idempotency-key", "")) if r.method == "POST" else None
    )
    context.set_offline(False)  # both tabs see `online` and both ask for a replay
    two.bring_to_front()
    one.bring_to_front()
    wait_for(lambda: len(_notes(services, cid)) == 2, 15, "both notes")
    expect(_badge(one)).to_be_hidden()
    expect(_badge(two)).to_be_hidden()
    assert sorted(_notes(services, cid)) == ["From the first tab", "From the second tab"]
    keys = [k for k in sent if k]
    assert len(keys) == 2, f"each item sent once, got {keys}"
    assert len(set(keys)) == 2


@pytest.mark.e2e
def test_changes_wait_for_the_account_that_made_them(context: BrowserContext, services: Services) -> None:
    """A phone shared at the studio: a lead saved by one photographer is never sent into a colleague's account."""
    page = context.new_page()
    first = _sign_up(page, services)
    page.goto("/outbox")
    page.goto("/clients/new")
    context.set_offline(True)
    page.get_by_label("First name").first.fill("Wren")
    page.get_by_role("button", name="Save lead").click()
    expect(page).to_have_url(re.compile(r"/outbox\?saved=\d+$"))
    expect(_badge(page)).to_have_text("1")
    context.clear_cookies()  # signed out before the signal came back
    context.set_offline(False)
    expect(page.locator(".outbox-signin")).to_be_visible()

    second = _sign_up(page, services)  # a colleague signs in on the same phone
    page.goto("/outbox")
    expect(page.locator(".outbox-item.pending")).to_contain_text("Saved by another account on this phone")
    manual = "SELECT supplier_id, partner1_first FROM clients WHERE supplier_id = ANY(%s) AND source = 'manual'"
    assert _rows(services, manual, [[first, second]]) == []

    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()  # signed out before signing in again
    page.get_by_label("Email").fill(EMAILS[first])
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("heading", name="Venue Signal Studio")).to_be_visible()
    wait_for(lambda: _rows(services, manual, [[first, second]]) == [(first, "Wren")], 15, "the lead in its account")
    expect(_badge(page)).to_be_hidden()


@pytest.mark.e2e
def test_two_offline_status_changes_apply_in_turn_without_a_false_conflict(
    context: BrowserContext, services: Services
) -> None:
    # Both taps carry the version the page showed; the second is moved onto the version the first produced.
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Vera", "status": "lead"}])
    _open_client(page, cid)
    context.set_offline(True)
    page.get_by_role("button", name="booked").click()
    expect(page.get_by_test_id("status")).to_have_text("booked")
    page.get_by_role("button", name="completed").click()
    expect(page.get_by_test_id("status")).to_have_text("completed")
    expect(_badge(page)).to_have_text("2")
    context.set_offline(False)
    expect(_badge(page)).to_be_hidden(timeout=15000)
    assert _status(services, cid) == ("completed", 3)


@pytest.mark.e2e
def test_a_server_error_while_online_keeps_the_note_and_sends_it_later(
    context: BrowserContext, services: Services
) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Wyn"}])
    _open_client(page, cid)
    answers: list[int] = []

    def first_answer_fails(route: Route) -> None:
        answers.append(503 if not answers else 200)
        if answers[-1] == 503:
            route.fulfill(status=503, body="Service Unavailable")
        else:
            route.continue_()

    context.route("**/clients/*/notes", first_answer_fails)
    _add_note(page, "Golden hour portraits at 7:40")
    # Kept on the phone (not lost to the error) and retried on its own after a short back-off.
    expect(page.locator(".notes .outbox-pending small")).to_have_text("Sent", timeout=15000)
    expect(_badge(page)).to_be_hidden()
    assert answers == [503, 200]
    assert _notes(services, cid) == ["Golden hour portraits at 7:40"]


OUTBOX_COUNT_JS = """() => new Promise((resolve) => {
  const sw = navigator.serviceWorker;
  const got = (e) => {
    if (e.data && e.data.type === "outbox:state") { sw.removeEventListener("message", got); resolve(e.data.count); }
  };
  sw.addEventListener("message", got);
  sw.controller.postMessage({ type: "outbox:state" });
})"""

SAVED_BODIES_JS = """() => new Promise((resolve, reject) => {
  const open = indexedDB.open("wedsync-outbox");
  open.onerror = () => reject(open.error);
  open.onsuccess = () => {
    const all = open.result.transaction("items").objectStore("items").getAll();
    all.onsuccess = () => { resolve(all.result.map((i) => i.body)); open.result.close(); };
  };
})"""

UNMARKED_NOTE_JS = """(text) => new Promise((resolve) => {
  const form = document.querySelector("#notes-card form");
  form.removeAttribute("data-outbox-kind");
  form.addEventListener("htmx:sendError", () => resolve("not queued"), { once: true });
  form.addEventListener("htmx:afterSwap", () => resolve("swapped"), { once: true });
  form.querySelector("textarea").value = text;
  form.requestSubmit();
})"""


@pytest.mark.e2e
def test_the_page_not_the_url_says_what_is_queued_and_where_it_shows(
    context: BrowserContext, services: Services
) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Yara"}])
    page.goto("/outbox")
    _open_client(page, cid)
    context.set_offline(True)
    # The same URL the notes form posts to, without a kind: the worker lets it fail like any request offline.
    failed = page.evaluate(
        """async (cid) => {
          const token = JSON.parse(document.body.getAttribute("hx-headers"))["x-csrftoken"];
          const body = new URLSearchParams({ body: "Sent by hand", idempotency_key: crypto.randomUUID() });
          try {
            const headers = { "hx-request": "true", "x-csrftoken": token };
            await fetch(`/clients/${cid}/notes`, { method: "POST", body, headers });
            return false;
          } catch (e) { return true; }
        }""",
        cid,
    )
    assert failed, "a POST naming no kind is not the outbox's, whatever its URL"
    # The notes form itself, once it no longer says data-outbox-kind: not queued either.
    assert page.evaluate(UNMARKED_NOTE_JS, "Not marked") == "not queued"
    assert page.evaluate(OUTBOX_COUNT_JS) == 0
    expect(page.locator(".outbox-pending")).to_have_count(0)

    # Marked again, and naming a different place for its pending copy: the worker puts it there.
    page.evaluate(
        """() => {
          const form = document.querySelector("#notes-card form");
          form.dataset.outboxKind = "note";
          form.dataset.outboxTarget = "#elsewhere";
          form.dataset.outboxSwap = "beforeend";
          document.querySelector("#main").insertAdjacentHTML("beforeend", '<ol id="elsewhere"><li>first</li></ol>');
        }"""
    )
    _add_note(page, "Kept on the phone")
    expect(page.locator("#elsewhere > li")).to_have_count(2)
    expect(page.locator("#elsewhere > li.outbox-pending")).to_contain_text(PENDING)
    expect(page.locator("#elsewhere > li").first).to_have_text("first")  # beforeend, as the form said
    expect(page.locator(".notes .outbox-pending")).to_have_count(0)
    expect(_badge(page)).to_have_text("1")
    # The same form posted plainly (as before htmx has loaded, so without its headers): known by its fields.
    page.evaluate(
        """() => {
          const form = document.querySelector("#notes-card form");
          form.querySelector("textarea").value = "Posted as a plain form";
          form.submit();
        }"""
    )
    expect(page).to_have_url(re.compile(r"/outbox\?saved=\d+$"))
    expect(_badge(page)).to_have_text("2")
    bodies = page.evaluate(SAVED_BODIES_JS)
    assert len(bodies) == 2
    assert not [b for b in bodies if "_outbox" in b], bodies  # the page's marks are not kept or sent on

    context.set_offline(False)
    expect(_badge(page)).to_be_hidden(timeout=15000)
    assert _notes(services, cid) == ["Kept on the phone", "Posted as a plain form"]


@pytest.mark.e2e
@pytest.mark.parametrize("context", DEVICES, indirect=True)
def test_outbox_opened_first_offline_is_the_styled_page_with_working_buttons(
    context: BrowserContext, services: Services
) -> None:
    """ "Save lead" with no signal lands on /outbox?saved=N on a phone that never opened the outbox online: the
    worker's precached screen, styled, with its header, htmx and buttons that work."""
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    page.goto("/clients/new")
    context.set_offline(True)
    for first, last in (("Nell", "Archer"), ("Ivy", "Lane")):
        page.goto("/clients/new")  # the saved copy of the form
        page.get_by_label("First name").first.fill(first)
        page.get_by_label("Last name").first.fill(last)
        page.get_by_role("button", name="Save lead").click()
        expect(page).to_have_url(re.compile(r"/outbox\?saved=\d+$"))
    expect(page.get_by_role("heading", name="Outbox")).to_be_visible()
    expect(page.locator("header.top .brand")).to_be_visible()
    assert page.evaluate("[...document.styleSheets].some((s) => s.cssRules.length > 10)")
    assert page.evaluate("() => typeof window.htmx") == "object"
    items = page.locator(".outbox-item")
    expect(items).to_have_count(2)
    expect(_badge(page)).to_have_text("2")

    ivy = items.filter(has_text="Ivy Lane")
    ivy.get_by_role("button", name="Discard").click()
    expect(items).to_have_count(1)
    nell = items.filter(has_text="Nell Archer")
    # "Send now" asks the worker (htmx, answered from the phone), which tries at once: still no signal, and says so.
    with page.expect_response(re.compile(r"/outbox/items/\d+/retry$")) as answer:
        nell.get_by_role("button", name="Send now").click()
    assert answer.value.status == 200
    assert answer.value.from_service_worker
    expect(nell).to_contain_text("No signal yet — will try again")
    expect(_badge(page)).to_have_text("1")

    context.set_offline(False)
    expect(_badge(page)).to_be_hidden(timeout=15000)
    names = _rows(services, "SELECT partner1_first FROM clients WHERE supplier_id = %s", [supplier_id])
    assert names == [("Nell",)]
