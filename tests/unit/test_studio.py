"""How a studio reads dates, times and phones (webapp/studio.py), the calendar files (webapp/ics.py), and a guard
that templates show dates only through the one filter."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path

import pytest

from webapp.ics import Wedding, calendar
from webapp.studio import Studio, phone_links, show_when, suggested

TEMPLATES = Path(__file__).resolve().parents[2] / "templates"
NOTE = dt.datetime(2026, 12, 3, 11, 11, 5, tzinfo=dt.UTC)
WEDDING = dt.date(2027, 6, 14)


@pytest.mark.parametrize(
    ("studio", "moment", "date", "long"),
    [
        (Studio(), "03 Dec 2026 11:11", "14 Jun 2027", "Monday 14 Jun 2027"),
        (Studio(timezone="America/Los_Angeles", date_style="mm/dd/yyyy"), "12/03/2026 3:11 AM", "06/14/2027", None),
        (Studio(timezone="Asia/Tokyo", date_style="yyyy-mm-dd"), "2026-12-03 20:11", "2027-06-14", None),
        (Studio(timezone="Europe/Paris", date_style="dd/mm/yyyy"), "03/12/2026 12:11", "14/06/2027", None),
        (Studio(timezone="Asia/Kolkata"), "03 Dec 2026 16:41", "14 Jun 2027", None),
    ],
)
def test_moments_move_to_the_studios_zone_and_dates_keep_their_day(
    studio: Studio, moment: str, date: str, long: str | None
) -> None:
    assert show_when(NOTE, studio) == moment
    assert show_when(WEDDING, studio) == date  # a wedding is on its day wherever the studio is
    assert show_when(WEDDING.isoformat(), studio) == date  # as an import's conflict keeps it
    if long:
        assert show_when(WEDDING, studio, "long") == long


def test_summer_time_and_clock_parts() -> None:
    london = Studio()
    assert show_when(dt.datetime(2027, 6, 14, 11, 11, tzinfo=dt.UTC), london) == "14 Jun 2027 12:11"  # BST
    assert show_when(NOTE, london, "time") == "11:11:05"
    assert show_when(NOTE, Studio(timezone="America/New_York", date_style="mm/dd/yyyy"), "time") == "6:11:05 AM"
    assert show_when(dt.datetime(2026, 12, 3, 12, 0, tzinfo=dt.UTC), Studio(date_style="mm/dd/yyyy")) == (
        "12/03/2026 12:00 PM"
    )
    assert show_when(dt.datetime(2026, 12, 3, 0, 5, tzinfo=dt.UTC), Studio(date_style="mm/dd/yyyy"), "time") == (
        "12:05:00 AM"
    )
    assert show_when(None, london) == ""
    assert show_when("not a date", london) == "not a date"


def test_today_is_the_studios_calendar_day() -> None:
    late_utc = dt.datetime(2026, 12, 3, 23, 30, tzinfo=dt.UTC)
    assert Studio().today(late_utc) == dt.date(2026, 12, 3)
    assert Studio(timezone="Pacific/Auckland").today(late_utc) == dt.date(2026, 12, 4)
    assert Studio(timezone="Pacific/Honolulu").today(dt.datetime(2026, 12, 4, 5, 0, tzinfo=dt.UTC)) == dt.date(
        2026, 12, 3
    )


def test_phones_read_as_the_studios_country() -> None:
    gb, us = Studio(), Studio(region="US")
    uk_mobile = phone_links("+447700900063", gb)
    assert uk_mobile is not None
    assert (uk_mobile.shown, uk_mobile.tel, uk_mobile.whatsapp) == (
        "07700 900063",
        "+447700900063",
        "https://wa.me/447700900063",
    )
    assert phone_links("+447700900063", us).shown == "+44 7700 900063"  # type: ignore[union-attr]
    assert phone_links("+14155550100", us).shown == "(415) 555-0100"  # type: ignore[union-attr]
    assert phone_links("+14155550100", gb).shown == "+1 415-555-0100"  # type: ignore[union-attr]
    odd = phone_links("ask at reception", gb)
    assert odd is not None
    assert (odd.shown, odd.whatsapp) == ("ask at reception", None)
    assert phone_links(None, gb) is None
    assert phone_links("", gb) is None


def test_sign_up_suggestions_fall_back_to_the_defaults() -> None:
    chicago = Studio(region="US", timezone="America/Chicago", date_style="mm/dd/yyyy")
    assert suggested("us", "America/Chicago") == chicago
    assert suggested("DE", "Europe/Berlin") == Studio(region="DE", timezone="Europe/Berlin")
    assert suggested("", "") == Studio()
    assert suggested("XX", "Europe/Nowhere") == Studio()
    assert suggested("", "", fallback_region="IE").region == "IE"


def test_calendar_escapes_text_and_folds_long_lines() -> None:
    wedding = Wedding(
        7, "Zoë", "Lefèvre", "Ana", "Ñúñez", dt.date(2031, 12, 31), "Château, Salle; \\ «" + "é" * 60,
        dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
    )  # fmt: skip
    body = calendar([wedding], host="h", name="Studio, Ltd", timezone="Europe/Paris", now=NOTE).decode()
    lines = body.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = body.replace("\r\n ", "")
    assert "DTSTART;VALUE=DATE:20311231\r\nDTEND;VALUE=DATE:20320101\r\n" in unfolded
    assert "SUMMARY:Wedding: Zoë Lefèvre & Ana Ñúñez\r\n" in unfolded
    assert "LOCATION:Château\\, Salle\\; \\\\ «" + "é" * 60 + "\r\n" in unfolded
    assert "X-WR-CALNAME:Studio\\, Ltd\r\n" in unfolded
    assert "DTSTAMP:20261203T111105Z\r\n" in unfolded


def test_templates_show_dates_only_through_the_local_filter() -> None:
    """A date written with strftime (or a raw isoformat outside a machine-readable attribute) would be the server's
    UTC and style, not the studio's."""
    for path in TEMPLATES.rglob("*.html"):
        text = path.read_text()
        assert "strftime" not in text, path
        for match in re.finditer(r"\.isoformat\(\)", text):
            before = text[max(0, match.start() - 40) : match.start()]
            assert 'datetime="' in before, (path, before)
