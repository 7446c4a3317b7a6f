"""A photographer in Los Angeles on a Pixel 7: sign-up takes the phone's country and time zone, the settings page
changes how times read, and the offline outbox writes its times the way the pages do."""

from __future__ import annotations

import datetime as dt
import re
import zoneinfo
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, expect

from e2e.conftest import device_context_options, sign_up
from tests.fixtures import Server, Services, seed_clients

TOKYO = zoneinfo.ZoneInfo("Asia/Tokyo")


@pytest.fixture
def context(playwright: Playwright, browser: Browser, server: Server) -> Iterator[BrowserContext]:
    options = {**device_context_options(playwright, "Pixel 7"), "locale": "en-US", "timezone_id": "America/Los_Angeles"}
    ctx = browser.new_context(**options, base_url=server.url)
    yield ctx
    ctx.close()


def _studio(services: Services, email: str) -> tuple[int, str, str, str]:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT id, default_region, timezone, date_style FROM suppliers WHERE email = %s", [email]
        ).fetchone()
    assert row is not None
    return row


@pytest.mark.e2e
def test_sign_up_settings_and_outbox_times_are_the_studios(context: BrowserContext, services: Services) -> None:
    page = context.new_page()
    email = sign_up(page, "Golden Hour Studio")
    supplier_id, region, zone, style = _studio(services, email)
    assert (region, zone, style) == ("US", "America/Los_Angeles", "mm/dd/yyyy")  # from the phone, not the server

    [cid] = seed_clients(
        services.database_url,
        supplier_id,
        [{"partner1_first": "June", "partner1_last": "Park", "wedding_date": dt.date(2031, 6, 14)}],
    )
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "INSERT INTO client_notes (supplier_id, client_id, body, created_at) VALUES (%s, %s, 'Venue call', %s)",
            [supplier_id, cid, dt.datetime(2026, 12, 3, 11, 11, tzinfo=dt.UTC)],
        )
    page.goto(f"/clients/{cid}")
    expect(page.locator(".notes time").first).to_have_text("12/03/2026 3:11 AM")
    expect(page.get_by_text("Saturday 06/14/2031")).to_be_visible()

    # Settings, behind the tab bar's More on a phone: the same note now reads in Tokyo time, year first.
    page.get_by_role("navigation", name="Main").get_by_role("link", name="More").click()
    page.get_by_role("link", name="Studio settings").click()
    page.get_by_label("Time zone").select_option("Asia/Tokyo")
    page.get_by_label("2027-06-14").check()
    page.get_by_role("button", name="Save").click()
    expect(page.get_by_test_id("settings-saved")).to_be_visible()
    page.goto(f"/clients/{cid}")
    expect(page.locator(".notes time").first).to_have_text("2026-12-03 20:11")

    # Offline, a note waits in the outbox, its time written in the studio's zone and style, not the phone's.
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.goto("/outbox")
    page.goto(f"/clients/{cid}")
    context.set_offline(True)
    page.get_by_label("Add a note").fill("Sparklers at ten")
    page.get_by_role("button", name="Add note").click()
    expect(page.locator(".notes .outbox-pending").first).to_be_visible()
    page.goto("/outbox")
    saved_at = page.get_by_test_id("outbox-saved-at").first
    expect(saved_at).to_have_text(re.compile(r"^\d{4}-\d{2}-\d{2} \d{2}:\d{2}$"))
    tokyo_now = dt.datetime.now(zoneinfo.ZoneInfo("Asia/Tokyo"))
    shown = dt.datetime.strptime(saved_at.inner_text(), "%Y-%m-%d %H:%M").replace(
        tzinfo=zoneinfo.ZoneInfo("Asia/Tokyo")
    )
    assert abs((tokyo_now - shown).total_seconds()) < 180, (saved_at.inner_text(), tokyo_now)
    context.set_offline(False)
