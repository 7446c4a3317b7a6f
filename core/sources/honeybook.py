"""HoneyBook exports: contacts, projects, the leads report (``Jun 30, 2025``, ``TBD``), the "Booked Client" report
(one row per person in a project; ``2025-01-18 13:38:59 UTC``) and payment reports (``CLIENT_INFO``). Also the
contacts HoneyBook posts to our webhook through Zapier."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Grouping, Source

PARTNER_HEADERS = ("Partner First Name", "Partner Last Name", "Partner Email")

SOURCE = Source(
    key="honeybook",
    label="HoneyBook",
    upload_label="A HoneyBook export",
    files_name="HoneyBook exports",
    suffixes=TABLE_SUFFIXES,
    synonyms={
        "booking_date": ("bookeddate",),
        "inquiry_date": ("projectcreationdate",),
        "lead_source": ("projectsource",),
    },
    preset={
        # HoneyBook reports can pack a client as "Alex Smith (alex@example.com)".
        "name_with_email": ("client", "clients", "clientname", "contact", "contacts", "primarycontact",
                            "participants", "clientinfo"),
        "partner1_email": ("email", "clientemail", "emailaddress"),
        "partner1_phone": ("phone", "clientphone", "phonenumber"),
        "wedding_date": ("projectdate", "eventdate"),
        "inquiry_date": ("dateinquired", "inquirydate", "projectcreationdate", "createddate"),
        "booking_date": ("bookingdate", "datebooked", "bookeddate"),
        "lead_source": ("leadsource", "source", "projectsource"),
        "status": ("projectstage", "stage", "pipelinestage", "projectstatus", "status"),
        "venue": ("projectlocation", "location", "venue"),
        "external_id": ("projectid", "projectnumber"),
        "": ("projectname", "projecttype", "totalbookedvalue", "totalpaid", "transactiondate"),
    },
    # The Booked Client report: one row per person in a project, the couple's two rows one after the other.
    grouping=Grouping(
        keys=("projectname", "projectdate", "projectcreationdate"),
        person=("firstname", "lastname", "email"),
        partner=PARTNER_HEADERS,
    ),
    signatures=(
        frozenset({"projectname", "projectdate", "bookeddate", "totalbookedvalue"}),
        frozenset({"projectname", "projectcreationdate"}),
        frozenset({"clientinfo", "transactiondate"}),
        frozenset({"projectname", "dateinquired"}),
    ),
)  # fmt: skip
