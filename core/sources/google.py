"""Google Contacts CSV ("Google CSV" and the newer export): ``Given Name`` / ``First Name``, ``E-mail 1 - Value``,
``Phone 1 - Value``, ``Event 1 - Type`` + ``Event 1 - Value``, ``Relation 1 - Type`` + ``Relation 1 - Value``,
``Notes``. A cell holding several values joins them with `` ::: `` (core.importing.mapping keeps the first)."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Derived, Source

# Event types that mean the wedding date, in the languages Google Contacts writes them.
WEDDING_EVENTS = frozenset({
    "anniversary", "wedding", "weddingday", "weddinganniversary", "jahrestag", "hochzeitstag", "hochzeit",
    "anniversairedemariage", "mariage", "aniversario", "aniversariodeboda", "boda", "anniversario",
    "anniversariodimatrimonio", "matrimonio", "trouwdag", "huwelijksdag", "jubileum",
})  # fmt: skip
SPOUSE_RELATIONS = frozenset({
    "spouse", "partner", "husband", "wife", "fiance", "fiancee", "domesticpartner", "ehepartner", "ehemann",
    "ehefrau", "verlobter", "verlobte", "conjoint", "conjointe", "epoux", "epouse", "conyuge", "esposo", "esposa",
    "pareja", "coniuge", "marito", "moglie", "echtgenoot", "echtgenote",
})  # fmt: skip
WEDDING_EVENT_HEADER = "Wedding date (from the events)"
SPOUSE_HEADER = "Partner (from the relations)"

SOURCE = Source(
    key="google",
    label="Google Contacts",
    upload_label="A Google Contacts export (CSV)",
    files_name="Google Contacts exports",
    suffixes=TABLE_SUFFIXES,
    synonyms={
        "partner1_email": ("email1value", "email1address"),
        "partner1_phone": ("phone1value",),
        "wedding_date": (WEDDING_EVENT_HEADER,),
        "partner2_name": (SPOUSE_HEADER,),
    },
    preset={
        "partner1_name": ("name",),
        "partner1_first": ("givenname", "firstname"),
        "partner1_last": ("familyname", "lastname"),
        "partner1_email": ("email1value",),
        "partner1_phone": ("phone1value",),
        "wedding_date": (WEDDING_EVENT_HEADER,),
        "partner2_name": (SPOUSE_HEADER,),
        "notes": ("notes",),
        # A contact's own place and its other addresses and numbers are not the couple's wedding or partner.
        "": ("location", "email2value", "phone2value", "event1value", "groupmembership", "labels", "birthday"),
    },
    signatures=(frozenset({"email1value"}), frozenset({"phone1value"}), frozenset({"givenname", "familyname"})),
    derived=(
        Derived(header=WEDDING_EVENT_HEADER, kind="Event", types=WEDDING_EVENTS),
        Derived(header=SPOUSE_HEADER, kind="Relation", types=SPOUSE_RELATIONS),
    ),
)
