"""What the client pages accept: a note, a status change, a lead typed in by hand, an edit of the couple."""

from __future__ import annotations

from typing import Annotated, Any

import msgspec

from core.couple import COUPLE_FIELDS, CoupleField
from webapp.models import ClientStatus


class NoteForm(msgspec.Struct):
    body: Annotated[str, msgspec.Meta(min_length=1, max_length=5000)]


class StatusForm(msgspec.Struct):
    status: ClientStatus
    version: int


class LeadForm(msgspec.Struct):
    partner1_first: Annotated[str, msgspec.Meta(min_length=1, max_length=200)]
    partner1_last: Annotated[str, msgspec.Meta(max_length=200)] = ""
    partner2_first: Annotated[str, msgspec.Meta(max_length=200)] = ""
    partner2_last: Annotated[str, msgspec.Meta(max_length=200)] = ""
    email: Annotated[str, msgspec.Meta(max_length=254)] = ""
    phone: Annotated[str, msgspec.Meta(max_length=64)] = ""
    wedding_date: str = ""
    venue: Annotated[str, msgspec.Meta(max_length=300)] = ""


def _edit_field(field: CoupleField) -> tuple[str, Any, Any]:
    if field.kind == "status":
        return (field.name, ClientStatus, msgspec.NODEFAULT)
    if field.form_max is not None:
        return (field.name, Annotated[str, msgspec.Meta(max_length=field.form_max)], "")
    return (field.name, str, "")


# An edit of the couple: every field of core.couple, as typed (cleaning is core.importing.typed's), and the version
# it was made on. Built from the declaration, so a new field is a new form field here too.
ClientEditForm: type[msgspec.Struct] = msgspec.defstruct(
    "ClientEditForm", [*(_edit_field(f) for f in COUPLE_FIELDS), ("version", int)], kw_only=True
)


def edit_values(form: msgspec.Struct) -> tuple[dict[str, str], int]:
    """The typed couple fields and the version of a decoded ``ClientEditForm``."""
    values = msgspec.structs.asdict(form)
    version = values.pop("version")
    return values, int(version)
