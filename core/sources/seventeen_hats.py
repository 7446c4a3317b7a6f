"""17hats exports (field names as its Zapier integration shows them: ``Primary E-mail Address``,
``Primary Phone Number``, ``Referred By``)."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="seventeen_hats",
    label="17hats",
    upload_label="A 17hats export",
    files_name="17hats exports",
    suffixes=TABLE_SUFFIXES,
    synonyms={
        "partner1_email": ("primaryemailaddress", "primaryemail"),
        "partner1_phone": ("primaryphonenumber", "primaryphone"),
        "lead_source": ("referredby",),
    },
    preset={
        "partner1_email": ("primaryemailaddress", "primaryemail", "email"),
        "partner1_phone": ("primaryphonenumber", "primaryphone", "mobilephone", "phone"),
        "lead_source": ("referredby", "leadsource", "source"),
        "wedding_date": ("projectdate", "eventdate", "startdate"),
        "status": ("projectstatus", "status"),
        # A contact type says lead, client or vendor: not where a couple is in the pipeline.
        "": ("company", "contacttype", "secondaryemailaddress", "secondaryphonenumber"),
    },
    signatures=(frozenset({"primaryemailaddress"}), frozenset({"primaryphonenumber", "referredby"})),
)
