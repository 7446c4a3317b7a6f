"""What the Tave client hands to the import pipeline. Values are raw strings exactly as Tave
sent them: cleaning phones, emails and names is the normalisation step's job. Couples and partners hold only
strings, numbers and each other (never a cycle), so the garbage collector does not track them (``gc=False``)."""

from __future__ import annotations

import msgspec


class TavePartner(msgspec.Struct, frozen=True, gc=False):
    external_id: str
    first_name: str | None
    last_name: str | None
    email: str | None
    phone: str | None  # mobile when present, else home, else work
    alt_phone: str | None = None


class TaveCouple(msgspec.Struct, frozen=True, gc=False):
    external_id: str  # the Tave job id: one couple per wedding job
    modified: str
    job_name: str | None
    job_type: str | None
    stage: str | None  # lead / booked / fulfillment / completed
    wedding_date: str | None  # the job's eventDate
    booking_date: str | None
    inquiry_date: str | None
    lead_source: str | None
    guest_count: int | None
    venue_name: str | None
    venue_address: str | None
    partner1: TavePartner | None
    partner2: TavePartner | None


class TaveCursor(msgspec.Struct, frozen=True):
    """Incremental sync position: the newest ``modified`` seen and the job ids at exactly that
    timestamp. Read back inclusively (modified >= cursor) and skip these ids, so jobs sharing
    the timestamp are neither lost nor imported twice."""

    modified: str
    ids: tuple[str, ...] = ()


class TavePage(msgspec.Struct, frozen=True):
    page: int  # the Tave page number: checkpoint it after committing, resume with start_page
    couples: tuple[TaveCouple, ...]
    skipped_ids: tuple[str, ...] = ()  # jobs that are not weddings (portraits, headshots, ...)
    total_items: int = 0
    total_pages: int = 0
    pass_number: int = 1  # >1 when the list shifted under us and we went round again
    is_last: bool = False
    # Only on the last page: save it once everything before it is committed, never earlier.
    cursor: TaveCursor | None = None


class ConnectionCheck(msgspec.Struct, frozen=True):
    ok: bool
    reason: str
