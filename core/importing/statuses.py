"""CRM pipeline stages mapped onto our four statuses."""

from __future__ import annotations

import re

from core.importing.text import clean_text

_KEY = re.compile(r"[^a-z0-9]+")

# Keys are lower-case with everything but letters and digits removed.
_STAGE_NAMES: dict[str, tuple[str, ...]] = {
    "lead": (
        # Tave / VSCO Workspace, HoneyBook, Light Blue, generic spreadsheets
        "lead",
        "leads",
        "new",
        "newlead",
        "inquiry",
        "enquiry",
        "newinquiry",
        "newenquiry",
        "followup",
        "followingup",
        "proposal",
        "proposalsent",
        "quote",
        "quoted",
        "quotesent",
        "contacted",
        "meeting",
        "consultation",
        "call",
        "provisional",
        "pending",
        "prospect",
        "open",
        "tentative",
        "onhold",
        "hold",
        "interested",
        "warm",
        "hot",
        "cold",
        "brochuresent",
    ),
    "booked": (
        "booked",
        "booking",
        "confirmed",
        "retainerpaid",
        "depositpaid",
        "deposit",
        "contractsigned",
        "signed",
        "planning",
        "fulfillment",
        "fulfilment",
        "active",
        "inprogress",
        "won",
        "closedwon",
        "paid",
        "upcoming",
        "scheduled",
        "reserved",
        "postponed",
        "rescheduled",
    ),
    "completed": (
        "completed",
        "complete",
        "done",
        "delivered",
        "fulfilled",
        "finished",
        "past",
        "shot",
        "closed",
        "gallerydelivered",
        "archivedcompleted",
    ),
    "archived": (
        "archived",
        "archive",
        "cancelled",
        "canceled",
        "lost",
        "closedlost",
        "declined",
        "dead",
        "inactive",
        "notinterested",
        "rejected",
        "expired",
        "deleted",
        "spam",
        "unqualified",
        "notbooked",
        "turneddown",
        "unavailable",
    ),
}
_STAGES: dict[str, str] = {name: status for status, names in _STAGE_NAMES.items() for name in names}

# Fallback keywords for longer labels ("Proposal sent 3 Mar", "Retainer paid - planning").
# Order matters: "not booked" must win over "booked".
_KEYWORDS: tuple[tuple[str, str], ...] = (
    ("notbooked", "archived"),
    ("cancel", "archived"),
    ("lost", "archived"),
    ("declin", "archived"),
    ("archiv", "archived"),
    ("complet", "completed"),
    ("deliver", "completed"),
    ("book", "booked"),
    ("confirm", "booked"),
    ("retainer", "booked"),
    ("deposit", "booked"),
    ("contract", "booked"),
    ("inquir", "lead"),
    ("enquir", "lead"),
)  # fmt: skip


def normalise_status(text: str) -> str:
    """Map a CRM stage to lead / booked / completed / archived; unknown or empty -> lead."""
    key = _KEY.sub("", clean_text(text).lower())
    if not key:
        return "lead"
    if status := _STAGES.get(key):
        return status
    for keyword, status in _KEYWORDS:
        if keyword in key:
            return status
    return "lead"
