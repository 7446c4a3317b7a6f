"""Notifications on phones: Settings' "Notifications on this phone" and the service worker's push handler.

Headless Chromium here has no push service (Google's is out of reach), so ``pushManager.subscribe`` fails: the page
must say so in plain words, never hang. The worker's side is driven through the DevTools protocol instead
(``ServiceWorker.deliverPushMessage``), with the payload the workers send (tests/test_push.py checks that part
against a stand-in push service, encryption and all).
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, Playwright, expect

from e2e.conftest import DEVICES, device_context_options, sign_up
from tests.fixtures import Server, Services, wait_for


@pytest.fixture(params=DEVICES)
def context(
    playwright: Playwright, browser: Browser, server: Server, request: pytest.FixtureRequest
) -> Iterator[BrowserContext]:
    ctx = browser.new_context(**device_context_options(playwright, request.param), base_url=server.url)
    yield ctx
    ctx.close()


def _sign_up(page: Page) -> None:
    sign_up(page, "Night Owl Photography", controlled=True)


@pytest.mark.e2e
def test_turning_notifications_on_says_plainly_when_the_browser_cannot(context: BrowserContext) -> None:
    context.grant_permissions(["notifications"])
    page = context.new_page()
    _sign_up(page)
    page.goto("/settings")
    section = page.locator("#notifications")
    expect(section.get_by_role("heading", name="Notifications on this phone")).to_be_visible()
    state = page.get_by_test_id("push-state")
    expect(state).to_have_text("Off on this phone.")
    button = section.get_by_role("button", name="Tell me when an import ends")
    box = button.bounding_box()
    assert box is not None
    assert box["width"] >= 44
    assert box["height"] >= 44
    button.click()
    # Either this Chromium reached a push service (then the phone is on and WedSync has it), or it says why not.
    wait_for(
        lambda: state.inner_text().startswith(("This browser couldn't set up notifications: ", "On: ")),
        30,
        "the page to say how setting up notifications went",
    )
    text = state.inner_text()
    if text.startswith("On: "):
        pytest.fail("this Chromium subscribed (it has a push service): test the whole path instead")
    assert len(text) > len("This browser couldn't set up notifications: .")
    expect(button).to_be_visible()  # the photographer can try again
    expect(button).to_be_enabled()


@pytest.mark.e2e
def test_an_iphone_outside_the_home_screen_is_told_to_add_the_app(
    playwright: Playwright, browser: Browser, server: Server
) -> None:
    ctx = browser.new_context(**device_context_options(playwright, "iPhone 14"), base_url=server.url)
    # Safari in a tab has no PushManager (Web Push is for Home Screen apps, iOS 16.4+).
    ctx.add_init_script("delete window.PushManager")
    try:
        page = ctx.new_page()
        _sign_up(page)
        page.goto("/settings")
        expect(page.get_by_test_id("push-state")).to_have_text(
            "Add WedSync to your Home Screen to get notifications: tap Share, then “Add to Home Screen”, "
            "and open WedSync from there."
        )
        expect(page.get_by_role("button", name="Tell me when an import ends")).to_be_hidden()
    finally:
        ctx.close()


def _registration_id(page: Page, cdp: Any, origin: str) -> str:
    found: dict[str, str] = {}

    def seen(event: dict[str, Any]) -> None:
        for reg in event.get("registrations", []):
            if reg["scopeURL"].startswith(origin) and not reg.get("isDeleted"):
                found["id"] = reg["registrationId"]

    cdp.on("ServiceWorker.workerRegistrationUpdated", seen)
    cdp.send("ServiceWorker.enable")
    # Playwright hands over the session's events while it talks to the browser: each look asks the page something.
    return str(wait_for(lambda: page.evaluate("1") and found.get("id"), 10, "the service worker's registration id"))


@pytest.mark.e2e
def test_a_push_shows_a_notification_and_a_banner_in_the_open_page(context: BrowserContext, server: Server) -> None:
    context.grant_permissions(["notifications"])
    page = context.new_page()
    _sign_up(page)
    page.goto("/clients/")
    cdp = context.new_cdp_session(page)
    registration = _registration_id(page, cdp, server.url)
    notice = {
        "title": "Import finished",
        "body": "184 new, 2 updated (Tave).",
        "url": "/jobs/4242",
        "tag": "job-4242",
        "urgency": "normal",
    }
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": server.url, "registrationId": registration, "data": json.dumps(notice)},
    )
    banner = page.locator(".push-banner")
    expect(banner).to_contain_text("Import finished: 184 new, 2 updated (Tave).")
    view = banner.get_by_role("link", name="View")
    expect(view).to_have_attribute("href", server.url + "/jobs/4242")
    shown = page.evaluate(
        """() => navigator.serviceWorker.ready
            .then((r) => r.getNotifications())
            .then((list) => list.map((n) => ({title: n.title, body: n.body, tag: n.tag, url: n.data.url})))"""
    )
    assert shown == [
        {
            "title": "Import finished",
            "body": "184 new, 2 updated (Tave).",
            "tag": "job-4242",
            "url": server.url + "/jobs/4242",
        }
    ]
    # A second message about the same job replaces the first notification instead of piling up.
    cdp.send(
        "ServiceWorker.deliverPushMessage",
        {"origin": server.url, "registrationId": registration, "data": json.dumps({**notice, "body": "Undone."})},
    )
    expect(banner).to_contain_text("Import finished: Undone.")
    assert page.locator(".push-banner").count() == 1
    assert (
        page.evaluate("() => navigator.serviceWorker.ready.then((r) => r.getNotifications()).then((l) => l.length)")
        == 1
    )


# The browser's push service stood in for (Chromium here has none): a subscription as a browser's toJSON() gives it,
# kept in localStorage so the next page load finds it, like the real one. Everything else (permission, the page's
# requests with their CSRF token, the server's checks and storage) is real.
FAKE_PUSH_SERVICE = """
(() => {
  const KEY = "fake-push-subscription";
  const make = (json) => ({
    endpoint: json.endpoint,
    toJSON: () => json,
    unsubscribe: async () => { localStorage.removeItem(KEY); return true; },
  });
  PushManager.prototype.getSubscription = async function () {
    const saved = localStorage.getItem(KEY);
    return saved ? make(JSON.parse(saved)) : null;
  };
  PushManager.prototype.subscribe = async function (options) {
    const key = options.applicationServerKey;
    if (!options.userVisibleOnly || key.length !== 65) throw new DOMException("bad", "NotAllowedError");
    localStorage.setItem(KEY, JSON.stringify(%s));
    return this.getSubscription();
  };
})();
"""


@pytest.mark.e2e
def test_a_phone_turns_notifications_on_and_off_and_the_server_knows(
    context: BrowserContext, services: Services
) -> None:
    from tests.test_push import Browser as PushBrowser
    from tests.test_push import stored

    phone = PushBrowser(f"http://127.0.0.1:9/push/{secrets.token_urlsafe(16)}")
    context.add_init_script(FAKE_PUSH_SERVICE % json.dumps(phone.to_json()))
    context.grant_permissions(["notifications"])
    page = context.new_page()
    _sign_up(page)
    page.goto("/settings")
    state = page.get_by_test_id("push-state")
    expect(state).to_have_text("Off on this phone.")
    page.get_by_role("button", name="Tell me when an import ends").click()
    expect(state).to_have_text("On: this phone is told when an import ends.")
    row = stored(services, phone.endpoint)
    assert row is not None
    assert row[1:3] == (phone.to_json()["keys"]["p256dh"], phone.to_json()["keys"]["auth"])
    off = page.get_by_role("button", name="Turn off")
    expect(page.get_by_role("button", name="Tell me when an import ends")).to_be_hidden()

    page.reload()  # the state shown is this phone's, read from the browser
    expect(state).to_have_text("On: this phone is told when an import ends.")
    off.click()
    expect(state).to_have_text("Off on this phone.")
    wait_for(lambda: stored(services, phone.endpoint) is None, 10, "the server to forget the phone")
    expect(page.get_by_role("button", name="Tell me when an import ends")).to_be_visible()


# In the service worker, the browser's push service stood in for as above: unsubscribing leaves a mark in Cache
# Storage (which the page can read and signing out doesn't clear), since the worker has no localStorage.
SW_FAKE_SUBSCRIPTION = """
() => {
  PushManager.prototype.getSubscription = async function () {
    return { endpoint: "http://127.0.0.1:9/push/x", unsubscribe: async () => {
      await (await caches.open("push-test-marker")).put("/unsubscribed", new Response("yes"));
      return true;
    } };
  };
  return true;
}
"""


@pytest.mark.e2e
def test_signing_out_turns_this_phones_notifications_off(context: BrowserContext) -> None:
    """The next person to use the phone must not be told about this studio's imports."""
    page = context.new_page()
    _sign_up(page)
    worker = wait_for(lambda: next(iter(context.service_workers), None), 10, "the service worker")
    assert worker.evaluate(SW_FAKE_SUBSCRIPTION) is True
    page.get_by_role("button", name="Sign out").first.click()
    page.wait_for_url("**/login**")
    marked = "() => caches.open('push-test-marker').then((c) => c.match('/unsubscribed')).then((r) => !!r)"
    assert page.evaluate(marked) is True
