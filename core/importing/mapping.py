"""Which source column fills which client field: suggestions from header names, and the
Mapping the photographer confirms."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

import msgspec

from core.importing.dates import DateOrder
from core.importing.records import TARGET_FIELDS, RawRow
from core.sources import FILE_SOURCES, REGISTRY

# The presets a photographer can choose: one per file source (core.sources).
PRESETS: tuple[str, ...] = FILE_SOURCES

# Google Contacts joins several values in one cell ("a@x.com ::: b@y.com"); the first is the main one.
MULTI_VALUE_SEPARATOR = " ::: "

_POSSESSIVE = re.compile(r"['\u2019]s\b", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")
# Letters that Unicode does not decompose into a base letter and an accent.
_UNACCENTED = str.maketrans({"ß": "ss", "æ": "ae", "œ": "oe", "ø": "o", "ł": "l", "đ": "d", "ð": "d", "þ": "th"})


def header_key(header: str) -> str:
    """Case-, accent-, space- and punctuation-insensitive key: "Bride's E-mail" -> "brideemail",
    "Téléphone mobile" -> "telephonemobile"."""
    text = header.lower()
    if not text.isascii():
        text = unicodedata.normalize("NFKD", text.translate(_UNACCENTED))
        text = "".join(ch for ch in text if not unicodedata.combining(ch))
    text = _POSSESSIVE.sub("", text).replace("#", " id ")
    # De-duplicated headers ("Email (2)") keep their number: "email2".
    return _NON_ALNUM.sub("", text)


# Words that name each person, and the words for each personal field. Combinations such as
# "bride" + "firstname" or "partner2" + "mobile" are generated below.
_PERSON1_PREFIXES = (
    "",
    "client",
    "contact",
    "bride",
    "partner1",
    "person1",
    "primary",
    "primarycontact",
    "client1",
    "contact1",
    "customer",
    "main",
    "p1",
    "your",
    "clientone",
    "partnerone",
    "primaryclient",
    "firstclient",
)
_PERSON2_PREFIXES = (
    "partner",
    "partner2",
    "groom",
    "person2",
    "secondary",
    "secondarycontact",
    "client2",
    "contact2",
    "spouse",
    "fiance",
    "fiancee",
    "p2",
    "other",
    "second",
    "partnertwo",
    "clienttwo",
    "secondaryclient",
    "secondclient",
)
# Within each list, earlier words win when a file has several matching columns
# (a "Mobile" column beats a "Home Phone" column).
_PERSON_FIELDS: dict[str, tuple[str, ...]] = {
    "first": ("firstname", "first", "forename", "forenames", "givenname", "fname", "christianname"),
    "last": ("lastname", "surname", "last", "familyname", "lname"),
    "name": ("fullname", "name", "names"),
    "email": ("email", "emailaddress", "mail", "emailaddr"),
    "phone": (
        "mobile", "cell", "cellphone", "mobilephone", "mobilenumber", "cellnumber", "mobileno",
        "phone", "phonenumber", "telephone", "tel", "phoneno", "primaryphone", "homephone",
        "workphone", "daytimephone",
    ),
}  # fmt: skip

_GENERIC: dict[str, tuple[str, ...]] = {
    "external_id": (
        "id", "externalid", "clientid", "contactid", "customerid", "recordid", "leadid", "uid",
        "reference", "ref", "referencenumber", "refno", "refid", "jobid", "jobreference", "jobref",
        "jobnumber", "jobno", "shootreference", "shootref", "shootnumber", "projectid",
        "bookingid", "bookingreference", "bookingref",
    ),
    "couple_name": (
        "couple", "couplename", "couplenames", "clientnames", "clients", "bridegroom",
        "brideandgroom", "brideandgroomnames", "names",
    ),
    "partner1_name": ("client", "clientname", "contact", "contactname", "customer", "customername",
                      "bride", "partner1", "person1", "fullname", "name"),
    "partner2_name": ("groom", "partner2", "person2", "partner", "partnername", "spouse", "spousename"),
    "partner2_email": ("email2", "emailaddress2", "secondemail", "secondaryemail"),
    "partner2_phone": ("phone2", "mobile2", "secondphone", "secondaryphone"),
    "wedding_date": (
        "weddingdate", "wedding", "weddingday", "dateofwedding", "eventdate", "projectdate",
        "shootdate", "ceremonydate", "jobdate", "sessiondate", "eventday", "bigday", "date",
        "eventstartdate", "startdate", "anniversary",
    ),
    "inquiry_date": (
        "dateinquired", "inquirydate", "enquirydate", "dateenquired", "inquiredon", "enquiredon",
        "inquiryreceived", "enquiryreceived", "leaddate", "datereceived", "firstcontact",
        "firstcontacted", "datecreated", "createddate", "created", "createdat", "createdon",
        "dateadded", "added",
    ),
    "booking_date": (
        "bookingdate", "datebooked", "bookedon", "bookeddate", "confirmeddate", "dateconfirmed",
        "confirmedon", "contractdate", "contractsigned", "datesigned", "signeddate",
        "retainerpaiddate", "conversiondate",
    ),
    "venue": (
        "venue", "weddingvenue", "venuename", "eventvenue", "ceremonyvenue", "receptionvenue",
        "location", "eventlocation", "projectlocation", "ceremonylocation", "venueaddress", "place",
    ),
    "status": (
        "status", "stage", "jobstatus", "jobstage", "shootstatus", "projectstatus", "projectstage",
        "pipelinestage", "pipeline", "leadstatus", "bookingstatus", "clientstatus",
    ),
    "lead_source": (
        "leadsource", "source", "referralsource", "referral", "referredby", "howdidyouhearaboutus",
        "howdidyouhear", "howdidyoufindus", "heardabout", "howheard", "channel", "marketingsource",
        "leadchannel", "sourcename", "leadsourcename",
    ),
    "notes": (
        "notes", "note", "comments", "comment", "clientnotes", "additionalnotes", "additionalinfo",
        "additionalinformation", "remarks",
    ),
}  # fmt: skip


def _ranked(table: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    ranked: dict[str, tuple[str, int]] = {}
    for target, keys in table.items():
        for rank, key in enumerate(keys):
            ranked.setdefault(header_key(key), (target, rank))
    return ranked


def _generic_table() -> dict[str, tuple[str, int]]:
    ranked = _ranked(_GENERIC)
    for person, prefixes in (("partner1", _PERSON1_PREFIXES), ("partner2", _PERSON2_PREFIXES)):
        for field, words in _PERSON_FIELDS.items():
            for rank, word in enumerate(words):
                for prefix in prefixes:
                    ranked.setdefault(prefix + word, (f"{person}_{field}", rank))
    # Then the names each source's files use (localised Outlook, Google, 17hats…), in any upload.
    for source in REGISTRY.values():
        if not source.exclusive:
            for key, found in _ranked(source.synonyms).items():
                ranked.setdefault(key, found)
    return ranked


_GENERIC_RANKED = _generic_table()
# vCard rows always have the same keys, so generic guesses would only add wrong ones
# (a card's second email is the same person's work address, not the partner's).
_EXCLUSIVE_PRESETS = frozenset(key for key, source in REGISTRY.items() if source.exclusive)
_PRESET_RANKED = {key: _ranked(source.preset) for key, source in REGISTRY.items() if source.is_file}
_SIGNATURES = [(key, sig) for key, source in REGISTRY.items() for sig in source.signatures]


def recognise(headers: list[str]) -> str | None:
    """The source whose export these headers are (a Google Contacts file uploaded as "A spreadsheet"), if any:
    the first source one of whose signatures is all there."""
    keys = {header_key(h) for h in headers}
    for key, signature in _SIGNATURES:
        if signature <= keys:
            return key
    return None


def _candidates(headers: list[str], preset: str | None) -> dict[str, list[str]]:
    """Every column each target could come from, best first: the preset's own names before generic synonyms,
    then the better synonym, then the leftmost column. Headers the preset leaves out are not candidates."""
    if preset in (None, "csv"):
        preset = recognise(headers) or preset
    preset_table = _PRESET_RANKED.get(preset or "csv", {})
    generic = {} if preset in _EXCLUSIVE_PRESETS else _GENERIC_RANKED
    found: dict[str, list[tuple[tuple[int, int, int], str]]] = {}
    for column, header in enumerate(headers):
        key = header_key(header)
        if key in preset_table:
            target, rank = preset_table[key]
            score = (0, rank, column)
        elif key in generic:
            target, rank = generic[key]
            score = (1, rank, column)
        else:
            continue
        if target:
            found.setdefault(target, []).append((score, header))
    return {target: [header for _, header in sorted(scored)] for target, scored in found.items()}


def suggest_mapping(headers: list[str], preset: str | None = None) -> dict[str, str]:
    """Suggest {source header: target field} from header names.

    Each target gets at most one column, its best candidate (_candidates). Unrecognised headers are left out, and
    so are headers the preset knows to leave out. A plain spreadsheet whose headers are a known source's export
    gets that source's preset.
    """
    chosen = {columns[0]: target for target, columns in _candidates(headers, preset).items()}
    return {header: chosen[header] for header in headers if header in chosen}


# Targets that take the next filled column when theirs is empty in a row: an Outlook contact has a mobile, a
# primary or a home phone, and a careful person types whichever there is.
FALLBACK_TARGETS = frozenset({"partner1_phone", "partner1_email", "partner2_phone", "partner2_email"})


def suggest_fallbacks(headers: list[str], columns: dict[str, str], preset: str | None = None) -> dict[str, list[str]]:
    """For each of ``columns``' targets in FALLBACK_TARGETS, the other columns that could fill it, best first
    (never a column ``columns`` already maps)."""
    wanted = {target for target in columns.values() if target in FALLBACK_TARGETS}
    fallbacks: dict[str, list[str]] = {}
    for target, candidates in _candidates(headers, preset).items():
        if target in wanted:
            spare = [header for header in candidates if header not in columns]
            if spare:
                fallbacks[target] = spare
    return fallbacks


class Mapping(msgspec.Struct, frozen=True):
    """The confirmed mapping for one import.

    `columns` maps source column -> target field (an empty target means "don't import").
    `date_order` None means "detect from the file"; `default_region` is the supplier's
    country, used for ambiguous dates and, unless the file's numbers say otherwise, for phone
    numbers without a country code. `phone_region` None means "detect from the file"
    (core.importing.phone_region); a country code is the photographer's choice.
    """

    columns: dict[str, str]
    date_order: DateOrder | None = None
    default_region: str = "GB"
    phone_region: str | None = None
    # target -> more source columns, best first, for a row whose mapped column for it is empty.
    fallbacks: dict[str, list[str]] = {}

    def __post_init__(self) -> None:
        unknown = sorted({t for t in (*self.columns.values(), *self.fallbacks) if t and t not in TARGET_FIELDS})
        if unknown:
            raise ValueError(f"unknown target field(s): {', '.join(unknown)}")
        for region in (self.default_region, self.phone_region or "GB"):
            if not (len(region) == 2 and region.isalpha()):
                raise ValueError("a region must be a two-letter country code such as 'GB'")

    def target_of(self, header: str) -> str:
        """The field a column fills, as the mapping form shows it: a fallback column shows its field too."""
        if target := self.columns.get(header):
            return target
        return next((target for target, spare in self.fallbacks.items() if header in spare), "")

    def choices(self) -> dict[str, str]:
        """{column: field} as the form shows it, fallback columns included: what ``from_choices`` reads back."""
        return {**self.columns, **{h: target for target, spare in self.fallbacks.items() for h in spare}}

    @classmethod
    def from_choices(
        cls,
        chosen: dict[str, str],
        headers: list[str],
        preset: str | None = None,
        default_region: str = "GB",
        date_order: DateOrder | None = None,
        phone_region: str | None = None,
    ) -> Mapping:
        """The mapping the photographer chose on the form ({column: field}). Several columns chosen for one of the
        FALLBACK_TARGETS mean "whichever is filled", best first (as suggested, then leftmost); the other fields
        join their columns in order ("Address 1", "Address 2")."""
        ranked = _candidates(headers, preset)
        columns: dict[str, str] = {}
        fallbacks: dict[str, list[str]] = {}
        by_target: dict[str, list[str]] = {}
        for header, target in chosen.items():
            if target in FALLBACK_TARGETS:
                by_target.setdefault(target, []).append(header)
            elif target:
                columns[header] = target
        for target, sources in by_target.items():
            order = ranked.get(target, [])
            best_first = sorted(sources, key=lambda h: order.index(h) if h in order else len(order))
            columns[best_first[0]] = target
            if len(best_first) > 1:
                fallbacks[target] = best_first[1:]
        return cls(
            columns=columns,
            date_order=date_order,
            default_region=default_region,
            phone_region=phone_region,
            fallbacks=fallbacks,
        )

    @classmethod
    def suggest(cls, headers: list[str], preset: str | None = None, default_region: str = "GB") -> Mapping:
        columns = suggest_mapping(headers, preset)
        return cls(
            columns=columns,
            default_region=default_region.upper(),
            fallbacks=suggest_fallbacks(headers, columns, preset),
        )

    def applier(self) -> Callable[[RawRow], dict[str, str]]:
        """``apply`` for a whole file: the column list is read once, and when each target has one column
        (the usual mapping) a row is one dict comprehension, with the same keys, order and values."""
        pairs = [(source, target) for source, target in self.columns.items() if target]
        if len({target for _, target in pairs}) < len(pairs):
            return self.apply
        # Decided once per file, so a file with neither costs two tests of a local a row.
        multi = tuple(target for source, target in pairs if _MULTI_VALUE_COLUMN.search(source))
        dated_bookings = any(target == "booking_date" for _, target in pairs)
        fallbacks = list(self.fallbacks.items())

        def apply(row: RawRow) -> dict[str, str]:
            values = row.values
            out = {target: value for source, target in pairs if (value := values.get(source)) and not value.isspace()}
            if fallbacks:
                _fall_back(out, values, fallbacks)
            if multi:
                _first_values(out, multi)
            if dated_bookings and "status" not in out:
                _booked_when_dated(out)
            return out

        return apply

    def apply(self, row: RawRow) -> dict[str, str]:
        """Target field -> cell text for one row; empty cells are left out.

        Several columns mapped to one target (e.g. "Address 1", "Address 2" -> venue) are
        joined with a space in column order.
        """
        values = row.values
        out: dict[str, str] = {}
        for source, target in self.columns.items():
            if not target:
                continue
            value = values.get(source)
            if not value or value.isspace():
                continue
            out[target] = f"{out[target]} {value}" if target in out else value
        if self.fallbacks:
            _fall_back(out, values, list(self.fallbacks.items()))
        multi = tuple(t for source, t in self.columns.items() if t and _MULTI_VALUE_COLUMN.search(source))
        if multi:
            _first_values(out, multi)
        if "status" not in out:
            _booked_when_dated(out)
        return out


_DIGIT = re.compile(r"\d")
# Google's columns that may hold several values: "E-mail 1 - Value", "Phone 2 - Value", "Website 1 - Value".
_MULTI_VALUE_COLUMN = re.compile(r" \d+ - Value$", re.IGNORECASE)


def _fall_back(out: dict[str, str], values: dict[str, str], fallbacks: list[tuple[str, list[str]]]) -> None:
    for target, sources in fallbacks:
        if target not in out:
            for source in sources:
                value = values.get(source)
                if value and not value.isspace():
                    out[target] = value
                    break


def _booked_when_dated(fields: dict[str, str]) -> None:
    """A row with a booking date and no status is a booked client (HoneyBook's "Booked Client" report has no status
    column); a status the file gives wins, and "TBD" is no date."""
    if "status" not in fields and (booked := fields.get("booking_date")) and _DIGIT.search(booked):
        fields["status"] = "booked"


def _first_values(fields: dict[str, str], targets: tuple[str, ...]) -> None:
    """Google's "a@x.com ::: b@y.com" cells, in place: the first value fills the field (the others are the same
    person's other addresses or numbers; notes keep every value)."""
    for target in targets:
        value = fields.get(target)
        if value and MULTI_VALUE_SEPARATOR in value:
            parts = [part.strip() for part in value.split(MULTI_VALUE_SEPARATOR) if part.strip()]
            if not parts:
                del fields[target]
            else:
                fields[target] = "; ".join(parts) if target == "notes" else parts[0]
