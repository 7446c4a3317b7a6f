"""Cleaning a lead typed in by hand (e.g. a couple met at a venue)."""

from __future__ import annotations

import datetime as dt
import secrets
from typing import Any

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from webapp.schemas.clients import LeadForm


class LeadError(ValueError):
    pass


def clean_lead(form: LeadForm, region: str) -> dict[str, Any]:
    email = None
    if form.email:
        try:
            email = validate_email(form.email, check_deliverability=False).normalized.lower()
        except EmailNotValidError as exc:
            raise LeadError("That email address doesn't look right.") from exc
    phone = None
    if form.phone:
        try:
            number = phonenumbers.parse(form.phone, region)
        except phonenumbers.NumberParseException as exc:
            raise LeadError("That phone number doesn't look right.") from exc
        if not phonenumbers.is_possible_number(number):
            raise LeadError("That phone number doesn't look right.")
        phone = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    wedding_date = None
    if form.wedding_date:
        try:
            wedding_date = dt.date.fromisoformat(form.wedding_date)
        except ValueError as exc:
            raise LeadError("The wedding date doesn't look right.") from exc
    return {
        "external_id": f"lead-{secrets.token_hex(8)}",
        "partner1_first": form.partner1_first,
        "partner1_last": form.partner1_last,
        "partner1_email": email,
        "partner1_phone": phone,
        "partner2_first": form.partner2_first,
        "partner2_last": form.partner2_last,
        "wedding_date": wedding_date,
        "venue": form.venue or None,
        "lead_source": "Met in person",
    }
