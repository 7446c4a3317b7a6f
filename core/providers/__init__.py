"""Clients for the CRMs we import from (Tave / VSCO Workspace) and export to (Light Blue)."""

from __future__ import annotations

from core.providers.errors import ProviderError, ProviderErrorKind
from core.providers.http import RetryingHttp, RetryPolicy

__all__ = ["ProviderError", "ProviderErrorKind", "RetryPolicy", "RetryingHttp"]
