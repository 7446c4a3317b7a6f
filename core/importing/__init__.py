"""The pure front half of the import pipeline: files and raw records in, client records
and row errors out. No database, no network."""

from __future__ import annotations

from core.importing.dates import DateOrderDecision, DateOrderDetector
from core.importing.mapping import PRESETS, Mapping, suggest_mapping
from core.importing.normalise import NormaliseContext
from core.importing.pipeline import PreparedImport, iter_records, prepare
from core.importing.readers import TableReader, open_table
from core.importing.records import (
    TARGET_FIELDS,
    ClientRecord,
    ImportFileError,
    RawRow,
    RowError,
)
from core.importing.validate import build_record
from core.importing.vcard import VCARD_KEYS, read_vcards

__all__ = [
    "PRESETS",
    "TARGET_FIELDS",
    "VCARD_KEYS",
    "ClientRecord",
    "DateOrderDecision",
    "DateOrderDetector",
    "ImportFileError",
    "Mapping",
    "NormaliseContext",
    "PreparedImport",
    "RawRow",
    "RowError",
    "TableReader",
    "build_record",
    "iter_records",
    "open_table",
    "prepare",
    "read_vcards",
    "suggest_mapping",
]
