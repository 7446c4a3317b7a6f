"""Which source column fills which client field: suggestions from header names, and the
Mapping the photographer confirms."""

from __future__ import annotations

import re
from collections.abc import Callable

import msgspec

from core.importing.dates import DateOrder
from core.importing.records import TARGET_FIELDS, RawRow

PRESETS: tuple[str, ...] = ("csv", "honeybook", "lightblue", "vcard")

_POSSESSIVE = re.compile(r"['\u2019]s\b", re.IGNORECASE)
_NON_ALNUM = re.compile(r"[^a-z0-9]+")


def header_key(header: str) -> str:
    """Case-, space- and punctuation-insensitive key: "Bride's E-mail" -> "brideemail"."""
    text = _POSSESSIVE.sub("", header.lower()).replace("#", " id ")
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
}  # fmt: skip

_PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "honeybook": {
        # HoneyBook reports can pack a client as "Alex Smith (alex@example.com)".
        "name_with_email": ("client", "clients", "clientname", "contact", "contacts", "primarycontact",
                            "participants", "clientinfo"),
        "wedding_date": ("projectdate", "eventdate"),
        "inquiry_date": ("dateinquired", "inquirydate"),
        "booking_date": ("bookingdate", "datebooked"),
        "lead_source": ("leadsource", "source"),
        "status": ("projectstage", "stage", "pipelinestage", "projectstatus", "status"),
        "venue": ("projectlocation", "location", "venue"),
        "external_id": ("projectid", "projectnumber"),
    },
    "lightblue": {
        # Light Blue's CSV exports and its contact form API field names (ContactNameFirst...).
        "partner1_first": ("clientfirstname", "contactfirstname", "contactnamefirst", "firstname"),
        "partner1_last": ("clientsurname", "clientlastname", "contactsurname", "contactlastname",
                          "contactnamelast", "surname", "lastname"),
        "partner1_email": ("clientemail", "contactemail", "email", "emailaddress"),
        "partner1_phone": ("clientmobile", "contactmobile", "contactphonemobile", "mobile",
                           "contactphonehome", "clientphone", "phone"),
        "partner2_first": ("partnerfirstname", "partnernamefirst", "partner2firstname"),
        "partner2_last": ("partnersurname", "partnerlastname", "partnernamelast", "partner2surname"),
        "partner2_email": ("partneremail", "partner2email"),
        "partner2_phone": ("partnermobile", "partnerphone", "partner2mobile"),
        "wedding_date": ("weddingdate", "shootdate", "date", "eventdate"),
        "venue": ("venue", "shootvenue", "location", "shootlocation"),
        "status": ("status", "shootstatus", "jobstatus"),
        "external_id": ("jobreference", "shootreference", "reference", "referencenumber", "jobref", "id"),
        "inquiry_date": ("enquirydate", "dateenquired", "enquiryreceived"),
        "booking_date": ("bookeddate", "datebooked", "confirmeddate", "dateconfirmed", "bookingdate"),
        "lead_source": ("source", "leadsource", "enquirysource", "howdidyouhear", "referredby"),
    },
    "vcard": {
        "external_id": ("uid",),
        "partner1_first": ("firstname",),
        "partner1_last": ("lastname",),
        # FN is often "Alex & Sam Smith" in a phone's contacts; couple parsing handles both.
        "couple_name": ("fullname",),
        "partner1_email": ("email",),
        "partner1_phone": ("phone",),
        "wedding_date": ("anniversary",),
    },
    "csv": {},
}  # fmt: skip


def _ranked(table: dict[str, tuple[str, ...]]) -> dict[str, tuple[str, int]]:
    ranked: dict[str, tuple[str, int]] = {}
    for target, keys in table.items():
        for rank, key in enumerate(keys):
            ranked.setdefault(key, (target, rank))
    return ranked


def _generic_table() -> dict[str, tuple[str, int]]:
    ranked = _ranked(_GENERIC)
    for person, prefixes in (("partner1", _PERSON1_PREFIXES), ("partner2", _PERSON2_PREFIXES)):
        for field, words in _PERSON_FIELDS.items():
            for rank, word in enumerate(words):
                for prefix in prefixes:
                    ranked.setdefault(prefix + word, (f"{person}_{field}", rank))
    return ranked


_GENERIC_RANKED = _generic_table()
# vCard rows always have the same keys, so generic guesses would only add wrong ones
# (a card's second email is the same person's work address, not the partner's).
_EXCLUSIVE_PRESETS = frozenset({"vcard"})
_PRESET_RANKED = {name: _ranked(table) for name, table in _PRESETS.items()}


def suggest_mapping(headers: list[str], preset: str | None = None) -> dict[str, str]:
    """Suggest {source header: target field} from header names.

    Each target gets at most one column: the preset's own names win over generic synonyms,
    then the better synonym, then the leftmost column. Unrecognised headers are left out.
    """
    preset_table = _PRESET_RANKED.get(preset or "csv", {})
    generic = {} if preset in _EXCLUSIVE_PRESETS else _GENERIC_RANKED
    best: dict[str, tuple[tuple[int, int, int], str]] = {}
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
        if target not in best or score < best[target][0]:
            best[target] = (score, header)
    chosen = {header: target for target, (_, header) in best.items()}
    return {header: chosen[header] for header in headers if header in chosen}


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

    def __post_init__(self) -> None:
        unknown = sorted({t for t in self.columns.values() if t and t not in TARGET_FIELDS})
        if unknown:
            raise ValueError(f"unknown target field(s): {', '.join(unknown)}")
        for region in (self.default_region, self.phone_region or "GB"):
            if not (len(region) == 2 and region.isalpha()):
                raise ValueError("a region must be a two-letter country code such as 'GB'")

    @classmethod
    def suggest(cls, headers: list[str], preset: str | None = None, default_region: str = "GB") -> Mapping:
        return cls(columns=suggest_mapping(headers, preset), default_region=default_region.upper())

    def applier(self) -> Callable[[RawRow], dict[str, str]]:
        """``apply`` for a whole file: the column list is read once, and when each target has one column
        (the usual mapping) a row is one dict comprehension, with the same keys, order and values."""
        pairs = [(source, target) for source, target in self.columns.items() if target]
        if len({target for _, target in pairs}) < len(pairs):
            return self.apply

        def apply(row: RawRow) -> dict[str, str]:
            values = row.values
            return {target: value for source, target in pairs if (value := values.get(source)) and not value.isspace()}

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
        return out
