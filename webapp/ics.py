"""Weddings as iCalendar (RFC 5545): one wedding's "Add to calendar" file and a studio's subscribable feed.

A wedding is an all-day event on its date (a DATE value, no time zone: the 14th is the 14th wherever the phone is).
Written by hand: a calendar of all-day events is a dozen lines of text, and escaping and line folding are all there
is to get right.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import msgspec

from webapp.models import couple_name

PRODID = "-//WedSync Hub//Weddings//EN"


class Wedding(msgspec.Struct, frozen=True):
    client_id: int
    partner1_first: str
    partner1_last: str
    partner2_first: str
    partner2_last: str
    wedding_date: dt.date
    venue: str | None
    updated_at: dt.datetime

    @property
    def couple(self) -> str:
        return couple_name(self.partner1_first, self.partner1_last, self.partner2_first, self.partner2_last)


def _text(value: str) -> str:
    """A TEXT value: backslash, semicolon, comma and line breaks escaped (RFC 5545 3.3.11)."""
    return (
        value.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\r\n", "\\n").replace("\n", "\\n")
    ).replace("\r", "\\n")


def _fold(line: str) -> str:
    """Lines longer than 75 octets continue on the next line after a space (3.1), never inside a UTF-8 character."""
    raw = line.encode()
    if len(raw) <= 75:
        return line
    parts, start, limit = [], 0, 75
    while start < len(raw):
        end = min(start + limit, len(raw))
        while end < len(raw) and (raw[end] & 0xC0) == 0x80:  # a continuation byte: cut before its character
            end -= 1
        parts.append(raw[start:end].decode())
        start, limit = end, 74  # continuation lines start with a space
    return "\r\n ".join(parts)


def _stamp(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def _event(wedding: Wedding, host: str, now: dt.datetime) -> list[str]:
    lines = [
        "BEGIN:VEVENT",
        f"UID:wedding-{wedding.client_id}@{host}",
        f"DTSTAMP:{_stamp(now)}",
        f"LAST-MODIFIED:{_stamp(wedding.updated_at)}",
        f"DTSTART;VALUE=DATE:{wedding.wedding_date.strftime('%Y%m%d')}",
        f"DTEND;VALUE=DATE:{(wedding.wedding_date + dt.timedelta(days=1)).strftime('%Y%m%d')}",
        f"SUMMARY:{_text('Wedding: ' + wedding.couple)}",
        "TRANSP:TRANSPARENT",
    ]
    if wedding.venue:
        lines.append(f"LOCATION:{_text(wedding.venue)}")
    lines.append("END:VEVENT")
    return lines


def calendar(
    weddings: Iterable[Wedding], *, host: str, name: str, timezone: str, now: dt.datetime | None = None
) -> bytes:
    """A VCALENDAR of ``weddings``; ``host`` makes each event's UID stable, so a re-import updates, never duplicates."""
    now = now or dt.datetime.now(dt.UTC)
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        f"PRODID:{PRODID}",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        f"X-WR-CALNAME:{_text(name)}",
        f"X-WR-TIMEZONE:{_text(timezone)}",
        "REFRESH-INTERVAL;VALUE=DURATION:PT6H",
        "X-PUBLISHED-TTL:PT6H",
    ]
    for wedding in weddings:
        lines += _event(wedding, host, now)
    lines.append("END:VCALENDAR")
    return ("\r\n".join(_fold(line) for line in lines) + "\r\n").encode()
