"""The studio's way of showing things: its time zone, its date style and its country's phone numbers.

Every date and time a page, a fragment or an event shows goes through ``show_when`` (the templates' ``local``
filter), and every phone through ``phone_links`` (``phone``): one place decides how they read.
"""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo
from typing import Literal

import msgspec
import phonenumbers

DateStyle = Literal["dd mon yyyy", "dd/mm/yyyy", "mm/dd/yyyy", "yyyy-mm-dd"]
# What each style looks like, for the settings form; strftime patterns for the date alone.
DATE_STYLES: dict[DateStyle, tuple[str, str]] = {
    "dd mon yyyy": ("14 Jun 2027", "%d %b %Y"),
    "dd/mm/yyyy": ("14/06/2027", "%d/%m/%Y"),
    "mm/dd/yyyy": ("06/14/2027", "%m/%d/%Y"),
    "yyyy-mm-dd": ("2027-06-14", "%Y-%m-%d"),
}
DEFAULT_REGION = "GB"
DEFAULT_TIMEZONE = "Europe/London"
DEFAULT_DATE_STYLE: DateStyle = "dd mon yyyy"
# Countries that write the month first and read a 12-hour clock (a new studio there gets "06/14/2027, 2:05 PM").
MONTH_FIRST_REGIONS = frozenset({"US", "PR", "GU", "AS", "VI", "MP", "UM", "FM", "PH"})

Part = Literal["auto", "date", "long", "time", "datetime", "month"]


class Studio(msgspec.Struct, frozen=True):
    """How one studio reads dates, times and phones (the suppliers row's settings)."""

    business_name: str = ""
    region: str = DEFAULT_REGION
    timezone: str = DEFAULT_TIMEZONE
    date_style: DateStyle = DEFAULT_DATE_STYLE

    @property
    def zone(self) -> zoneinfo.ZoneInfo:
        return _zone(self.timezone)

    def today(self, now: dt.datetime | None = None) -> dt.date:
        """The studio's calendar day: what "today" and "upcoming" start from."""
        return (now or dt.datetime.now(dt.UTC)).astimezone(self.zone).date()

    @property
    def twelve_hour(self) -> bool:
        return self.date_style == "mm/dd/yyyy"


DEFAULT_STUDIO = Studio()


@functools.cache
def time_zones() -> tuple[str, ...]:
    """IANA names this machine knows (zoneinfo), sorted: what the settings form offers and accepts."""
    return tuple(sorted(name for name in zoneinfo.available_timezones() if "/" in name or name == "UTC"))


@functools.lru_cache(maxsize=512)
def _zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo(DEFAULT_TIMEZONE)


def valid_time_zone(name: str) -> bool:
    return name in frozenset(time_zones())


def valid_region(code: str) -> bool:
    return code in phonenumbers.SUPPORTED_REGIONS


@functools.cache
def regions() -> tuple[tuple[str, str], ...]:
    """(code, label) of every country phonenumbers can read: "GB (+44)", as the import preview names them."""
    return tuple(
        (code, f"{code} (+{phonenumbers.country_code_for_region(code)})")
        for code in sorted(phonenumbers.SUPPORTED_REGIONS)
    )


def suggested(region: str, timezone: str, fallback_region: str = DEFAULT_REGION) -> Studio:
    """A new studio's settings from what its browser said (``navigator.language``'s country, ``Intl``'s time zone),
    each replaced by the default when missing or unknown."""
    region = region.strip().upper()
    region = region if valid_region(region) else fallback_region
    timezone = timezone.strip()
    timezone = timezone if valid_time_zone(timezone) else DEFAULT_TIMEZONE
    style: DateStyle = "mm/dd/yyyy" if region in MONTH_FIRST_REGIONS else DEFAULT_DATE_STYLE
    return Studio(region=region, timezone=timezone, date_style=style)


def _clock(value: dt.datetime, studio: Studio, seconds: bool = False) -> str:
    if studio.twelve_hour:
        hour = value.hour % 12 or 12
        rest = f":{value.second:02d}" if seconds else ""
        return f"{hour}:{value.minute:02d}{rest} {'PM' if value.hour >= 12 else 'AM'}"
    return value.strftime("%H:%M:%S" if seconds else "%H:%M")


def show_when(value: dt.date | dt.datetime | str | None, studio: Studio = DEFAULT_STUDIO, part: Part = "auto") -> str:
    """A date or a moment as the studio reads it. A moment (timestamptz, UTC) is moved into the studio's time zone;
    a calendar date (a wedding) is shown as it is. ``part``: ``date``, ``long`` (with the weekday), ``time``,
    ``datetime``, ``month`` ("June 2027"); ``auto`` is ``datetime`` for a moment and ``date`` for a date. A string
    is an ISO date as a field's value is kept (an import's conflicts); one that is not is shown as it is."""
    if value is None:
        return ""
    if isinstance(value, str):
        text = value
        try:
            value = dt.date.fromisoformat(text)
        except ValueError:
            return text
    pattern = DATE_STYLES.get(studio.date_style, DATE_STYLES[DEFAULT_DATE_STYLE])[1]
    if isinstance(value, dt.datetime):
        moment = (value if value.tzinfo else value.replace(tzinfo=dt.UTC)).astimezone(studio.zone)
        if part == "time":
            return _clock(moment, studio, seconds=True)
        if part == "date":
            return moment.strftime(pattern)
        if part == "long":
            return f"{moment.strftime('%A')} {moment.strftime(pattern)}"
        return f"{moment.strftime(pattern)} {_clock(moment, studio)}"
    if part == "long":
        return f"{value.strftime('%A')} {value.strftime(pattern)}"
    if part == "month":
        return f"{value.strftime('%B')} {value.year}"
    return str(value.strftime(pattern))


class PhoneLinks(msgspec.Struct, frozen=True):
    """A stored phone (E.164, or whatever an old import left) as a person reads and dials it."""

    shown: str  # national for the studio's country ("07700 900063"), international otherwise ("+1 415-555-0100")
    tel: str  # tel: / sms: target, E.164
    whatsapp: str | None  # https://wa.me/<digits>, for a number WhatsApp could have


def phone_links(stored: str | None, studio: Studio = DEFAULT_STUDIO) -> PhoneLinks | None:
    if not stored:
        return None
    try:
        number = phonenumbers.parse(stored, studio.region)
    except phonenumbers.NumberParseException:
        return PhoneLinks(stored, stored, None)
    if not phonenumbers.is_possible_number(number):
        return PhoneLinks(stored, stored, None)
    e164 = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    # By calling code, not by region: a number in a range not yet handed out (Ofcom's drama numbers) has no region.
    home = number.country_code == phonenumbers.country_code_for_region(studio.region)
    style = phonenumbers.PhoneNumberFormat.NATIONAL if home else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return PhoneLinks(phonenumbers.format_number(number, style), e164, f"https://wa.me/{e164.removeprefix('+')}")
