"""Any spreadsheet: the generic synonyms in core.importing.mapping, plus every other source's."""

from __future__ import annotations

from core.sources.base import TABLE_SUFFIXES, Source

SOURCE = Source(
    key="csv",
    label="Spreadsheet",
    upload_label="A spreadsheet (CSV or tab-separated)",
    files_name="Spreadsheet uploads",
    suffixes=TABLE_SUFFIXES,
)
