"""Studio settings (/settings) and what they change: times in the studio's time zone and date style on every page
and fragment, "today" and "upcoming" on the studio's calendar, phones formatted for its country, and sign-up's
suggestions from the browser. Each studio sees and changes only its own settings."""

from __future__ import annotations

import datetime as dt
import re
import secrets
import zoneinfo
from html import unescape

import psycopg

from tests.fixtures import Account, Server, Services, browser_client, csrf_from, seed_clients, signup


def _settings(account: Account, **changes: str) -> dict[str, str]:
    current = {
        "business_name": "Test Studio",
        "region": "GB",
        "timezone": "Europe/London",
        "date_style": "dd mon yyyy",
    }
    current.update(changes)
    return current


def _save(account: Account, **changes: str) -> None:
    resp = account.post("/settings", _settings(account, **changes), csrf_page="/settings")
    assert resp.status_code == 303, resp.text
    assert resp.headers["location"] == "/settings?saved=1"


def _row(services: Services, supplier_id: int) -> tuple[str, str, str, str]:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT business_name, default_region, timezone, date_style FROM suppliers WHERE id = %s", [supplier_id]
        ).fetchone()
    assert row is not None
    return row


def _note_at(services: Services, supplier_id: int, client_id: int, body: str, at: dt.datetime) -> None:
    with psycopg.connect(services.database_url) as conn:
        conn.execute(
            "INSERT INTO client_notes (supplier_id, client_id, body, created_at) VALUES (%s, %s, %s, %s)",
            [supplier_id, client_id, body, at],
        )
    from core.cache_generations import bump_from_worker

    bump_from_worker(supplier_id)


def test_settings_page_is_linked_shows_and_saves_the_studios_own(
    account: Account, server: Server, services: Services
) -> None:
    other = signup(server.url, services.database_url, name="Other Studio")
    home = account.client.get("/")
    assert 'href="/settings"' in home.text
    page = account.client.get("/settings")
    assert page.status_code == 200
    assert 'value="Test Studio"' in page.text
    assert re.search(r'<option value="GB" selected>GB \(\+44\)</option>', page.text)
    assert "<option selected>Europe/London</option>" in page.text

    _save(account, business_name="Lens & Lace", region="US", timezone="America/Los_Angeles", date_style="mm/dd/yyyy")
    assert _row(services, account.supplier_id) == ("Lens & Lace", "US", "America/Los_Angeles", "mm/dd/yyyy")
    saved = account.client.get("/settings?saved=1")
    assert 'data-testid="settings-saved"' in saved.text
    assert "<option selected>America/Los_Angeles</option>" in saved.text
    assert "<h1>Lens &amp; Lace</h1>" in account.client.get("/").text

    # The other studio keeps its own settings and sees none of these.
    assert _row(services, other.supplier_id) == ("Other Studio", "GB", "Europe/London", "dd mon yyyy")
    theirs = other.client.get("/settings").text
    assert 'value="Other Studio"' in theirs
    assert "Lens" not in theirs
    assert "<option selected>Europe/London</option>" in theirs
    assert 'data-timezone="Europe/London"' in other.client.get("/").text


def test_settings_refuse_unknown_countries_time_zones_and_styles(account: Account, services: Services) -> None:
    for bad, field in (
        ({"region": "XX"}, "country"),
        ({"region": "GBR"}, "Region"),
        ({"timezone": "Mars/Olympus"}, "time zone"),
        ({"timezone": "../../etc/passwd"}, "time zone"),
        ({"date_style": "%s%s"}, "Date style"),
        ({"business_name": ""}, "Business name"),
    ):
        resp = account.post("/settings", _settings(account, **bad), csrf_page="/settings")
        assert resp.status_code == 422, bad
        assert field in unescape(resp.text), (bad, resp.text)
    assert _row(services, account.supplier_id) == ("Test Studio", "GB", "Europe/London", "dd mon yyyy")
    # Without the form's token, nothing is saved.
    resp = account.client.post("/settings", data=_settings(account, region="FR"))
    assert resp.status_code == 403
    assert _row(services, account.supplier_id)[1] == "GB"


