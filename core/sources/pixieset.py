"""Pixieset Studio Manager exports (contacts: ``First Name``, ``Last Name``, ``Email``, ``Phone``, ``Created At``;
projects: ``Project Name``, ``Project Date``, ``Client``, ``Status``, ``Lead Source``)."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="pixieset",
    label="Pixieset",
    upload_label="A Pixieset Studio Manager export",
    files_name="Pixieset exports",
    suffixes=TABLE_SUFFIXES,
    preset={
        "partner1_name": ("client", "clientname", "contact", "contactname", "name", "fullname"),
        "wedding_date": ("projectdate", "eventdate", "shootdate", "sessiondate", "weddingdate"),
        "inquiry_date": ("createdat", "datecreated", "createddate", "inquirydate"),
        "booking_date": ("bookedat", "bookeddate", "bookingdate", "datebooked"),
        "status": ("projectstatus", "status", "stage", "pipelinestage"),
        "venue": ("projectlocation", "location", "venue"),
        "external_id": ("projectid", "contactid", "clientid", "id"),
        "": ("projectname", "projecttype", "tags", "company"),
    },
    signatures=(frozenset({"projectname", "projectdate", "client", "leadsource"}),),
)
