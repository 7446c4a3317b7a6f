"""Phone contacts (.vcf): iCloud, Android, Outlook and Thunderbird vCards, read by core.importing.vcard."""

from __future__ import annotations

from core.sources.base import Source

SOURCE = Source(
    key="vcard",
    label="Phone contacts",
    upload_label="Phone contacts (.vcf)",
    files_name="Phone contacts",
    suffixes=(".vcf", ".vcard"),
    file_format="vcard",
    exclusive=True,
    preset={
        "external_id": ("uid",),
        "partner1_first": ("firstname",),
        "partner1_last": ("lastname",),
        # FN is often "Alex & Sam Smith" in a phone's contacts; couple parsing handles both.
        "couple_name": ("fullname",),
        "partner1_email": ("email",),
        "partner1_phone": ("phone",),
        "wedding_date": ("anniversary",),
        "notes": ("note", "notes"),
    },
)
