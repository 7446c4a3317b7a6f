"""Thumb-first screens on real phones (Pixel 7, iPhone 14 in Debian's Chromium): the five-tab bar, Search and More,
a new studio's first screen, a job's rows to fix grouped and paged, and a file shared from another app."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import struct
import subprocess
from zoneinfo import ZoneInfo

import httpx
import psycopg
import pytest
from playwright.sync_api import Browser, Page, Playwright, expect

from e2e.conftest import DEVICES, device_context_options, sign_up, supplier_id_of
from e2e.test_live_progress import _cookies, _start_csv_import
from tests.fixtures import Account, Server, Services, seed_clients, wait_for

TABS = ("Clients", "Search", "New lead", "Imports", "More")
MORE_LINKS = {
    "Studio settings": "/settings",
    "Outbox": "/outbox",
    "Weddings by month": "/weddings",
    "Recently deleted": "/clients/deleted",
    "CRM connections": "/integrations",
}


def _sign_up(page: Page, services: Services, name: str) -> int:
    return supplier_id_of(services, sign_up(page, name))


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_tab_bar_search_and_more_within_thumb_reach(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        name = f"Thumb Studio {secrets.token_hex(3)}"
        supplier_id = _sign_up(page, services, name)
        # A new studio's first screen: three ways to bring clients in.
        welcome = page.get_by_test_id("bring-in-clients")
        expect(welcome.get_by_role("heading", name="Bring in your clients")).to_be_visible()
        for link, href in (
            ("Upload a file", "/imports/new"),
            ("Connect a CRM", "/integrations"),
            ("Add one by hand", "/clients/new"),
        ):
            expect(welcome.get_by_role("link", name=link)).to_have_attribute("href", href)
        seed_clients(services.database_url, supplier_id, [{"partner1_first": "Harriet", "partner1_last": "Quill"}])

        tabs = page.get_by_role("navigation", name="Main")
        for width in (360, 412):
            page.set_viewport_size({"width": width, "height": 780})
            page.goto("/clients/")
            links = tabs.get_by_role("link")
            visible = [links.nth(i) for i in range(links.count()) if links.nth(i).is_visible()]
            assert [link.inner_text().strip() for link in visible] == list(TABS), width
            boxes = [link.bounding_box() for link in visible]
            assert all(b is not None for b in boxes)
            tops = {round(b["y"]) for b in boxes if b}
            assert len(tops) == 1, (width, boxes)  # one row
            for b in boxes:
                assert b is not None
                assert min(b["width"], b["height"]) >= 44, (width, b)
                assert 0 <= b["x"] <= b["x"] + b["width"] <= width + 0.5, (width, b)
            bar = tabs.bounding_box()
            assert bar is not None
            assert abs(bar["y"] + bar["height"] - 780) < 1, bar  # at the bottom: thumb reach
            assert tabs.locator("svg use").count() >= 5  # each tab has its icon
            expect(tabs.get_by_role("link", name="Clients")).to_have_attribute("aria-current", "page")

        # Search, from another screen: the client list opens with its search box focused.
        page.goto("/")
        tabs.get_by_role("link", name="Search").click()
        expect(page).to_have_url(re.compile(r"/clients/#search$"))
        box = page.get_by_role("searchbox", name="Search clients")
        expect(box).to_be_focused()
        # On the list already: the tap focuses the box in place (no page load).
        page.evaluate("() => { window.__same = true; document.activeElement.blur(); }")
        tabs.get_by_role("link", name="Search").click()
        expect(box).to_be_focused()
        assert page.evaluate("() => window.__same") is True
        box.fill("quill")
        expect(page.locator("#client-list li.client")).to_have_count(1)
        expect(page.locator("#client-list .avatar")).to_have_text("HQ")

        # More: everything else, one tap away, and the tab is marked current there.
        tabs.get_by_role("link", name="More").click()
        expect(page).to_have_url(f"{server.url}/more")
        expect(tabs.get_by_role("link", name="More")).to_have_attribute("aria-current", "page")
        menu = page.get_by_test_id("more-links")
        for label, href in MORE_LINKS.items():
            expect(menu.get_by_role("link", name=re.compile(f"^{label}"))).to_have_attribute("href", href)
        expect(page.locator("main").get_by_role("button", name="Sign out")).to_be_visible()
        menu.get_by_role("link", name=re.compile("^Recently deleted")).click()
        expect(page).to_have_url(f"{server.url}/clients/deleted")
        page.go_back()
        page.locator("main").get_by_role("button", name="Sign out").click()
        expect(page).to_have_url(re.compile(r"/login$"))
    finally:
        context.close()


# 14 unreadable phone numbers, 3 invalid emails, 2 rows with nobody in them, around good rows.
FIX_CSV = ["ID,First Name,Last Name,Email,Phone"]
FIX_CSV += [f"g{i},Good{i},Row{i},good{i}@example.com," for i in range(5)]
FIX_CSV += [f"p{i},Pat{i},Phone{i},pat{i}@example.com,call me after six" for i in range(14)]
FIX_CSV += [f"e{i},Eve{i},Mail{i},eve{i}-at-example,," for i in range(3)]
FIX_CSV += [f"x{i},,,," for i in range(2)]


@pytest.mark.e2e
def test_job_page_groups_rows_to_fix_and_pages_them(
    playwright: Playwright,
    browser: Browser,
    server: Server,
    services: Services,
    account: Account,
    worker: subprocess.Popen[bytes],
) -> None:
    with psycopg.connect(services.database_url) as conn:
        conn.execute("UPDATE suppliers SET timezone = 'Asia/Tokyo' WHERE id = %s", [account.supplier_id])
    job_id = _start_csv_import(account, ("\r\n".join(FIX_CSV) + "\r\n").encode())

    def finished() -> tuple[str, dt.datetime] | None:
        with psycopg.connect(services.database_url) as conn:
            row = conn.execute("SELECT status, created_at FROM sync_jobs WHERE id = %s", [job_id]).fetchone()
        return (row[0], row[1]) if row and row[0] in ("succeeded", "partially_succeeded", "failed") else None

    status, created_at = wait_for(finished, 60, "the import")
    assert status == "partially_succeeded"
    context = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    context.add_cookies([{"name": k, "value": v, "url": server.url} for k, v in _cookies(account).items()])
    page = context.new_page()
    try:
        # The job's card names its file and when it started, in the studio's time zone (Tokyo).
        page.goto("/jobs/")
        card = page.locator(f'a.job-card[href="/jobs/{job_id}"]')
        expect(card.get_by_test_id("job-title")).to_have_text("mixed.csv")
        expect(card.locator("time")).to_contain_text(created_at.astimezone(ZoneInfo("Asia/Tokyo")).strftime("%H:%M"))
        page.goto("/")
        expect(page.locator(f'a[href="/jobs/{job_id}"]').get_by_test_id("job-title")).to_have_text("mixed.csv")

        page.goto(f"/jobs/{job_id}")
        groups = page.locator("details.fix-group summary")
        expect(groups).to_have_text(
            ["2 rows couldn't be imported", "14 phone numbers couldn't be read", "3 emails weren't valid addresses"]
        )
        phones = page.get_by_test_id("fix-phone")
        expect(phones.get_by_test_id("fix-rows").locator("li").first).to_be_hidden()  # folded until asked for
        phones.locator("summary").click()
        rows = phones.get_by_test_id("fix-rows").locator("li")
        expect(rows).to_have_count(10)
        first_page = rows.all_inner_texts()
        assert all("phone" in text for text in first_page)
        phones.get_by_test_id("fix-next").click()
        rows = page.get_by_test_id("fix-phone").get_by_test_id("fix-rows").locator("li")
        expect(rows).to_have_count(4)
        assert not set(rows.all_inner_texts()) & set(first_page)
        expect(page.get_by_test_id("fix-phone")).to_have_attribute("open", "")
        page.get_by_test_id("fix-phone").get_by_role("link", name="First rows").click()
        expect(page.get_by_test_id("fix-phone").get_by_test_id("fix-rows").locator("li")).to_have_count(10)
        # Without script the same pages are plain links.
        resp = httpx.get(f"{server.url}/jobs/{job_id}?fix=email", cookies=_cookies(account))
        assert resp.text.count('data-severity="warning"') >= 3
    finally:
        context.close()


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


@pytest.mark.e2e
def test_manifest_shortcuts_screenshots_and_share_target(server: Server, services: Services, account: Account) -> None:
    manifest = httpx.get(f"{server.url}/manifest.webmanifest").json()
    assert {(s["name"], s["url"]) for s in manifest["shortcuts"]} == {
        ("New lead", "/clients/new"),
        ("Search clients", "/clients/#search"),
    }
    images = [i for s in manifest["shortcuts"] for i in s["icons"]] + manifest["icons"]
    for icon in images:
        resp = httpx.get(server.url + icon["src"])
        assert resp.status_code == 200, icon
        assert resp.headers["content-type"].startswith(icon["type"]), icon
        if icon["type"] == "image/png":
            assert _png_size(resp.content) == tuple(map(int, icon["sizes"].split("x"))), icon
    assert {i["purpose"] for i in manifest["icons"]} == {"any", "maskable"}
    assert len(manifest["screenshots"]) >= 2
    for shot in manifest["screenshots"]:
        assert shot["form_factor"] == "narrow"
        assert shot["label"]
        resp = httpx.get(server.url + shot["src"])
        assert resp.status_code == 200
        assert len(resp.content) < 100_000
        assert _png_size(resp.content) == tuple(map(int, shot["sizes"].split("x")))
    share = manifest["share_target"]
    assert (share["action"], share["method"], share["enctype"]) == ("/share", "POST", "multipart/form-data")
    [files] = share["params"]["files"]
    assert files["name"] == "file"
    assert {".vcf", "text/vcard", "text/x-vcard", ".csv", "text/csv", ".tsv"} <= set(files["accept"])

    # A share that reaches the server (no service worker yet) has no CSRF token: not a 403, not imported, but
    # the upload page asking for the file again.
    resp = account.client.post("/share", files={"file": ("x.vcf", b"BEGIN:VCARD\r\nFN:Ann\r\nEND:VCARD\r\n")})
    assert (resp.status_code, resp.headers["location"]) == (303, "/imports/shared")
    page = account.client.get("/imports/shared")
    assert page.status_code == 200
    assert "Choose it again" in page.text
    assert 'name="file"' in page.text
    with psycopg.connect(services.database_url) as conn:
        assert conn.execute(
            "SELECT count(*) FROM sync_jobs WHERE supplier_id = %s", [account.supplier_id]
        ).fetchone() == (0,)


VCARD = (
    "BEGIN:VCARD\r\nVERSION:3.0\r\nN:Quill;Harriet;;;\r\nFN:Harriet Quill\r\nEMAIL:harriet@example.com\r\n"
    "TEL;TYPE=CELL:+447700900123\r\nEND:VCARD\r\n"
)
# What the phone's share sheet does: a top-level multipart POST of the file to the manifest's share_target action.
SHARE_JS = """(vcard) => {
  const form = document.createElement("form");
  form.method = "post";
  form.action = "/share";
  form.enctype = "multipart/form-data";
  const input = document.createElement("input");
  input.type = "file";
  input.name = "file";
  const files = new DataTransfer();
  files.items.add(new File([vcard], "Harriet Quill.vcf", { type: "text/vcard" }));
  input.files = files.files;
  form.append(input);
  document.body.append(form);
  form.submit();
}"""


@pytest.mark.e2e
@pytest.mark.parametrize("device", DEVICES)
def test_shared_vcard_opens_its_import_preview(
    playwright: Playwright, browser: Browser, server: Server, services: Services, device: str
) -> None:
    context = browser.new_context(**device_context_options(playwright, device), base_url=server.url)
    page = context.new_page()
    try:
        supplier_id = _sign_up(page, services, f"Share Studio {secrets.token_hex(3)}")
        page.evaluate("() => navigator.serviceWorker.ready.then(() => true)")
        if not page.evaluate("() => navigator.serviceWorker.controller !== null"):
            page.reload()
        page.wait_for_function("() => navigator.serviceWorker.controller !== null")
        page.evaluate(SHARE_JS, VCARD)
        expect(page).to_have_url(re.compile(r"/imports/\d+/preview$"))
        expect(page.get_by_text("Harriet").first).to_be_visible()
        expect(page.locator("main")).to_contain_text("Quill")
        # The kept copy is gone once sent: sharing is never imported twice by a Back or a reload.
        assert page.evaluate("() => caches.open('wedsync-share').then((c) => c.keys()).then((k) => k.length)") == 0
        with psycopg.connect(services.database_url) as conn:
            row = conn.execute(
                "SELECT status, options->>'filename', options->>'format' FROM sync_jobs WHERE supplier_id = %s",
                [supplier_id],
            ).fetchone()
        assert row == ("draft", "Harriet Quill.vcf", "vcard")
    finally:
        context.close()
