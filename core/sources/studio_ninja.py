"""Studio Ninja exports (clients and jobs: ``Client First Name``, ``Job Date``, ``Job Status``, ``Enquiry Date``)."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="studio_ninja",
    label="Studio Ninja",
    upload_label="A Studio Ninja export",
    files_name="Studio Ninja exports",
    suffixes=TABLE_SUFFIXES,
    synonyms={
        "partner2_first": ("secondclientfirstname", "client2firstname"),
        "partner2_last": ("secondclientlastname", "client2lastname"),
    },
    preset={
        "wedding_date": ("jobdate", "eventdate", "shootdate", "weddingdate"),
        "status": ("jobstatus", "jobstage", "status", "stage"),
        "inquiry_date": ("enquirydate", "dateenquired", "datecreated", "createddate"),
        "booking_date": ("bookeddate", "datebooked", "bookingdate"),
        "venue": ("jobvenue", "venue", "joblocation", "location"),
        "external_id": ("jobid", "jobnumber", "id"),
        "": ("jobname", "jobtype", "jobworkflow", "company"),
    },
    signatures=(frozenset({"jobname", "jobtype", "clientfirstname"}), frozenset({"jobworkflow"})),
)
