from __future__ import annotations

from typing import Literal

import msgspec

MalformedKind = Literal["invalid_json", "missing_fields"]


class FaultConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    """Misbehaviour to inject. Posted as JSON to ``/_sandbox/faults`` (replacing the previous set).

    ``*_next`` counters are consumed by the next matching requests; ``paths`` limits faults to
    request paths starting with one of the given prefixes (default: every API path).
    """

    latency_ms: int = 0
    rate_limit_every: int = 0
    rate_limit_next: int = 0
    # Sent verbatim: a number of seconds or an HTTP-date, exactly as a real server may.
    retry_after: str = "1"
    error_next: int = 0
    error_status: int = 503
    error_probability: float = 0.0
    # The request is processed, then the response is held back this long: the "lost answer"
    # case, which is what makes retried writes dangerous.
    timeout_next: int = 0
    timeout_seconds: float = 5.0
    malformed_page: int = 0
    malformed_kind: MalformedKind = "invalid_json"
    malformed_path: str = "/v2/job"
    # After each page of /v2/job is served, this many new jobs appear at the head of the list.
    shift_insert_per_page: int = 0
    shift_max_inserts: int = 1000
    paths: list[str] | None = None


class SandboxConfig(msgspec.Struct, frozen=True, forbid_unknown_fields=True):
    seed: int = 1
    size: int = 1000
    api_key: str = "sandbox-key"
    lightblue_key: str = "sandbox-key"
    # The synthetic world's "today": fixed so the same seed gives the same data on any day.
    reference_date: str = "2026-06-01"
    # Touched records are stamped in groups sharing one modified timestamp, like edits landing
    # within the same second, which is what breaks naive exclusive cursors.
    touch_share: int = 3
    faults: FaultConfig = FaultConfig()

    def __post_init__(self) -> None:
        if not 10 <= self.size <= 1_000_000:
            raise ValueError("size must be between 10 and 1,000,000 clients")
        if self.touch_share < 1:
            raise ValueError("touch_share must be at least 1")