def test_times_follow_the_studios_time_zone_and_date_style(account: Account, services: Services) -> None:
    wedding = dt.date(2031, 6, 14)
    [cid] = seed_clients(
        services.database_url,
        account.supplier_id,
        [{"partner1_first": "Rosa", "partner1_last": "Diaz", "wedding_date": wedding}],
    )
    # 03:11 in Los Angeles on 3 Dec is 11:11 UTC.
    at = dt.datetime(2026, 12, 3, 11, 11, tzinfo=dt.UTC)
    _note_at(services, account.supplier_id, cid, "Called about the venue", at)

    detail = account.client.get(f"/clients/{cid}").text
    assert "03 Dec 2026 11:11" in detail  # London in December is UTC
    assert "Saturday 14 Jun 2031" in detail
    assert "14 Jun 2031" in account.client.get("/clients/", headers={"HX-Request": "true"}).text

    _save(account, timezone="America/Los_Angeles", date_style="mm/dd/yyyy")
    detail = account.client.get(f"/clients/{cid}").text
    assert "12/03/2026 3:11 AM" in detail
    assert ">03 Dec 2026 11:11<" not in detail
    assert "Saturday 06/14/2031" in detail
    assert 'data-timezone="America/Los_Angeles" data-date-style="mm/dd/yyyy"' in detail
    # The cached list fragment and the full list page follow at once.
    fragment = account.client.get("/clients/", headers={"HX-Request": "true"}).text
    assert "06/14/2031" in fragment
    assert "14 Jun 2031" not in fragment
    assert "06/14/2031" in account.client.get("/clients/").text
    # The older-notes fragment is the same partial.
    _save(account, timezone="Asia/Tokyo", date_style="yyyy-mm-dd")
    assert "2026-12-03 20:11" in account.client.get(f"/clients/{cid}").text
    _save(account, timezone="Europe/Paris", date_style="dd/mm/yyyy")
    assert "03/12/2026 12:11" in account.client.get(f"/clients/{cid}").text


def _zone_on_another_day() -> tuple[str, dt.date]:
    """A time zone whose calendar day is not UTC's right now, and its day."""
    now = dt.datetime.now(dt.UTC)
    for name in ("Pacific/Kiritimati", "Pacific/Pago_Pago"):  # UTC+14, UTC-11: one of them is always on another day
        day = now.astimezone(zoneinfo.ZoneInfo(name)).date()
        if day != now.date():
            return name, day
    raise AssertionError("no zone on another day")


def test_today_and_upcoming_follow_the_studios_calendar_day(account: Account, services: Services) -> None:
    zone, studio_today = _zone_on_another_day()
    utc_today = dt.datetime.now(dt.UTC).date()
    seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {"partner1_first": "StudioToday", "wedding_date": studio_today},
            {"partner1_first": "ServerToday", "wedding_date": utc_today},
        ],
    )
    _save(account, timezone=zone)
    upcoming = account.client.get("/clients/", params={"upcoming": "true"}, headers={"HX-Request": "true"}).text
    names = re.findall(r'<span class="name">([^<]+)</span>', upcoming)
    if studio_today > utc_today:  # the studio is already tomorrow: the server's today is its yesterday
        assert names == ["StudioToday"]
    else:  # the studio is still yesterday: both are ahead of it or on its day
        assert names == ["StudioToday", "ServerToday"]
    dashboard = account.client.get("/").text
    assert re.search(rf'data-testid="upcoming-count">{len(names)}<', dashboard)


def test_phones_read_as_the_studios_country_with_call_text_and_whatsapp(
    account: Account, server: Server, services: Services
) -> None:
    [cid] = seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {
                "partner1_first": "Amy",
                "partner1_phone": "+447700900063",
                "partner2_first": "Ben",
                "partner2_phone": "+14155550100",
            }
        ],
    )
    html = account.client.get(f"/clients/{cid}").text
    assert '<a href="tel:+447700900063" data-testid="phone">07700 900063</a>' in html
    assert '<a href="sms:+447700900063" data-testid="phone-sms">' in html
    assert 'href="https://wa.me/447700900063"' in html
    assert '<a href="tel:+14155550100" data-testid="phone">+1 415-555-0100</a>' in html
    assert 'href="https://wa.me/14155550100"' in html
    _save(account, region="US")
    html = account.client.get(f"/clients/{cid}").text
    assert ">+44 7700 900063</a>" in html
    assert ">(415) 555-0100</a>" in html
    # Another studio cannot open the client at all.
    other = signup(server.url, services.database_url)
    assert other.client.get(f"/clients/{cid}").status_code == 404


def test_signup_takes_country_and_time_zone_from_the_browser(server: Server, services: Services) -> None:
    def sign_up(**hints: str) -> tuple[str, str, str, str]:
        client = browser_client(server.url)
        page = client.get("/signup").text
        assert 'name="region"' in page
        assert 'name="timezone"' in page
        assert "signup." in page
        email = f"hint-{secrets.token_hex(6)}@example.com"
        data = {"_csrf_token": csrf_from(page), "business_name": "Hinted", "email": email}
        resp = client.post("/signup", data={**data, "password": "correct horse battery", **hints})
        assert resp.status_code == 303, resp.text
        with psycopg.connect(services.database_url) as conn:
            row = conn.execute(
                "SELECT business_name, default_region, timezone, date_style FROM suppliers WHERE email = %s", [email]
            ).fetchone()
        assert row is not None
        return row

    assert sign_up(region="US", timezone="America/Chicago")[1:] == ("US", "America/Chicago", "mm/dd/yyyy")
    assert sign_up(region="fr", timezone="Europe/Paris")[1:] == ("FR", "Europe/Paris", "dd mon yyyy")
    assert sign_up(region="", timezone="")[1:] == ("GB", "Europe/London", "dd mon yyyy")
    assert sign_up(region="ZZ", timezone="Not/AZone")[1:] == ("GB", "Europe/London", "dd mon yyyy")
