"""A photographer on a phone: sign up, see the dashboard, find a couple, add a note, change the status."""

from __future__ import annotations

import datetime as dt
import secrets

import psycopg
import pytest
from playwright.sync_api import Browser, Playwright, expect

from e2e.conftest import DEVICES, device_context_options
from tests.fixtures import Server, Services, seed_clients


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_sign_up_find_client_add_note_change_status(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        email = f"e2e-{secrets.token_hex(5)}@example.com"
        page.goto("/signup")
        page.get_by_label("Business name").fill("Golden Hour Studio")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("a long enough password")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Golden Hour Studio")).to_be_visible()
        expect(page.get_by_test_id("client-count")).to_have_text("0")

        with psycopg.connect(services.database_url) as conn:
            row = conn.execute("SELECT id FROM suppliers WHERE email = %s", [email]).fetchone()
        assert row is not None
        supplier_id = row[0]
        filler = [{"partner1_first": f"Guest{i:02d}", "partner1_last": "Filler"} for i in range(60)]
        [target, *_] = seed_clients(
            services.database_url,
            supplier_id,
            [
                {
                    "partner1_first": "Harriet",
                    "partner1_last": "Quill",
                    "partner2_first": "Jonah",
                    "partner2_last": "Marsh",
                    "venue": "Elmore Court",
                    "status": "lead",
                    "wedding_date": dt.date.today() + dt.timedelta(days=20),
                },
                *filler,
            ],
        )

        page.reload()
        expect(page.get_by_test_id("client-count")).to_have_text("61")
        expect(page.get_by_test_id("upcoming-count")).to_have_text("1")
        page.get_by_role("link", name="Clients", exact=True).first.click()
        expect(page.locator("#client-list li.client")).to_have_count(50)
        # Infinite scroll: the last rows arrive when the "Load more" sentinel scrolls into view.
        page.locator("li.more").scroll_into_view_if_needed()
        expect(page.locator("#client-list li.client")).to_have_count(61)

        page.get_by_role("searchbox", name="Search clients").fill("quill")
        expect(page.locator("#client-list li.client")).to_have_count(1)
        expect(page).to_have_url(f"{server.url}/clients/?q=quill")
        page.get_by_role("link", name="Harriet Quill & Jonah Marsh").click()
        expect(page.get_by_test_id("couple-name")).to_have_text("Harriet Quill & Jonah Marsh")

        page.get_by_label("Add a note").fill("Grandma photos before the speeches")
        page.get_by_role("button", name="Add note").click()
        expect(page.locator(".notes li").first).to_contain_text("Grandma photos before the speeches")

        page.get_by_role("button", name="booked").click()
        expect(page.get_by_test_id("status")).to_have_text("booked")

        with psycopg.connect(services.database_url) as conn:
            assert conn.execute("SELECT status, version FROM clients WHERE id = %s", [target]).fetchone() == (
                "booked",
                2,
            )
            notes = conn.execute("SELECT body FROM client_notes WHERE client_id = %s", [target]).fetchall()
        assert notes == [("Grandma photos before the speeches",)]
    finally:
        context.close()


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_focus_and_announcements_follow_each_change(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    """After each htmx change focus lands on the changed region's heading (never <body>), and a polite live
    region says what happened."""
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        email = f"e2e-{secrets.token_hex(5)}@example.com"
        page.goto("/signup")
        page.get_by_label("Business name").fill("Quiet Focus Studio")
        page.get_by_label("Email").fill(email)
        page.get_by_label("Password").fill("a long enough password")
        page.get_by_role("button", name="Create account").click()
        expect(page.get_by_role("heading", name="Quiet Focus Studio")).to_be_visible()
        with psycopg.connect(services.database_url) as conn:
            row = conn.execute("SELECT id FROM suppliers WHERE email = %s", [email]).fetchone()
        assert row is not None
        [cid] = seed_clients(services.database_url, row[0], [{"partner1_first": "Maud", "status": "lead"}])
        page.goto(f"/clients/{cid}")
        live = page.get_by_test_id("announce")
        expect(live).to_have_attribute("aria-live", "polite")
        expect(live).to_be_empty()

        page.get_by_label("Add a note").fill("Bring the ladder for the group shot")
        page.get_by_role("button", name="Add note").click()
        expect(page.locator(".notes li").first).to_contain_text("Bring the ladder")
        expect(page.get_by_role("heading", name="Notes")).to_be_focused()
        expect(live).to_have_text("Note saved")

        page.get_by_role("button", name="booked").click()
        expect(page.get_by_test_id("status")).to_have_text("booked")
        expect(page.get_by_role("heading", name="Status")).to_be_focused()
        expect(live).to_have_text("Status changed to booked")

        page.get_by_test_id("delete-note").first.click()
        expect(page.locator(".notes li").first).to_have_text("No notes yet.")
        expect(page.get_by_role("heading", name="Notes")).to_be_focused()
        expect(live).to_have_text("Note deleted")
        assert page.evaluate("() => document.activeElement !== document.body")
    finally:
        context.close()

