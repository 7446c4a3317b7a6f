"""What Tave / VSCO Workspace API v2 sends, as far as we read it (field names per its OpenAPI).

Only the fields we use are declared; unknown fields are ignored. Records hold only strings, numbers and
other records, so they can never be part of a reference cycle: ``gc=False`` keeps the garbage collector
from walking the hundreds of thousands a big import holds at once (links, contacts, events). ``id`` (and the link ids on
job contacts) are required: a record without them is a malformed page, not a record to guess at.
"""

from __future__ import annotations

from typing import Generic, TypeVar

import msgspec

T = TypeVar("T")


class Meta(msgspec.Struct, frozen=True, rename="camel"):
    current_page: int = 1
    total_pages: int = 0
    total_items: int = 0
    rows: int = 0


class Collection(msgspec.Struct, Generic[T], frozen=True):
    items: list[T]
    meta: Meta = Meta()
    type: str = ""


class Phone(msgspec.Struct, frozen=True, gc=False):
    formatted: str | None = None
    e164: str | None = None


class Address(msgspec.Struct, frozen=True, rename="camel", gc=False):
    name: str | None = None
    street_address: str | None = None
    city: str | None = None
    state: str | None = None
    postal_code: str | None = None
    country: str | None = None


class JobRecord(msgspec.Struct, frozen=True, rename="camel", gc=False):
    id: str
    modified: str
    name: str | None = None
    event_date: str | None = None
    booking_date: str | None = None
    inquiry_date: str | None = None
    stage: str | None = None
    job_type_name: str | None = None
    lead_source_name: str | None = None
    guest_count: int | None = None
    primary_session_id: str | None = None


class PersonRecord(msgspec.Struct, frozen=True, rename="camel", gc=False):
    id: str
    first_name: str | None = None
    last_name: str | None = None
    email: str | None = None
    cell_phone: Phone | None = None
    home_phone: Phone | None = None
    work_phone: Phone | None = None


class JobContactRecord(msgspec.Struct, frozen=True, rename="camel", gc=False):
    id: str
    job_id: str
    contact_id: str
    client: bool | None = False


class EventLocation(msgspec.Struct, frozen=True, gc=False):
    address: Address | None = None


class EventRecord(msgspec.Struct, frozen=True, rename="camel", gc=False):
    id: str
    job_id: str | None = None
    location: EventLocation | None = None
