"""The whole client book offline, on phones: signing in syncs it; with no signal a couple never opened is found by
search (accents ignored, by the start of a word, by phone) with a "saved at" note and an empty state, and opens with
its saved fields; changes on the server arrive in the next refresh, which asks with its cursor and gets only them;
signing out wipes it."""

from __future__ import annotations

import datetime as dt
import re
from typing import Any

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from e2e.conftest import DEVICES, PASSWORD, device_context_options, sign_up, supplier_id_of
from tests.fixtures import Server, Services, seed_clients, wait_for
from webapp.studio import Studio, show_when

BOOK_NOTE = re.compile(r"Searching the copy saved at \d{1,2}:\d{2}( [AP]M)? — you're offline")
# What the book holds, read from the page (same origin as the worker): (meta, number of buckets).
BOOK_JS = """async () => {
  const db = await new Promise((ok, ko) => { const r = indexedDB.open("wedsync-book", 1);
    r.onupgradeneeded = () => { r.result.createObjectStore("buckets"); r.result.createObjectStore("meta"); };
    r.onsuccess = () => ok(r.result); r.onerror = () => ko(r.error); });
  const get = (store, fn) => new Promise((ok) => {
    const q = fn(db.transaction(store).objectStore(store));
    q.onsuccess = () => ok(q.result);
  });
  const out = [await get("meta", (s) => s.get("state")) || null, await get("buckets", (s) => s.count())];
  db.close();
  return out;
}"""
# Ask the worker for a refresh now and get its report (what it asked the server with, and what came back).
REFRESH_JS = """async () => {
  const sw = navigator.serviceWorker;
  const reg = await sw.ready;
  return new Promise((resolve) => {
    const on = (e) => {
      if (e.data && e.data.type === "book:refreshed") { sw.removeEventListener("message", on); resolve(e.data.result); }
    };
    sw.addEventListener("message", on);
    reg.active.postMessage({ type: "book:refresh" });
  });
}"""


def _book(page: Page) -> tuple[dict[str, Any] | None, int]:
    meta, buckets = page.evaluate(BOOK_JS)
    return meta, buckets


