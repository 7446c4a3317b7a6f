"""Rows and form inputs as msgspec Structs: the shapes that cross module boundaries."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

import msgspec

from core.job_lifecycle import JobStatus

ClientStatus = Literal["lead", "booked", "completed", "archived"]
CLIENT_STATUSES: tuple[ClientStatus, ...] = ("lead", "booked", "completed", "archived")

Name = Annotated[str, msgspec.Meta(max_length=200)]
IdempotencyKey = Annotated[str, msgspec.Meta(min_length=8, max_length=255)]


class Supplier(msgspec.Struct, frozen=True):
    id: int
    business_name: str
    email: str
    default_region: str
    is_operator: bool
    timezone: str = "Europe/London"
    date_style: str = "dd mon yyyy"


class SupplierLogin(msgspec.Struct, frozen=True):
    id: int
    password_hash: str


class Client(msgspec.Struct, frozen=True):
    id: int
    source: str
    external_id: str
    partner1_first: str
    partner1_last: str
    partner1_email: str | None
    partner1_phone: str | None
    partner2_first: str
    partner2_last: str
    partner2_email: str | None
    partner2_phone: str | None
    wedding_date: dt.date | None
    venue: str | None
    status: ClientStatus
    lead_source: str | None
    inquiry_date: dt.date | None
    booking_date: dt.date | None
    version: int
    created_at: dt.datetime
    updated_at: dt.datetime

    @property
    def couple_name(self) -> str:
        return couple_name(self.partner1_first, self.partner1_last, self.partner2_first, self.partner2_last)

    @property
    def initials(self) -> str:
        return couple_initials(self.partner1_first, self.partner1_last, self.partner2_first, self.partner2_last)


class ClientListRow(msgspec.Struct, frozen=True):
    id: int
    sort_name: str
    partner1_first: str
    partner1_last: str
    partner2_first: str
    partner2_last: str
    partner1_email: str | None
    wedding_date: dt.date | None
    venue: str | None
    status: ClientStatus

    @property
    def couple_name(self) -> str:
        return couple_name(self.partner1_first, self.partner1_last, self.partner2_first, self.partner2_last)

    @property
    def initials(self) -> str:
        return couple_initials(self.partner1_first, self.partner1_last, self.partner2_first, self.partner2_last)


class Note(msgspec.Struct, frozen=True):
    id: int
    body: str
    created_at: dt.datetime


class SyncJob(msgspec.Struct, frozen=True):
    id: int
    kind: str
    source: str
    status: JobStatus
    total: int | None
    processed: int
    created_count: int
    updated_count: int
    unchanged_count: int
    failed_count: int
    message: str | None
    created_at: dt.datetime
    finished_at: dt.datetime | None
    filename: str | None  # a file import's file name (options->>'filename'); None for a CRM's jobs


class DashboardCounts(msgspec.Struct, frozen=True):
    clients: int
    upcoming: int
    leads: int


def couple_name(p1_first: str, p1_last: str, p2_first: str, p2_last: str) -> str:
    """ "Alex Smith & Sam Jones", or "Alex & Sam Smith" when they share a surname."""
    first = " ".join(p for p in (p1_first, p1_last) if p)
    if not (p2_first or p2_last):
        return first or "(no name)"
    if p1_last and p1_last == p2_last and p1_first and p2_first:
        return f"{p1_first} & {p2_first} {p1_last}"
    second = " ".join(p for p in (p2_first, p2_last) if p)
    return f"{first} & {second}" if first else second


def couple_initials(p1_first: str, p1_last: str, p2_first: str, p2_last: str) -> str:
    """The avatar on a client row: one letter per partner ("HJ" for Harriet & Jonah), or a lone partner's first
    and last initials; "?" for a row with no name (imported from an email or a phone number only)."""
    first = (p1_first or p1_last)[:1]
    second = (p2_first or p2_last)[:1]
    if not second:
        second = p1_last[:1] if p1_first else ""
    return (first + second).upper() or "?"
