"""The offline outbox on phones: what a photographer does without signal is kept on the phone, shown as pending,
and applied exactly once when the signal comes back — in order, through conflicts, validation errors, an expired
session, an interrupted replay and two open tabs. Every "exactly once" is checked in PostgreSQL."""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from e2e.conftest import DEVICES, device_context_options
from tests.fixtures import Server, Services, seed_clients

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
    email = f"outbox-{secrets.token_hex(5)}@example.com"
    page.goto("/signup")
    page.get_by_label("Business name").fill("Venue Signal Studio")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("a long enough password")
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name="Venue Signal Studio")).to_be_visible()
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT id FROM suppliers WHERE email = %s", [email]).fetchone()
    assert row is not None
    return int(row[0])


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
    return page.locator("[data-outbox-count]").first


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
