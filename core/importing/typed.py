"""Values a photographer typed (the edit form, a new lead) cleaned by the import's own normaliser.

One path: a typed couple goes through ``build_record`` exactly as a file's row does (names, lower-cased validated
emails, phones in E.164 with the studio's region), with dates read year first (a date input sends ISO dates). What an
import would leave out with a warning (a bad field loses the field) is, for a form, an error next to that field: the
person who typed it is there to fix it.
"""

from __future__ import annotations

import datetime
import re
from typing import Any

import msgspec

from core.couple import COUPLE_COLUMNS
from core.importing.normalise import NormaliseContext
from core.importing.records import RECORD_FIELDS, RawRow, RowError
from core.importing.validate import build_record

NOBODY = "Give at least a name, an email address or a phone number."
_ROW_PREFIX = re.compile(r"^Row \d+: ")
_LEFT_OUT = re.compile(r", so it was not saved$")


class TypedCouple(msgspec.Struct, frozen=True):
    """The cleaned values by column (``COUPLE_COLUMNS``), or the problems by form field ("" for the whole form)."""

    values: dict[str, Any]
    errors: dict[str, str]


def _sentence(reason: str) -> str:
    text = _LEFT_OUT.sub("", _ROW_PREFIX.sub("", reason)).strip()
    text = text[:1].upper() + text[1:]
    return text if text.endswith(".") else text + "."


def clean_typed(typed: dict[str, str], region: str, *, external_id: str = "typed") -> TypedCouple:
    """``typed``: form fields named as the client columns (empty ones may be left out)."""
    fields = {k: v for k, v in typed.items() if k in RECORD_FIELDS and v}
    fields["external_id"] = external_id
    ctx = NormaliseContext(date_order="YMD", default_region=region)
    record = build_record(fields, 0, RawRow(0, fields), ctx)
    if isinstance(record, RowError):
        field = record.field or ""
        return TypedCouple({}, {field: NOBODY if not field else _sentence(record.reason)})
    errors: dict[str, str] = {}
    for warning in record.warnings:
        errors.setdefault(warning.field, _sentence(warning.reason))
    values = {column: getattr(record, column) for column in COUPLE_COLUMNS}
    return TypedCouple(values, errors)


def as_typed(value: object) -> str:
    """A stored value as a form shows it (a date input takes ISO dates)."""
    if value is None:
        return ""
    if isinstance(value, datetime.date):
        return value.isoformat()
    return str(value)
