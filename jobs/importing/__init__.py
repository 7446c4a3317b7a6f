"""The pure front half of the import pipeline: files and raw records in, client records
and row errors out. No database, no network."""

from __future__ import annotations

from jobs.importing.dates import DateOrderDecision, DateOrderDetector
from jobs.importing.mapping import PRESETS, Mapping, suggest_mapping
from jobs.importing.normalise import NormaliseContext
from jobs.importing.pipeline import PreparedImport, iter_records, prepare
from jobs.importing.readers import TableReader, open_table
from jobs.importing.records import (
    TARGET_FIELDS,
    ClientRecord,
    ImportFileError,
    RawRow,
    RowError,
)
from jobs.importing.validate import build_record
from jobs.importing.vcard import VCARD_KEYS, read_vcards

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
