"""Every source of clients, one module each, in the order the upload form offers them.

Adding a source is a module here (its key, label, header synonyms, file suffixes and preset) and a migration that
adds its key to the CHECKs (tests/test_sources_registry.py holds the two together).
"""

from __future__ import annotations

from core.sources import (
    csv,
    dubsado,
    google,
    honeybook,
    lightblue,
    manual,
    outlook,
    pixieset,
    seventeen_hats,
    studio_ninja,
    tave,
    vcard,
)
from core.sources.base import Derived, Grouping, Source

REGISTRY: dict[str, Source] = {
    s.key: s
    for s in (
        csv.SOURCE,
        honeybook.SOURCE,
        lightblue.SOURCE,
        tave.SOURCE,
        dubsado.SOURCE,
        seventeen_hats.SOURCE,
        studio_ninja.SOURCE,
        pixieset.SOURCE,
        google.SOURCE,
        outlook.SOURCE,
        vcard.SOURCE,
        manual.SOURCE,
    )
}

# Every key a client's ``source`` may hold.
SOURCE_KEYS: tuple[str, ...] = tuple(REGISTRY)
# Sources a photographer can upload a file of: the upload form's choices, the CLI's --source, the presets.
FILE_SOURCES: tuple[str, ...] = tuple(k for k, s in REGISTRY.items() if s.is_file)
# Sources that have jobs (file imports, CRM syncs): the job list's filter, crm_integrations.provider.
JOB_SOURCES: tuple[str, ...] = tuple(k for k, s in REGISTRY.items() if s.is_file or s.crm)
SOURCE_LABELS: dict[str, str] = {k: s.label for k, s in REGISTRY.items()}
UPLOAD_LABELS: dict[str, str] = {k: s.upload_label for k, s in REGISTRY.items() if s.upload_label}
FILES_NAMES: dict[str, str] = {k: s.files_name or s.label for k, s in REGISTRY.items() if s.is_file}
VCARD_SUFFIXES: tuple[str, ...] = tuple(
    suffix for s in REGISTRY.values() if s.file_format == "vcard" for suffix in s.suffixes
)
DERIVED: tuple[Derived, ...] = tuple(d for s in REGISTRY.values() for d in s.derived)
GROUPINGS: tuple[Grouping, ...] = tuple(s.grouping for s in REGISTRY.values() if s.grouping is not None)


def file_format(filename: str, source: str | None) -> str:
    """ "vcard" when the source or the file's suffix says so, else "table"."""
    chosen = REGISTRY.get(source or "")
    if chosen is not None and chosen.file_format == "vcard":
        return "vcard"
    return "vcard" if filename.lower().endswith(VCARD_SUFFIXES) else "table"


__all__ = [
    "DERIVED",
    "FILES_NAMES",
    "FILE_SOURCES",
    "GROUPINGS",
    "JOB_SOURCES",
    "REGISTRY",
    "SOURCE_KEYS",
    "SOURCE_LABELS",
    "UPLOAD_LABELS",
    "VCARD_SUFFIXES",
    "Derived",
    "Grouping",
    "Source",
    "file_format",
]
