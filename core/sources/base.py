"""What a source declares: one module per source (core/sources/<key>.py), gathered in core/sources/__init__.py.

Everything that lists sources (the upload form's choices, the CLI's ``--source``, labels on screen, the
integrations that remember a file's mapping, the job list's filter, the CHECKs on ``clients.source``,
``crm_integrations.provider`` and ``sync_jobs.source``) derives from these declarations or is checked
against them by a test. This package imports nothing from the import pipeline: the pipeline reads it.
"""

from __future__ import annotations

import msgspec

# Header synonyms are written as header keys (core.importing.mapping.header_key: lower-case letters and
# digits only, accents folded: "E-Mail-Adresse" -> "emailadresse") or as the header itself; both work.
Synonyms = dict[str, tuple[str, ...]]

TABLE_SUFFIXES: tuple[str, ...] = (".csv", ".tsv", ".txt", ".tab")


class Derived(msgspec.Struct, frozen=True):
    """A column added to each row from typed pairs of columns, as Google writes them:
    ``Event 1 - Type`` = "Anniversary" with ``Event 1 - Value`` = "2019-06-15". The new column ``header`` holds
    the first value whose type (accents and case ignored) is one of ``types``."""

    header: str
    kind: str  # the pair's first word: "Event" for "Event 1 - Type" / "Event 1 - Value"
    types: frozenset[str]


class Grouping(msgspec.Struct, frozen=True):
    """Reports with one row per person in a project (HoneyBook's "Booked Client"): two rows in a row with the same
    ``keys`` (header keys, the first non-empty) are one couple, the second row's ``person`` columns becoming the
    ``partner`` columns added to the file. A third person in the same project stays a client of their own."""

    keys: tuple[str, ...]
    person: tuple[str, ...]  # header keys: first name, last name, email
    partner: tuple[str, ...]  # headers added for the second person, in the same order


class Source(msgspec.Struct, frozen=True):
    """One place clients come from.

    ``synonyms`` are header names this source's files use, recognised in any upload (a German Outlook file
    chosen as "A spreadsheet" still maps ``Vorname``); ``preset`` names win over every synonym when this
    source is chosen or recognised, and may map a header to ``""`` (known, never imported: Outlook's
    ``Location`` is an office, not a venue). ``signatures``: sets of header keys that, all present, say a
    file is this source's export. ``upload_label`` is None for sources that are not files.
    """

    key: str
    label: str  # how the source reads on screen: "HoneyBook"
    upload_label: str | None = None  # the upload form's choice: "A HoneyBook export"
    files_name: str | None = None  # the integration that remembers mappings of these files: "HoneyBook exports"
    suffixes: tuple[str, ...] = ()
    file_format: str = "table"  # "table" (CSV/TSV) or "vcard"
    synonyms: Synonyms = {}
    preset: Synonyms = {}
    exclusive: bool = False  # only the preset's names apply (vCard rows always have the same keys)
    signatures: tuple[frozenset[str], ...] = ()
    derived: tuple[Derived, ...] = ()
    grouping: Grouping | None = None
    crm: bool = False  # has a CRM integration with an API (Tave, Light Blue)

    @property
    def is_file(self) -> bool:
        return self.upload_label is not None
