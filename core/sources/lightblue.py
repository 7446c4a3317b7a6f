"""Light Blue: CSV exports for imports (it has no read API) and its contact form API for sending leads."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="lightblue",
    label="Light Blue",
    upload_label="A Light Blue export",
    files_name="Light Blue exports",
    suffixes=TABLE_SUFFIXES,
    crm=True,
    synonyms={
        "partner1_first": ("contactnamefirst",),
        "partner1_last": ("contactnamelast",),
        "partner1_phone": ("contactphonemobile", "contactphonehome"),
        "partner2_first": ("partnernamefirst",),
        "partner2_last": ("partnernamelast",),
    },
    preset={
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
        "notes": ("notes", "shootnotes", "contactnotes"),
        "": ("shoottype", "jobtype"),
    },
    signatures=(frozenset({"contactnamefirst"}), frozenset({"shootreference"}), frozenset({"shootdate", "shoottype"})),
)  # fmt: skip
