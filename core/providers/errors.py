from __future__ import annotations

from typing import Literal

ProviderErrorKind = Literal[
    "auth",  # the key was refused: the supplier must fix it; retrying will not help
    "rate_limited",  # the CRM kept asking us to slow down; try the job again later
    "server",  # the CRM kept failing (5xx)
    "timeout",  # the CRM kept not answering in time
    "unreachable",  # could not connect at all
    "malformed",  # the CRM answered with something we could not read
    "rejected",  # the CRM refused this request (4xx, or a Light Blue error code)
]


class ProviderError(Exception):
    """A CRM call that failed for good. ``message`` is written for the supplier to read.

    Never carries the API key, request headers or bodies: messages end up in progress events
    and logs.
    """

    def __init__(
        self,
        kind: ProviderErrorKind,
        message: str,
        *,
        status: int | None = None,
        page: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(message)
        self.kind: ProviderErrorKind = kind
        self.message = message
        self.status = status
        self.page = page
        self.retry_after = retry_after

    def __repr__(self) -> str:
        return f"ProviderError(kind={self.kind!r}, message={self.message!r})"
