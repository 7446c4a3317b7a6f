"""A photographer on a phone: sign up, see the dashboard, find a couple, add a note, change the status."""

from __future__ import annotations

import datetime as dt

import psycopg
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from e2e.conftest import DEVICES, device_context_options, sign_up, supplier_id_of
from tests.fixtures import Server, Services, seed_clients


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_sign_up_find_client_add_note_change_status(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        email = sign_up(page, "Golden Hour Studio")
        # A new studio is asked to bring its clients in, not shown a dashboard of zeros.
        expect(page.get_by_role("heading", name="Bring in your clients")).to_be_visible()
        expect(page.get_by_test_id("client-count")).to_have_count(0)

        supplier_id = supplier_id_of(services, email)
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
        expect(page.get_by_role("heading", name="Bring in your clients")).to_have_count(0)
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
        supplier_id = supplier_id_of(services, sign_up(page, "Quiet Focus Studio"))
        [cid] = seed_clients(services.database_url, supplier_id, [{"partner1_first": "Maud", "status": "lead"}])
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

        # An edit sent back with an error opens on the field to fix.
        page.get_by_test_id("edit-client").click()
        page.locator('form.edit-client [name="partner1_phone"]').fill("12")
        page.get_by_role("button", name="Save changes").click()
        expect(page.get_by_test_id("partner1_phone-error")).to_be_visible()
        expect(page.locator('form.edit-client [name="partner1_phone"]')).to_be_focused()
    finally:
        context.close()


# Every visible tap target smaller than 44 x 44 CSS px (a check box or radio counts by its label).
SMALL_TARGETS_JS = """() => {
  const out = [];
  const targets = document.querySelectorAll("a[href], button, summary, label.check, select, textarea, " +
    "input:not([type=hidden]):not([type=radio]):not([type=checkbox])");
  for (const el of targets) {
    if (!el.getClientRects().length || el.closest(".visually-hidden, [hidden]")) continue;
    const style = getComputedStyle(el);
    if (style.visibility === "hidden" || style.display === "none") continue;
    const r = el.getBoundingClientRect();
    const what = `${el.tagName} "${el.textContent.trim().slice(0, 30)}"`;
    if (r.width < 43.5 || r.height < 43.5) out.push(`${what} ${Math.round(r.width)}x${Math.round(r.height)}`);
  }
  return out;
}"""
# Text whose contrast with what is behind it is under 4.5:1 (WCAG AA), disabled controls aside.
LOW_CONTRAST_JS = """() => {
  const rgb = (c) => (c.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = (v) => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const behind = (el) => {
    for (let e = el; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length === 3 || (c.length === 4 && c[3] > 0.5)) return c.slice(0, 3);
    }
    return rgb(getComputedStyle(document.documentElement).backgroundColor).slice(0, 3);
  };
  const out = [];
  for (const el of document.querySelectorAll("body *")) {
    if (!el.getClientRects().length || el.closest(".visually-hidden, [hidden], :disabled, .outbox-item.sent")) continue;
    const text = [...el.childNodes].filter((n) => n.nodeType === 3).map((n) => n.textContent).join("").trim();
    if (!text) continue;
    const a = lum(rgb(getComputedStyle(el).color).slice(0, 3)), b = lum(behind(el));
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    if (ratio < 4.5) out.push(`${el.tagName}.${el.className} "${text.slice(0, 25)}" ${ratio.toFixed(2)}`);
  }
  return out;
}"""


def _signed_up_phone(page: Page, services: Services, name: str) -> int:
    [cid] = seed_clients(
        services.database_url,
        supplier_id_of(services, sign_up(page, name)),
        [
            {
                "partner1_first": "Harriet",
                "partner1_last": "Quill",
                "partner2_first": "Jonah",
                "partner1_email": "harriet@example.com",
                "partner1_phone": "+447700900123",
                "venue": "Elmore Court",
                "status": "booked",
                "wedding_date": dt.date.today() + dt.timedelta(days=20),
            }
        ],
    )
    return cid


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_targets_text_size_zoom_dark_theme_and_tab_bar(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    options = device_context_options(playwright, device)
    context = browser.new_context(**options, base_url=server.url)
    page = context.new_page()
    try:
        cid = _signed_up_phone(page, services, "Thumb Reach Studio")
        pages = ["/", "/clients/", f"/clients/{cid}", f"/clients/{cid}/edit", "/imports/new", "/settings", "/outbox"]
        pages.append("/more")
        pages.append("/weddings")
        for path in pages:
            page.goto(path)
            assert page.evaluate(SMALL_TARGETS_JS) == [], path
            assert page.evaluate(LOW_CONTRAST_JS) == [], path

        # The main navigation is a tab bar at the bottom of a phone's screen.
        page.goto("/clients/")
        tabs = page.get_by_role("navigation", name="Main")
        for name in ("Clients", "Search", "New lead", "Imports", "More"):
            expect(tabs.get_by_role("link", name=name)).to_be_visible()
        box = tabs.bounding_box()
        assert box is not None
        assert abs(box["y"] + box["height"] - page.viewport_size["height"]) < 1, box  # type: ignore[index]
        expect(tabs.get_by_role("link", name="Clients")).to_have_attribute("aria-current", "page")

        # The phone's text size applies: the root follows the browser's default size, and everything in rem with it.
        cdp = context.new_cdp_session(page)
        cdp.send("Page.setFontSizes", {"fontSizes": {"standard": 24, "fixed": 20}})
        page.reload()
        assert page.evaluate("() => getComputedStyle(document.documentElement).fontSize") == "24px"
        assert page.evaluate("() => getComputedStyle(document.querySelector('h1')).fontSize") == "36px"
        assert page.evaluate(SMALL_TARGETS_JS) == []

        # Dark theme, from the phone's setting, with readable contrast everywhere.
        page.emulate_media(color_scheme="dark")
        for path in pages:
            page.goto(path)
            background = page.evaluate("() => getComputedStyle(document.documentElement).backgroundColor")
            assert background == "rgb(18, 16, 21)", (path, background)
            assert page.evaluate(LOW_CONTRAST_JS) == [], path
    finally:
        context.close()

    # 200% zoom: half as many CSS px across. Nothing runs off the side; the header wraps instead.
    viewport = dict(options["viewport"])  # type: ignore[call-overload]
    zoomed = {
        **options,
        "viewport": {"width": viewport["width"] // 2, "height": viewport["height"] // 2},
        "device_scale_factor": float(options["device_scale_factor"]) * 2,  # type: ignore[arg-type]
    }
    context = browser.new_context(**zoomed, base_url=server.url)
    page = context.new_page()
    try:
        _signed_up_phone(page, services, "Zoomed Studio")
        for path in ("/", "/clients/", "/settings"):
            page.goto(path)
            width = page.evaluate("() => innerWidth")
            assert page.evaluate("() => document.documentElement.scrollWidth") <= width, path
            for part in ("header.top .brand", "header.top .sign-out button", "nav.tabs"):
                box = page.locator(part).bounding_box()
                assert box is not None, part
                assert box["x"] >= 0, (path, part, box)
                assert box["x"] + box["width"] <= width + 0.5, (path, part, box)
            assert page.evaluate(SMALL_TARGETS_JS) == [], path
        # Signing out is also on the More page, within the screen at 200% too.
        page.goto("/more")
        box = page.locator("main").get_by_role("button", name="Sign out").bounding_box()
        assert box is not None
        assert 0 <= box["x"] <= box["x"] + box["width"] <= page.evaluate("() => innerWidth") + 0.5, box
    finally:
        context.close()