def _search(page: Page, typed: str) -> None:
    page.get_by_role("searchbox", name="Search clients").fill(typed)
    expect(page.locator("#client-list")).to_have_attribute("data-book", "saved")
    expect(page.get_by_test_id("book-note")).to_have_text(BOOK_NOTE)


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_the_whole_book_offline(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        email = sign_up(page, "Book Studio")
        supplier_id = supplier_id_of(services, email)
        wedding = dt.date.today() + dt.timedelta(days=40)
        zoe, bea, cy, ada, ada_too, *_ = seed_clients(
            services.database_url,
            supplier_id,
            [
                {"partner1_first": "Zoë", "partner1_last": "Brontë", "partner2_first": "Sam", "partner2_last": "O'Neil",
                 "partner1_phone": "+447700900123", "partner1_email": "zoe@example.com", "venue": "Château Lumière",
                 "wedding_date": wedding, "status": "booked"},
                {"partner1_first": "Bea", "partner1_last": "Quill", "venue": "Kew"},
                {"partner1_first": "Cy", "partner1_last": "Twist"},
                {"partner1_first": "Ada", "partner1_last": "Lovelace"},
                {"partner1_first": "Ada", "partner1_last": "Lovelace", "partner1_email": "ada@example.com"},
            ] + [{"partner1_first": f"Guest{i:02d}", "partner1_last": "Filler"} for i in range(60)],
        )  # fmt: skip
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        wait_for(lambda: _book(page)[0] is not None, 15, "the first sync")

        # Signing out wipes the book; signing in fills it from the server, on the first page opened.
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        wait_for(lambda: _book(page) == (None, 0), 15, "the book wiped")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()
        expect(page.get_by_role("heading", name="Book Studio")).to_be_visible()
        wait_for(lambda: (_book(page)[0] or {}).get("count") == 65, 15, "the book synced on the first page")
        meta, buckets = _book(page)
        assert meta is not None
        assert meta["account"] == supplier_id
        assert buckets > 1

        page.goto("/clients/")
        context.set_offline(True)
        # A couple never opened on this phone, by the start of a word, accents ignored, beyond the first page.
        page.goto("/clients/?q=bronte")
        expect(page.get_by_test_id("book-note")).to_have_text(BOOK_NOTE)
        expect(page.locator("#client-list li.client")).to_have_count(1)
        expect(page.locator("#client-list li.client .name")).to_have_text("Zoë Brontë & Sam O'Neil")
        expect(page.locator("#client-list li.client .avatar")).to_have_text("ZS")
        # In the app's own layout (the server's, kept on the phone): the tab bar, without a sign-out it can't send.
        tabs = page.get_by_role("navigation", name="Main")
        for tab in ("Clients", "Search", "New lead", "Imports", "More"):
            expect(tabs.get_by_role("link", name=tab)).to_be_visible()
        expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
        for typed in ("chat", "LUMI", "sam o", "07700 900123", "zoe@example."):
            _search(page, typed)
            expect(page.locator("#client-list li.client")).to_have_count(1)
            expect(page.locator("#client-list li.client .name")).to_have_text("Zoë Brontë & Sam O'Neil")
        _search(page, "ronte")  # inside a word: not a match, as on the server
        expect(page.get_by_test_id("no-match")).to_have_text("No clients match “ronte”.")
        expect(page.locator("#client-list li.client")).to_have_count(0)
        _search(page, "filler")  # more than a page: the first 50 and how many more
        expect(page.locator("#client-list li.client")).to_have_count(50)
        expect(page.get_by_test_id("book-more")).to_contain_text("10 more")
        _search(page, "lumière")
        expect(page.locator("#client-list li.client")).to_have_count(1)
        page.locator("#client-list li.client a").click()

        # Its saved fields, saying what they are.
        expect(page).to_have_url(re.compile(rf"/clients/{zoe}$"))
        expect(page.get_by_test_id("couple-name")).to_have_text("Zoë Brontë & Sam O'Neil")
        expect(page.get_by_test_id("book-note")).to_contain_text("you're offline")
        expect(page.get_by_test_id("phone")).to_have_attribute("href", "tel:+447700900123")
        expect(page.get_by_role("link", name="zoe@example.com")).to_have_attribute("href", "mailto:zoe@example.com")
        expect(page.get_by_test_id("status")).to_have_text("booked")
        expect(page.locator(".facts")).to_contain_text("Château Lumière")
        # The wedding date as the server's pages write it, in the studio's date style (this browser's sign-up chose it).
        with psycopg.connect(services.database_url) as conn:
            style = conn.execute("SELECT date_style FROM suppliers WHERE id = %s", [supplier_id]).fetchone()
        assert style is not None
        expect(page.locator(".facts")).to_contain_text(show_when(wedding, Studio(date_style=style[0]), "long"))
        assert page.evaluate("[...document.styleSheets].some((s) => s.cssRules.length > 10)")

        # Changes on the server: an edit, a delete, a merge (the other client deleted outright).
        context.set_offline(False)
        with psycopg.connect(services.database_url) as conn:
            conn.execute("UPDATE clients SET venue = 'The Orangery' WHERE id = %s", [bea])
            conn.execute("UPDATE clients SET deleted_at = now() WHERE id = %s", [cy])
            conn.execute("UPDATE clients SET partner1_email = 'ada@example.com' WHERE id = %s", [ada])
            conn.execute("DELETE FROM clients WHERE id = %s", [ada_too])
        before, _ = _book(page)
        assert before is not None
        report = page.evaluate(REFRESH_JS)
        assert report["full"] is False
        assert report["asked"] == [before["cursor"]]  # one request, from where the last refresh ended
        assert sorted(report["rows"]) == sorted([bea, ada])  # only what changed
        assert sorted(report["deleted"]) == sorted([cy, ada_too])
        after, _ = _book(page)
        assert after is not None
        assert after["count"] == 63
        assert after["cursor"] != before["cursor"]

        context.set_offline(True)
        page.goto("/clients/?q=orangery")
        expect(page.locator("#client-list li.client .name")).to_have_text("Bea Quill")
        _search(page, "twist")
        expect(page.get_by_test_id("no-match")).to_be_visible()
        _search(page, "ada@")
        expect(page.locator("#client-list li.client")).to_have_count(1)

        # Signing out, even with no signal, wipes the book.
        page.get_by_role("link", name="Clients").first.click()
        context.set_offline(False)
        page.goto("/")
        page.get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
        wait_for(lambda: _book(page) == (None, 0), 15, "the book wiped")

        # Another studio on this phone gets its own book, and none of the first one's clients.
        sign_up(page, "Other Studio")

        def other_studios_book() -> bool:
            return (_book(page)[0] or {}).get("account") not in (None, supplier_id)

        wait_for(other_studios_book, 15, "the other studio's book")
        assert _book(page)[0]["count"] == 0  # type: ignore[index]
        context.set_offline(True)
        page.goto("/clients/?q=bronte")
        expect(page.get_by_test_id("no-match")).to_be_visible()
    finally:
        context.close()
