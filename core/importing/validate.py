"""Mapped fields -> a normalised ClientRecord, or one RowError in plain words."""

from __future__ import annotations

import datetime
import hashlib
import re
from functools import lru_cache

from core.importing.digest import RowDigester
from core.importing.normalise import (
    DateOrder,
    NormaliseContext,
    NormaliseError,
    clean_optional,
    clean_text,
    fix_case,
    has_couple_separator,
    normalise_phone,
    normalise_status,
    parse_date,
    split_couple,
    split_emails,
    split_full_name,
)
from core.importing.phone_region import phone_elsewhere
from core.importing.records import (
    CLIENT_MAX_CHARS,
    FIELD_LABELS,
    MAX_CELL_CHARS,
    MAX_EXTERNAL_ID_CHARS,
    MAX_NAME_CHARS,
    ClientRecord,
    RawRow,
    RowError,
    RowWarning,
)
from core.importing.text import shown

# "Alex Smith (alex@example.com)", possibly several separated by commas or semicolons.
_NAME_WITH_EMAIL = re.compile(r"\s*([^(),;]*?)\s*\(\s*([^()\s]*@[^()\s]*)\s*\)\s*[,;]?")


# Target field names per person: first, last, name, email, phone.
_PEOPLE_FIELDS = (
    ("partner1_first", "partner1_last", "partner1_name", "partner1_email", "partner1_phone"),
    ("partner2_first", "partner2_last", "partner2_name", "partner2_email", "partner2_phone"),
)


# Dates, statuses and names repeat down a column (a few thousand wedding dates, a handful of statuses, the
# common first names), so each distinct short cell is cleaned once per process: the rules are pure
# functions of the text, and a hit costs a dict lookup instead of a few µs of Python. Only short cells
# are cached, so the caches stay small on any file; values that raise are never cached.
_CACHED_CHARS = 64


@lru_cache(maxsize=4096)
def _cached_date(text: str, order: DateOrder) -> datetime.date | None:
    return parse_date(text, order)


@lru_cache(maxsize=1024)
def _cached_status(text: str) -> str:
    return normalise_status(text)


@lru_cache(maxsize=8192)
def _cached_case(name: str) -> str:
    return fix_case(name)


@lru_cache(maxsize=4096)
def _cached_split_name(full: str) -> tuple[str, str]:
    return split_full_name(full)


def _fix_case(name: str) -> str:
    return _cached_case(name) if len(name) <= _CACHED_CHARS else fix_case(name)


def _split_full_name(full: str) -> tuple[str, str]:
    return _cached_split_name(full) if len(full) <= _CACHED_CHARS else split_full_name(full)


def _status(text: str) -> str:
    return _cached_status(text) if len(text) <= _CACHED_CHARS else normalise_status(text)


