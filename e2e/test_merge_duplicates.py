"""Merging two duplicates from an import's page on a phone (Pixel 7 in a real Chromium): the spreadsheet's couple and
the same couple from the phone's contacts, side by side, one value chosen per differing field, one client left.
Checked in PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from playwright.sync_api import Browser, BrowserContext, Playwright, expect

from core.import_service import create_file_job, open_pool
from e2e.conftest import device_context_options
from e2e.test_outbox import _sign_up
from jobs.inline import run_inline
from tests.fixtures import Server, Services


@pytest.fixture
def context(playwright: Playwright, browser: Browser, server: Server) -> Iterator[BrowserContext]:
    ctx = browser.new_context(**device_context_options(playwright, "Pixel 7"), base_url=server.url)
    yield ctx
    ctx.close()


def _import(services: Services, supplier_id: int, path: Path) -> int:
    with open_pool(services.database_url, max_size=2) as pool:
        job = create_file_job(pool, supplier_id, "GB", path)
        assert run_inline(pool, supplier_id, job) == "succeeded"
    return job


@pytest.mark.e2e
def test_merge_two_duplicates_from_a_job_page(
    context: BrowserContext, services: Services, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IMPORT_PROCESSES", "0")
    page = context.new_page()
    supplier_id = _sign_up(page, services)
    sheet = tmp_path / "clients.csv"
    sheet.write_text("Client ID,First Name,Last Name,Email,Venue\r\nc1,Maud,Lyle,maud@example.com,Barn\r\n")
    cards = tmp_path / "contacts.vcf"
    cards.write_text(
        "BEGIN:VCARD\r\nVERSION:3.0\r\nUID:v1\r\nFN:Maud Lyle\r\nN:Lyle;Maud;;;\r\nEMAIL:maud@example.com\r\n"
        "TEL:+447911123456\r\nEND:VCARD\r\n",
        newline="",
    )
    _import(services, supplier_id, sheet)
    job = _import(services, supplier_id, cards)

    page.goto(f"/jobs/{job}")
    expect(page.get_by_role("heading", name="May already be here")).to_be_visible()
    page.get_by_test_id("merge-duplicate").click()
    expect(page).to_have_url(re.compile(r"/clients/\d+/merge/\d+$"))
    differences = page.get_by_test_id("merge-differences")
    expect(differences.locator("tr[data-field]")).to_have_count(2)  # the phone and the venue; names shown once
    expect(page.get_by_test_id("merge-same")).to_contain_text("maud@example.com")
    # The venue from the spreadsheet (the default), the phone from the contacts (chosen by a tap).
    differences.locator('tr[data-field="partner1_phone"] input[value="other"]').check()
    page.get_by_test_id("merge-confirm").click()
    expect(page).to_have_url(re.compile(r"/clients/\d+$"))
    expect(page.get_by_test_id("couple-name")).to_have_text("Maud Lyle")

    with psycopg.connect(services.database_url) as conn:
        rows = conn.execute(
            "SELECT source, external_id, partner1_phone, venue FROM clients WHERE supplier_id = %s", [supplier_id]
        ).fetchall()
        aliases = conn.execute(
            "SELECT source, external_id FROM client_source_aliases WHERE supplier_id = %s", [supplier_id]
        ).fetchall()
    assert rows == [("csv", "c1", "+447911123456", "Barn")]
    assert aliases == [("vcard", "v1")]
    # The import's page no longer offers the pair: there is one client now.
    page.goto(f"/jobs/{job}")
    expect(page.get_by_test_id("merge-duplicate")).to_have_count(0)
