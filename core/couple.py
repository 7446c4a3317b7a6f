"""The couple, defined once: the client fields a photographer can see and change.

Everything that lists these fields derives from ``COUPLE_FIELDS``: the edit form and its Struct
(``webapp/schemas/clients.py``), the UPDATE's column list and its ``app_edits`` bookkeeping
(``webapp/queries/clients.py``), the plain-words labels of import messages (``core.importing.records.FIELD_LABELS``),
the longest value each text column takes (``CLIENT_MAX_CHARS``, held to the table's CHECKs by a test) and the
export's headings. Adding a field is a migration and one line here.
"""

from __future__ import annotations

from typing import Literal

import msgspec

FieldKind = Literal["name", "text", "email", "phone", "date", "status"]

# The statuses a client can have (the CHECK on clients.status).
STATUSES: tuple[str, ...] = ("lead", "booked", "completed", "archived")


class CoupleField(msgspec.Struct, frozen=True):
    name: str  # the column of ``clients`` and the form field
    label: str  # plain words completing "the … is not valid": "partner's email"
    heading: str  # a column heading in an export: "Partner 2 email"
    form_label: str  # the label next to its input, within its group: "Email"
    group: Literal["partner1", "partner2", "wedding"]
    kind: FieldKind
    max_chars: int | None = None  # the column's length CHECK (text columns)
    # The longest value the form takes as typed, when that differs from the stored one: a phone number is typed with
    # spaces, brackets and a leading 0 and stored in E.164.
    typed_chars: int | None = None

    @property
    def form_max(self) -> int | None:
        return self.typed_chars or self.max_chars


def _partner(n: int, owner: str) -> tuple[CoupleField, ...]:
    group: Literal["partner1", "partner2"] = "partner1" if n == 1 else "partner2"
    return (
        CoupleField(f"partner{n}_first", f"{owner}first name", f"Partner {n} first name", "First name", group,
                    "name", 200),
        CoupleField(f"partner{n}_last", f"{owner}last name", f"Partner {n} last name", "Last name", group,
                    "name", 200),
        CoupleField(f"partner{n}_email", f"{owner}email", f"Partner {n} email", "Email", group, "email", 254),
        CoupleField(f"partner{n}_phone", f"{owner}phone number", f"Partner {n} phone", "Phone", group, "phone", 32,
                    typed_chars=64),
    )  # fmt: skip


COUPLE_FIELDS: tuple[CoupleField, ...] = (
    *_partner(1, ""),
    *_partner(2, "partner's "),
    CoupleField("wedding_date", "wedding date", "Wedding date", "Wedding date", "wedding", "date"),
    CoupleField("venue", "venue", "Venue", "Venue", "wedding", "text", 300),
    CoupleField("lead_source", "lead source", "Lead source", "Lead source", "wedding", "text", 200),
    CoupleField("status", "status", "Status", "Status", "wedding", "status"),
)
COUPLE_COLUMNS: tuple[str, ...] = tuple(f.name for f in COUPLE_FIELDS)
BY_NAME: dict[str, CoupleField] = {f.name: f for f in COUPLE_FIELDS}
GROUP_LEGENDS: dict[str, str] = {"partner1": "First partner", "partner2": "Second partner", "wedding": "The wedding"}
