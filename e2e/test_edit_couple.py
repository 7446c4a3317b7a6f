"""Editing a couple on a phone (Pixel 7 in a real Chromium): online the edit is saved and shown at once; offline it is
kept in the outbox, shown as pending, and applied exactly once when the signal comes back. Checked in PostgreSQL."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from e2e.conftest import PASSWORD, device_context_options
from e2e.test_outbox import EMAILS, _sign_up
from tests.fixtures import Server, Services, seed_clients


@pytest.fixture
def context(playwright: Playwright, browser: Browser, server: Server) -> Iterator[BrowserContext]:
    ctx = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    yield ctx
    ctx.close()


def _client(services: Services, client_id: int) -> tuple[object, ...]:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT partner1_last, partner2_first, partner1_phone, wedding_date, venue, status, version "
            "FROM clients WHERE id = %s",
            [client_id],
        ).fetchone()
    assert row is not None
    return tuple(row)


def _field(page: Page, name: str):  # type: ignore[no-untyped-def]
    return page.locator(f'form.edit-client [name="{name}"]')


@pytest.mark.e2e
def test_edit_a_couple_online_then_offline_replayed_once(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(
        services.database_url,
        supplier_id,
        [{"partner1_first": "Maud", "partner1_last": "Lyle", "venue": "Barn", "status": "lead"}],
    )
    page.goto("/outbox")  # opened once online: the outbox screen is then kept for offline use

    # Online: from the client's page to the form and back, the edit shown at once.
    page.goto(f"/clients/{cid}")
    page.get_by_test_id("edit-client").click()
    expect(page).to_have_url(re.compile(rf"/clients/{cid}/edit$"))
    _field(page, "partner1_last").fill("lyle-hart")
    _field(page, "partner2_first").fill("Sam")
    _field(page, "partner1_phone").fill("+44 7911 123456")  # the studio's country follows the phone's locale
    _field(page, "status").select_option("booked")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(rf"/clients/{cid}$"))
    expect(page.get_by_test_id("couple-name")).to_have_text("Maud Lyle-Hart & Sam")
    assert _client(services, cid) == ("Lyle-Hart", "Sam", "+447911123456", None, "Barn", "booked", 2)

    # A value the import's cleaning cannot use is an error next to its field, and nothing is saved.
    page.goto(f"/clients/{cid}/edit")
    _field(page, "partner1_phone").fill("12")
    page.get_by_role("button", name="Save changes").click()
    expect(page.get_by_test_id("partner1_phone-error")).to_contain_text("doesn't look like a phone number")
    assert _client(services, cid)[-1] == 2

    # Offline at the venue: the form opens from the copy the phone saved when it was last opened (version 2), and
    # saving keeps the edit on the phone.
    context.set_offline(True)
    page.goto(f"/clients/{cid}/edit")
    expect(page.locator("body")).to_contain_text("you're offline")
    _field(page, "venue").fill("Kew Gardens")
    _field(page, "wedding_date").fill("2027-09-04")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(r"/outbox\?saved=\d+$"))
    item = page.locator(".outbox-item")
    expect(item).to_have_count(1)
    expect(item).to_contain_text("Edit: Maud Lyle-Hart & Sam, 2027-09-04, Kew Gardens")
    expect(page.locator(".outbox-item.pending")).to_have_count(1)
    assert _client(services, cid)[-3:] == ("Barn", "booked", 2)

    context.set_offline(False)
    expect(page.locator(".outbox-item.sent")).to_have_count(1, timeout=15000)
    assert _client(services, cid) == (
        "Lyle-Hart", "Sam", "+447911123456", dt.date(2027, 9, 4), "Kew Gardens", "booked", 3,
    )  # fmt: skip
    # Replays of the same item (another open, another `online`) change nothing: one key, one edit.
    page.evaluate("() => navigator.serviceWorker.controller.postMessage({type: 'outbox:replay'})")
    page.reload()
    expect(page.locator(".outbox-item.sent")).to_have_count(1)
    assert _client(services, cid)[-1] == 3
    page.goto(f"/clients/{cid}")
    expect(page.locator("body")).to_contain_text("Kew Gardens")


@pytest.mark.e2e
def test_an_offline_edit_that_crossed_one_from_a_second_phone_shows_both_and_keep_mine_applies_it(
    playwright: Playwright, browser: Browser, server: Server, context: BrowserContext, services: Services
) -> None:
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Maud", "venue": "Barn"}])
    page.goto("/outbox")
    page.goto(f"/clients/{cid}/edit")
    context.set_offline(True)
    _field(page, "venue").fill("Kew Gardens")
    page.get_by_role("button", name="Save changes").click()
    expect(page).to_have_url(re.compile(r"/outbox\?saved=\d+$"))

    # Meanwhile a second phone, signed in to the same studio, moves the wedding to the castle.
    other = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    try:
        phone = other.new_page()
        phone.goto("/login")
        phone.get_by_label("Email").fill(EMAILS[supplier_id])
        phone.get_by_label("Password").fill(PASSWORD)
        phone.get_by_role("button", name="Sign in").click()
        phone.goto(f"/clients/{cid}/edit")
        _field(phone, "venue").fill("Castle")
        phone.get_by_role("button", name="Save changes").click()
        expect(phone).to_have_url(re.compile(rf"/clients/{cid}$"))
    finally:
        other.close()
    assert _client(services, cid)[-3:] == ("Castle", "lead", 2)

    context.set_offline(False)
    conflict = page.locator(".outbox-item.needs_you")
    expect(conflict).to_have_count(1, timeout=15000)
    expect(conflict).to_contain_text("Changed on another device")
    expect(conflict.get_by_test_id("theirs")).to_have_text("Maud, Castle")
    expect(conflict.get_by_test_id("yours")).to_have_text("Maud, Kew Gardens")
    assert _client(services, cid)[-3:] == ("Castle", "lead", 2)
    conflict.get_by_role("button", name="Keep mine").click()
    expect(page.locator(".outbox-item.sent")).to_have_count(1, timeout=15000)
    assert _client(services, cid)[-3:] == ("Kew Gardens", "lead", 3)
