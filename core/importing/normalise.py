"""Normalisation rules, gathered in one import for the validation step.

Each rule lives in a small module of its own (text, names, contact, dates, statuses);
this module adds the per-file context they share.
"""

from __future__ import annotations

import msgspec

from core.importing.contact import NormaliseError, normalise_email, normalise_phone, split_emails
from core.importing.dates import (
    DateOrder,
    DateOrderDecision,
    DateOrderDetector,
    default_order,
    parse_date,
)
from core.importing.names import fix_case, has_couple_separator, split_couple, split_full_name
from core.importing.statuses import normalise_status
from core.importing.text import clean_optional, clean_text, strip_invisible

__all__ = [
    "DateOrder",
    "DateOrderDecision",
    "DateOrderDetector",
    "NormaliseContext",
    "NormaliseError",
    "clean_optional",
    "clean_text",
    "default_order",
    "fix_case",
    "has_couple_separator",
    "normalise_email",
    "normalise_phone",
    "normalise_status",
    "parse_date",
    "split_couple",
    "split_emails",
    "split_full_name",
    "strip_invisible",
]


class NormaliseContext(msgspec.Struct, frozen=True):
    """Per-file settings: how the file writes dates and which country its phones are in."""

    date_order: DateOrder
    default_region: str  # ISO 3166 alpha-2: the country numbers without a country code are read in ("GB", "US")
