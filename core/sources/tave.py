"""Tave (VSCO Workspace): the REST API v2 (core.providers.tave) and its CSV exports of jobs and contacts
(``Job ID``, ``Job Type``, ``Job Stage``, ``Event Date``, ``Client 1 First Name``, ``Client 2 Email`` …)."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="tave",
    label="Tave",
    upload_label="A Tave (VSCO Workspace) export",
    files_name="Tave exports",
    suffixes=TABLE_SUFFIXES,
    crm=True,
    synonyms={"partner1_phone": ("cellphone",)},
    preset={
        "external_id": ("jobid", "id", "jobnumber"),
        "wedding_date": ("eventdate", "jobdate", "weddingdate", "anniversary"),
        "booking_date": ("bookingdate", "bookedon", "datebooked"),
        "inquiry_date": ("inquirydate", "inquiredon", "dateinquired", "createdat"),
        "status": ("jobstage", "stage", "jobstatus", "status"),
        "lead_source": ("leadsource", "leadsourcename", "source"),
        "venue": ("venue", "venuename", "eventlocation", "location"),
        "": ("jobtype", "jobtypename", "brand", "guestcount"),
    },
    signatures=(frozenset({"jobid", "jobtype", "jobstage"}), frozenset({"jobtypename"})),
)
