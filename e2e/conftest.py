"""Playwright with a real Chromium: Debian's system browser (Playwright cannot download its own here),
falling back to Playwright's bundled one where installed."""

from __future__ import annotations

import secrets
import shutil
from collections.abc import Iterator

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect, sync_playwright

from tests.fixtures import Services

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
DEVICES = ["Pixel 7", "iPhone 14"]


@pytest.fixture(scope="session")
def playwright() -> Iterator[Playwright]:
    with sync_playwright() as p:
        yield p


@pytest.fixture(scope="session")
def browser(playwright: Playwright) -> Iterator[Browser]:
    executable = shutil.which("chromium") or shutil.which("chromium-browser")
    launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
    yield launched
    launched.close()


def device_context_options(playwright: Playwright, name: str) -> dict[str, object]:
    """A device profile for Chromium: the viewport, scale, touch and user agent of the phone.

    The iPhone profile names WebKit as its browser; we drive it with Chromium, which honours the rest.
    """
    options = dict(playwright.devices[name])
    options.pop("default_browser_type", None)
    return options


PASSWORD = "a long enough password"  # every e2e studio's, so a test can sign back in


def sign_up(page: Page, name: str, *, controlled: bool = False) -> str:
    """Create a studio through the sign-up page as a photographer does, up to its dashboard; its email.

    ``controlled``: also until the service worker controls the page. On the worker's first install its claim can
    land while the sign-up redirect is still loading, leaving that page uncontrolled: it is then reloaded once."""
    email = f"e2e-{secrets.token_hex(5)}@example.com"
    page.goto("/signup")
    page.get_by_label("Business name").fill(name)
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Create account").click()
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    if controlled:
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
            page.reload()
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    return email


def supplier_id_of(services: Services, email: str) -> int:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute("SELECT id FROM suppliers WHERE email = %s", [email]).fetchone()
    assert row is not None
    return int(row[0])
