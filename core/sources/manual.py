"""Clients added by hand in WedSync (the client form, an offline lead): a source of clients, not of files."""

from __future__ import annotations

from core.sources.base import Source

SOURCE = Source(key="manual", label="Added by hand")
