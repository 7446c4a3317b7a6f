"""What the client pages accept: a note, a status change, a lead typed in by hand."""

from __future__ import annotations

from typing import Annotated

import msgspec

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
    phone: Annotated[str, msgspec.Meta(max_length=40)] = ""
    wedding_date: str = ""
    venue: Annotated[str, msgspec.Meta(max_length=300)] = ""
