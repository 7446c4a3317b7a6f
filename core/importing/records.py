"""The records that cross module boundaries in the import pipeline.

Raw rows come out of readers (CSV, vCard, CRM APIs), client records and row errors come
out of validation and go into the batched upsert and the errors CSV.
"""

from __future__ import annotations

import datetime

import msgspec

from core.couple import COUPLE_FIELDS

# Cells longer than this are refused per row (a real CRM cell is never this long; a pasted
# email thread or a broken export is). Names get a much tighter cap.
MAX_CELL_CHARS = 10_000

# The longest value each text column of ``clients`` takes, in characters: the table's length CHECKs
# (migrations/0001_initial.sql; tests/test_client_limits.py holds the two together). They also keep every word
# of the generated ``search_words`` column under PostgreSQL's 2,046-byte limit for one word ("word is too long"):
# a word never spans two columns, and 300 characters are at most 1,200 bytes of UTF-8.
CLIENT_MAX_CHARS: dict[str, int] = {
    "external_id": 200,
    **{f.name: f.max_chars for f in COUPLE_FIELDS if f.max_chars is not None},
}
MAX_NAME_CHARS = CLIENT_MAX_CHARS["partner1_first"]
MAX_EXTERNAL_ID_CHARS = CLIENT_MAX_CHARS["external_id"]
# Fields that are only details of a client: one too long for its column is shortened, with a warning on the row,
# and the client is still imported (a bad field loses the field, not the client).
SHORTENED_FIELDS: tuple[str, ...] = ("venue", "lead_source")


class ImportFileError(Exception):
    """The whole file cannot be imported; `message` is meant for the photographer."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class RawRow(msgspec.Struct, frozen=True):
    """One source record before mapping.

    `line` is what the photographer sees: the physical line where the record starts in
    their spreadsheet (header = 1, first data row = 2), or the card's ordinal in a vCard.
    `label` names a record that has no line a photographer could find ("Emma & Noah Davis
    (Tave job 01g4…)"): warnings and errors say it instead of "Row N".
    """

    line: int
    values: dict[str, str]
    label: str | None = None


class RowWarning(msgspec.Struct, frozen=True, array_like=True):
    """Something left out or changed in a row that was still imported; ``reason`` is for the photographer."""

    line: int
    field: str
    reason: str


class ClientRecord(msgspec.Struct, frozen=True, array_like=True):
    """A normalised couple, ready for the upsert keyed on (supplier, source, external_id).

    Encoded as an array: a big file's records cross from the cleaning pool in msgpack, and field names made
    two thirds of those bytes."""

    external_id: str
    partner1_first: str
    partner1_last: str
    partner1_email: str | None
    partner1_phone: str | None  # E.164
    partner2_first: str
    partner2_last: str
    partner2_email: str | None
    partner2_phone: str | None  # E.164
    wedding_date: datetime.date | None
    venue: str | None
    status: str  # one of core.couple.STATUSES
    lead_source: str | None
    inquiry_date: datetime.date | None
    booking_date: datetime.date | None
    import_digest: bytes | None = None  # of the raw row it was cleaned from (core.importing.digest)
    warnings: tuple[RowWarning, ...] = ()  # fields shortened or left out; the client is imported all the same
    line: int = 0  # where the row starts in the file, as the photographer counts (0: not from a file)
    # A Notes column: becomes a note on the client when the import creates it (not a column of ``clients``).
    notes: str | None = None


class Unchanged(msgspec.Struct, frozen=True):
    """A row identical to the one a stored client was imported from: counted, not cleaned or written."""

    line: int
    external_id: str


class RowError(msgspec.Struct, frozen=True):
    """A row we could not import; `raw` keeps the original cells for an errors CSV."""

    line: int
    reason: str
    field: str | None
    raw: dict[str, str]


# What the pipeline yields per source row.
ImportItem = ClientRecord | RowError | Unchanged


# Fields of ClientRecord that a source column can fill directly.
RECORD_FIELDS: tuple[str, ...] = tuple(
    f for f in ClientRecord.__struct_fields__ if f not in ("import_digest", "warnings", "line")
)

# Helper targets: values that are split or parsed into several record fields.
HELPER_FIELDS: tuple[str, ...] = (
    "partner1_name",  # "Alex Smith" / "Smith, Alex"
    "partner2_name",
    "couple_name",  # "Alex Smith & Sam Jones" / "Alex and Sam Smith"
    "name_with_email",  # HoneyBook "Alex Smith (alex@example.com)"
)

TARGET_FIELDS: frozenset[str] = frozenset(RECORD_FIELDS + HELPER_FIELDS)

# Plain-words names used in messages to photographers.
FIELD_LABELS: dict[str, str] = {
    **{f.name: f.label for f in COUPLE_FIELDS},
    "external_id": "ID",
    "partner1_name": "name",
    "partner2_name": "partner's name",
    "couple_name": "couple's names",
    "name_with_email": "client",
    "inquiry_date": "inquiry date",
    "booking_date": "booking date",
    "notes": "notes",
}