class _RowProblem(Exception):
    def __init__(self, field: str | None, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class _Person:
    __slots__ = ("email", "first", "last", "phone")

    def __init__(self) -> None:
        self.first = ""
        self.last = ""
        self.email: str | None = None
        self.phone: str | None = None

    def has_name(self) -> bool:
        return bool(self.first or self.last)

    def is_empty(self) -> bool:
        return not (self.first or self.last or self.email or self.phone)


def parse_name_with_email(text: str) -> list[tuple[str, str]]:
    """HoneyBook's "Alex Smith (alex@example.com), Sam Jones (sam@example.com)" cells.

    A cell without parentheses is a plain name (or a bare address) and comes back as one
    pair with the other half empty.
    """
    pairs = [(name, email) for name, email in _NAME_WITH_EMAIL.findall(text)]
    if pairs:
        return pairs
    cleaned = clean_text(text)
    if "@" in cleaned and " " not in cleaned:
        return [("", cleaned)]
    return [(cleaned, "")] if cleaned else []


class _Row:
    """The row being cleaned: where it is (its line, and how the photographer finds it: "Row 14", or the couple and
    their Tave job for a CRM import) and what was left out of it so far."""

    __slots__ = ("line", "warnings", "where")

    def __init__(self, line: int, where: str | None) -> None:
        self.line, self.where = line, where or f"Row {line}"
        self.warnings: list[RowWarning] = []

    def warn(self, field: str, text: str) -> None:
        self.warnings.append(RowWarning(self.line, field, f"{self.where}: {text}"))


def _left_out(row: _Row, field: str, exc: NormaliseError) -> None:
    """A value that cannot be used loses that field, not the client: the row says what was left out."""
    row.warn(field, f"the {FIELD_LABELS[field]} {exc.message}, so it was not saved")


def _email(fields: dict[str, str], field: str, row: _Row) -> list[str]:
    text = fields.get(field)
    if not text:
        return []
    try:
        return split_emails(text)
    except NormaliseError as exc:
        _left_out(row, field, exc)
        return []


def _date(fields: dict[str, str], field: str, ctx: NormaliseContext, row: _Row) -> datetime.date | None:
    text = fields.get(field)
    if not text:
        return None
    try:
        if len(text) <= _CACHED_CHARS:
            return _cached_date(text, ctx.date_order)
        return parse_date(text, ctx.date_order)
    except NormaliseError as exc:
        _left_out(row, field, exc)
        return None


def _phone(fields: dict[str, str], field: str, ctx: NormaliseContext, row: _Row) -> str | None:
    text = fields.get(field)
    if not text:
        return None
    try:
        return normalise_phone(text, ctx.default_region)
    except NormaliseError as exc:
        found = phone_elsewhere(text, ctx.default_region)
        if found is None:
            _left_out(row, field, exc)
            return None
        number, region = found
        # A file of one country's numbers with a few from abroad (an American couple in a UK studio's book): a
        # number that no one in the file's country has but someone in exactly one usual country does is read as
        # that country's, and the row says so, rather than losing a number a careful person would have dialled.
        row.warn(field, f"the {FIELD_LABELS[field]} '{shown(text)}' is not a {ctx.default_region} number, so it was "
                        f"saved as a {region} number ({number})")  # fmt: skip
        return number


def _set_name(person: _Person, first: str, last: str) -> None:
    if not person.has_name():
        person.first, person.last = first, last


def _resolve_people(fields: dict[str, str], row: _Row) -> tuple[_Person, _Person]:
    p1, p2 = _Person(), _Person()
    for person, (first_f, last_f, name_f, email_f, _) in zip((p1, p2), _PEOPLE_FIELDS, strict=True):
        if first := fields.get(first_f):
            person.first = clean_text(first)
        if last := fields.get(last_f):
            person.last = clean_text(last)
        full = fields.get(name_f)
        if full and "@" in full:  # a "Name (email)" cell mapped as a plain name
            pairs = parse_name_with_email(full)
            if pairs:
                full = pairs[0][0]
                emails = _email({email_f: pairs[0][1]}, email_f, row)
                person.email = emails[0] if emails else None
        if full and not person.has_name():
            person.first, person.last = _split_full_name(full)

    # First name "Alex & Sam", last name "Smith", and nobody in the partner columns.
    if p1.first and not p2.has_name() and has_couple_separator(p1.first):
        people = split_couple(f"{p1.first} {p1.last}")
        if len(people) == 2:
            (p1.first, p1.last), (p2.first, p2.last) = people

    if couple := fields.get("couple_name"):
        people = split_couple(couple)
        if people:
            _set_name(p1, *people[0])
        if len(people) > 1:
            _set_name(p2, *people[1])

    if packed := fields.get("name_with_email"):
        for person, (name, email) in zip((p1, p2), parse_name_with_email(packed), strict=False):
            if name:
                _set_name(person, *_split_full_name(name))
            if email and person.email is None:
                emails = _email({"name_with_email": email}, "name_with_email", row)
                person.email = emails[0] if emails else None
    return p1, p2


def _check_lengths(fields: dict[str, str], row: _Row) -> dict[str, str]:
    """A cell longer than any real value (a pasted email thread, a broken export) is left out with a warning; the
    rest of the row is still read."""
    if max(map(len, fields.values()), default=0) <= MAX_CELL_CHARS:
        return fields
    kept = {}
    for field, value in fields.items():
        if len(value) > MAX_CELL_CHARS:
            row.warn(
                field,
                f"the {FIELD_LABELS.get(field, field)} cell was {len(value):,} characters long "
                f"(the limit is {MAX_CELL_CHARS:,}), so it was not saved",
            )
        else:
            kept[field] = value
    return kept


def _shortened(field: str, text: str | None, row: _Row) -> str | None:
    """A detail longer than its column allows is cut at a word break within the limit (or at the limit), with a
    warning: the client is imported without the rest of it, instead of failing the whole batch at the CHECK."""
    limit = CLIENT_MAX_CHARS[field]
    if text is None or len(text) <= limit:
        return text
    cut = text[: limit + 1]
    space = cut.rfind(" ")
    short = (cut[:space] if space >= limit * 2 // 3 else cut[:limit]).rstrip(" ,;-")
    row.warn(
        field,
        f"the {FIELD_LABELS[field]} was {len(text):,} characters long, more than the {limit:,} "
        f"a client's {FIELD_LABELS[field]} can have, so we kept only its start",
    )
    return short


def stable_external_id(p1: _Person, p2: _Person, wedding_date: datetime.date | None) -> str:
    """The key of a client from a file without an id column: the best identity the row has with its wedding date
    (same couple and date -> same id, so re-importing a file does not duplicate), never the name when there is
    anything better: an email, else a phone number; the names only when the row has neither."""
    if p1.email:
        who = p1.email  # the key such rows have always had: earlier imports keep matching
    elif p2.email:
        who = f"e:{p2.email}"
    elif p1.phone or p2.phone:
        who = f"t:{p1.phone or p2.phone}"
    else:
        who = f"{p1.first} {p1.last}".casefold()
    key = f"{who}|{wedding_date.isoformat() if wedding_date else ''}"
    return "h-" + hashlib.sha256(key.encode()).hexdigest()[:32]


def _build(fields: dict[str, str], ctx: NormaliseContext, digest: bytes | None, row: _Row) -> ClientRecord:
    # A value that cannot be used is left out with a warning (a bad field loses the field, not the client); the
    # row fails only when nothing in it identifies anyone.
    fields = _check_lengths(fields, row)
    p1, p2 = _resolve_people(fields, row)

    # Partner 1's email and phone, then partner 2's, in that order (warnings in the row's order);
    # written out rather than looped, as this runs for every row.
    emails = _email(fields, "partner1_email", row)
    if emails and p1.email is None:
        p1.email = emails[0]
    # "alex@example.com; sam@example.com" in one cell: the second belongs to the partner.
    if len(emails) > 1 and not fields.get("partner2_email"):
        p2.email = p2.email or emails[1]
    p1.phone = _phone(fields, "partner1_phone", ctx, row)
    emails = _email(fields, "partner2_email", row)
    if emails and p2.email is None:
        p2.email = emails[0]
    p2.phone = _phone(fields, "partner2_phone", ctx, row)

    if p1.is_empty() and not p2.is_empty():  # only the partner columns were filled
        p1, p2 = p2, p1
    if p1.is_empty() and p2.is_empty():
        raise _RowProblem(None, "no name, email or phone number, so we can't tell who this is")

    for person, (first_f, last_f, *_) in ((p1, _PEOPLE_FIELDS[0]), (p2, _PEOPLE_FIELDS[1])):
        person.first, person.last = _fix_case(person.first), _fix_case(person.last)
        if len(person.first) > MAX_NAME_CHARS or len(person.last) > MAX_NAME_CHARS:
            for part, field in ((person.first, first_f), (person.last, last_f)):
                if len(part) > MAX_NAME_CHARS:
                    raise _RowProblem(field, f"the {FIELD_LABELS[field]} is too long ({len(part):,} characters)")

    wedding_date = _date(fields, "wedding_date", ctx, row)
    inquiry_date = _date(fields, "inquiry_date", ctx, row)
    booking_date = _date(fields, "booking_date", ctx, row)

    external_id = clean_text(fields.get("external_id", ""))
    if len(external_id) > MAX_EXTERNAL_ID_CHARS:
        raise _RowProblem("external_id", f"the ID is too long ({len(external_id):,} characters)")
    if not external_id:
        external_id = stable_external_id(p1, p2, wedding_date)

    venue = _shortened("venue", clean_optional(fields.get("venue")), row)
    lead_source = _shortened("lead_source", clean_optional(fields.get("lead_source")), row)
    return ClientRecord(
        external_id=external_id,
        partner1_first=p1.first,
        partner1_last=p1.last,
        partner1_email=p1.email,
        partner1_phone=p1.phone,
        partner2_first=p2.first,
        partner2_last=p2.last,
        partner2_email=p2.email,
        partner2_phone=p2.phone,
        wedding_date=wedding_date,
        venue=venue,
        status=_status(fields.get("status", "")),
        lead_source=lead_source,
        inquiry_date=inquiry_date,
        booking_date=booking_date,
        import_digest=digest,
        warnings=tuple(row.warnings),
        line=row.line,
        notes=clean_optional(fields.get("notes")),
    )


def build_record(
    fields: dict[str, str], line: int, source_row: RawRow, ctx: NormaliseContext, digest: RowDigester | None = None
) -> ClientRecord | RowError:
    """Normalise and check one mapped row. The first problem found becomes the RowError. With ``digest`` the
    record keeps the digest of ``source_row`` (core.importing.digest)."""
    row = _Row(line, source_row.label)
    try:
        return _build(fields, ctx, digest(source_row.values) if digest is not None else None, row)
    except _RowProblem as problem:
        reason = f"{row.where}: {problem.message}"
        return RowError(line=line, reason=reason, field=problem.field, raw=source_row.values)
