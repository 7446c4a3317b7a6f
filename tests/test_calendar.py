"""Weddings on a calendar: "Add to calendar" per wedding and the studio's private feed, against the real server.
Another studio's wedding is a 404; a feed shows only its own studio's weddings; a reset address stops working."""

from __future__ import annotations

import datetime as dt
import re

import httpx

from tests.fixtures import Account, Server, Services, seed_clients, signup


def _unfold(ics: str) -> str:
    return ics.replace("\r\n ", "")


def _feed_url(account: Account) -> str | None:
    found = re.search(r'value="(http[^"]+/weddings\.ics)"', account.client.get("/settings").text)
    return found.group(1) if found else None


def test_add_to_calendar_gives_one_all_day_wedding(account: Account, server: Server, services: Services) -> None:
    [cid, undated] = seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {
                "partner1_first": "Ada",
                "partner1_last": "Byron",
                "partner2_first": "Cleo",
                "partner2_last": "Ng",
                "wedding_date": dt.date(2031, 6, 14),
                "venue": "Château de Vaux, Maincy; the orangery",
            },
            {"partner1_first": "Nodate"},
        ],
    )
    page = account.client.get(f"/clients/{cid}").text
    assert f'href="/clients/{cid}/wedding.ics"' in page
    resp = account.client.get(f"/clients/{cid}/wedding.ics")
    assert resp.status_code == 200
    assert resp.headers["content-type"] == "text/calendar; charset=utf-8"
    assert f'filename="wedding-{cid}.ics"' in resp.headers["content-disposition"]
    ics = _unfold(resp.text)
    assert ics.startswith("BEGIN:VCALENDAR\r\nVERSION:2.0\r\n")
    assert ics.endswith("END:VEVENT\r\nEND:VCALENDAR\r\n")
    assert ics.count("BEGIN:VEVENT") == 1
    assert "DTSTART;VALUE=DATE:20310614\r\n" in ics
    assert "DTEND;VALUE=DATE:20310615\r\n" in ics
    assert "SUMMARY:Wedding: Ada Byron & Cleo Ng\r\n" in ics
    assert "LOCATION:Château de Vaux\\, Maincy\\; the orangery\r\n" in ics
    assert f"UID:wedding-{cid}@wedsync-hub\r\n" in ics
    assert all(len(line.encode()) <= 75 for line in resp.text.split("\r\n"))

    assert account.client.get(f"/clients/{undated}/wedding.ics").status_code == 404
    other = signup(server.url, services.database_url)
    assert other.client.get(f"/clients/{cid}/wedding.ics").status_code == 404
    anonymous = httpx.get(f"{server.url}/clients/{cid}/wedding.ics")
    assert anonymous.status_code in (302, 303, 307)


def test_private_feed_shows_the_studios_season_and_a_reset_address_stops_working(
    account: Account, server: Server, services: Services
) -> None:
    today = dt.date.today()
    seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {"partner1_first": "Soon", "wedding_date": today + dt.timedelta(days=20)},
            {"partner1_first": "LastSeason", "wedding_date": today - dt.timedelta(days=100)},
            {"partner1_first": "LongAgo", "wedding_date": today - dt.timedelta(days=800)},
            {"partner1_first": "Undated"},
        ],
    )
    other = signup(server.url, services.database_url, name="Other Studio")
    seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Theirs", "wedding_date": today}])

    settings = account.client.get("/settings").text
    assert "Create my calendar address" in settings
    assert _feed_url(account) is None
    assert account.post("/settings/calendar", {}, csrf_page="/settings").status_code == 303
    url = _feed_url(account)
    assert url is not None
    assert url.startswith(server.url + "/calendar/")
    assert 'href="webcal://' in account.client.get("/settings").text

    feed = httpx.get(url)  # a calendar app: no session, no cookie
    assert feed.status_code == 200
    assert feed.headers["content-type"] == "text/calendar; charset=utf-8"
    ics = _unfold(feed.text)
    summaries = re.findall(r"SUMMARY:Wedding: (\w+)", ics)
    assert summaries == ["LastSeason", "Soon"]  # by date; a year back at most; undated and other studios' left out
    assert "X-WR-CALNAME:Test Studio weddings" in ics

    # The other studio's feed is its own.
    assert other.post("/settings/calendar", {}, csrf_page="/settings").status_code == 303
    other_url = _feed_url(other)
    assert other_url is not None
    assert other_url != url
    assert re.findall(r"SUMMARY:Wedding: (\w+)", httpx.get(other_url).text) == ["Theirs"]

    # A new address: the old one is a 404 at once.
    assert account.post("/settings/calendar", {}, csrf_page="/settings").status_code == 303
    new_url = _feed_url(account)
    assert new_url is not None
    assert new_url != url
    assert httpx.get(url).status_code == 404
    assert httpx.get(new_url).status_code == 200
    for guess in ("x" * 43, "short", "../../etc/passwd"):
        assert httpx.get(f"{server.url}/calendar/{guess}/weddings.ics").status_code == 404
    # Resetting needs the form's token.
    assert account.client.post("/settings/calendar").status_code == 403


def test_weddings_by_month_show_the_next_twelve_months_under_their_month(
    account: Account, server: Server, services: Services
) -> None:
    today = dt.date.today()
    soon, later = today + dt.timedelta(days=3), today + dt.timedelta(days=100)
    seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {"partner1_first": "Ava", "partner1_last": "Soon", "wedding_date": soon},
            {"partner1_first": "Liam", "partner1_last": "Later", "wedding_date": later},
            {"partner1_first": "Old", "partner1_last": "Past", "wedding_date": today - dt.timedelta(days=40)},
            {"partner1_first": "Far", "partner1_last": "Off", "wedding_date": today + dt.timedelta(days=500)},
        ],
    )
    assert 'href="/weddings"' in account.client.get("/").text
    page = account.client.get("/weddings").text
    assert page.count('data-testid="month"') == (1 if soon.month == later.month else 2)
    assert f"{soon.strftime('%B')} {soon.year}" in page
    assert f"{later.strftime('%B')} {later.year}" in page
    assert page.index("Ava Soon") < page.index("Liam Later")
    assert "Old Past" not in page
    assert "Far Off" not in page
    other = signup(server.url, services.database_url, "Another Studio")
    assert "Ava Soon" not in other.client.get("/weddings").text
