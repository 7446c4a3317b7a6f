"""The couple's fields are declared once (core/couple.py): what derives from the declaration agrees with it."""

from __future__ import annotations

import msgspec

from core.couple import COUPLE_COLUMNS, COUPLE_FIELDS, STATUSES
from core.importing.records import CLIENT_MAX_CHARS, FIELD_LABELS, RECORD_FIELDS
from core.importing.typed import clean_typed
from webapp.models import CLIENT_STATUSES, Client
from webapp.queries import clients as q
from webapp.routes.export import CSV_HEADINGS
from webapp.schemas.clients import ClientEditForm


def test_everything_listing_the_couples_fields_derives_from_the_declaration() -> None:
    form_fields = [f.name for f in msgspec.structs.fields(ClientEditForm)]
    assert form_fields == [*COUPLE_COLUMNS, "version"]
    assert set(COUPLE_COLUMNS) <= set(RECORD_FIELDS)  # the import fills every one of them
    assert set(COUPLE_COLUMNS) <= set(Client.__struct_fields__)
    assert {f.name: f.label for f in COUPLE_FIELDS}.items() <= FIELD_LABELS.items()
    assert {f.name: f.max_chars for f in COUPLE_FIELDS if f.max_chars} == {
        k: v for k, v in CLIENT_MAX_CHARS.items() if k != "external_id"
    }
    assert {f.heading for f in COUPLE_FIELDS} <= set(CSV_HEADINGS)
    update = q.UPDATE_CLIENT.as_string(None)
    for column in COUPLE_COLUMNS:
        assert f'"{column}" = %({column})s' in update
        assert f"app_edits ? '{column}'" in update
    assert tuple(STATUSES) == CLIENT_STATUSES


def test_typed_values_are_cleaned_as_an_import_cleans_them() -> None:
    cleaned = clean_typed(
        {"partner1_first": " ada ", "partner1_email": "Ada@Example.COM", "partner1_phone": "07911 123456",
         "wedding_date": "2027-06-12", "venue": "  Kew  ", "status": "booked"},
        "GB",
    )  # fmt: skip
    assert cleaned.errors == {}
    assert cleaned.values["partner1_first"] == "Ada"
    assert cleaned.values["partner1_email"] == "ada@example.com"
    assert cleaned.values["partner1_phone"] == "+447911123456"
    assert cleaned.values["wedding_date"].isoformat() == "2027-06-12"
    assert cleaned.values["venue"] == "Kew"
    assert set(cleaned.values) == set(COUPLE_COLUMNS)
    # A US studio reads a national number as American; the date input is ISO whatever the country writes.
    us = clean_typed({"partner1_first": "Al", "partner1_phone": "(415) 555-2671", "wedding_date": "2027-03-04"}, "US")
    assert us.values["partner1_phone"] == "+14155552671"
    assert us.values["wedding_date"].isoformat() == "2027-03-04"
    bad = clean_typed({"partner1_first": "Al", "partner1_email": "al@", "wedding_date": "2027-02-30"}, "GB")
    assert set(bad.errors) == {"partner1_email", "wedding_date"}
    assert clean_typed({"venue": "Somewhere"}, "GB").errors == {
        "": "Give at least a name, an email address or a phone number."
    }
