"""Playwright with a real Chromium: Debian's system browser (Playwright cannot download its own here),
falling back to Playwright's bundled one where installed."""

from __future__ import annotations

import shutil
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Playwright, sync_playwright

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
