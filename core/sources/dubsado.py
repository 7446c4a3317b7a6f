"""Dubsado exports: leads (``First Name, Last Name, Email Address, Service, Date Submitted`` with dates as
``M/D/YYYY H:MM:SS``) and clients, each with one alternate contact (the partner)."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="dubsado",
    label="Dubsado",
    upload_label="A Dubsado export",
    files_name="Dubsado exports",
    suffixes=TABLE_SUFFIXES,
    synonyms={
        "inquiry_date": ("datesubmitted", "submitted", "submittedon"),
        "partner2_first": ("alternatecontactfirstname",),
        "partner2_last": ("alternatecontactlastname",),
        "partner2_name": ("alternatecontact", "alternatecontactname"),
        "partner2_email": ("alternatecontactemail", "alternatecontactemailaddress"),
        "partner2_phone": ("alternatecontactphone", "alternatecontactphonenumber"),
    },
    preset={
        "partner1_email": ("emailaddress", "email"),
        "inquiry_date": ("datesubmitted", "datecreated"),
        "wedding_date": ("projectdate", "projectstartdate", "eventdate", "startdate", "weddingdate"),
        "": ("service",),
    },
    signatures=(frozenset({"emailaddress", "datesubmitted"}), frozenset({"alternatecontactfirstname"})),
)
