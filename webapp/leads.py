"""Cleaning a lead typed in by hand (e.g. a couple met at a venue): the same normaliser as imports and edits."""

from __future__ import annotations

import secrets
from typing import Any

from core.importing.typed import clean_typed
from webapp.schemas.clients import LeadForm


class LeadError(ValueError):
    pass


def clean_lead(form: LeadForm, region: str) -> dict[str, Any]:
    external_id = f"lead-{secrets.token_hex(8)}"
    typed = {
        "partner1_first": form.partner1_first,
        "partner1_last": form.partner1_last,
        "partner1_email": form.email,
        "partner1_phone": form.phone,
        "partner2_first": form.partner2_first,
        "partner2_last": form.partner2_last,
        "wedding_date": form.wedding_date,
        "venue": form.venue,
    }
    cleaned = clean_typed(typed, region, external_id=external_id)
    if cleaned.errors:
        raise LeadError(" ".join(cleaned.errors.values()))
    values = cleaned.values
    return {
        "external_id": external_id,
        **{k: values[k] for k in ("partner1_first", "partner1_last", "partner1_email", "partner1_phone")},
        **{k: values[k] for k in ("partner2_first", "partner2_last", "wedding_date", "venue")},
        "lead_source": "Met in person",
    }
