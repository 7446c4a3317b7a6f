from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

import httpx
import pytest

from core.providers import ProviderError, RetryingHttp, RetryPolicy
from core.providers.http import parse_retry_after
from jobs.sandbox import SandboxConfig, running_sandbox

KEY = "sandbox-key"


@pytest.fixture
def sandbox() -> Iterator[str]:
    with running_sandbox(SandboxConfig(size=30)) as url:
        yield url


class Recorder:
    def __init__(self) -> None:
        self.sleeps: list[float] = []
        self.waits: list[tuple[str, float]] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)

    def on_wait(self, reason: str, seconds: float) -> None:
        self.waits.append((reason, seconds))


def _faults(url: str, **faults: Any) -> None:
    httpx.post(f"{url}/_sandbox/faults", json=faults).raise_for_status()


def _job_stats(url: str) -> dict[str, int]:
    stats: dict[str, int] = httpx.get(f"{url}/_sandbox/stats").json()["endpoints"].get("GET /v2/job", {})
    return stats


_VIA = {"path": "client"}


@pytest.fixture(autouse=True, params=["client", "transport"])
def _send_path(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every case both ways: through httpx.Client.request, and straight to the transport the client was built
    with (how RetryingHttp sends when given one, as the worker's paced Tave transport is)."""
    _VIA["path"] = request.param
    yield
    _VIA["path"] = "client"


def _http(url: str, rec: Recorder, timeout: float = 5.0, **policy: Any) -> RetryingHttp:
    transport = httpx.HTTPTransport() if _VIA["path"] == "transport" else None
    client = httpx.Client(base_url=f"{url}/v2/", headers={"X-API-KEY": KEY}, timeout=timeout, transport=transport)
    return RetryingHttp(
        client, provider="Tave", policy=RetryPolicy(**policy), sleep=rec.sleep, on_wait=rec.on_wait, transport=transport
    )


def test_retry_after_seconds_is_honoured(sandbox: str) -> None:
    _faults(sandbox, rate_limit_next=2, retry_after="7")
    rec = Recorder()
    response = _http(sandbox, rec).request("GET", "job", what="page 1 of your jobs")
    assert response.status_code == 200
    assert rec.sleeps == [7.0, 7.0]
    assert rec.waits[0] == ("waiting 7 s — Tave asked us to slow down", 7.0)
    assert _job_stats(sandbox) == {"429": 2, "200": 1}


def test_retry_after_http_date_is_honoured(sandbox: str) -> None:
    when = datetime.now(UTC) + timedelta(seconds=30)
    _faults(sandbox, rate_limit_next=1, retry_after=format_datetime(when, usegmt=True))
    rec = Recorder()
    _http(sandbox, rec).request("GET", "job", what="page 1 of your jobs")
    assert len(rec.sleeps) == 1
    assert 25 <= rec.sleeps[0] <= 30


def test_retry_after_beyond_cap_gives_up_for_later(sandbox: str) -> None:
    _faults(sandbox, rate_limit_next=1, retry_after="3600")
    rec = Recorder()
    with pytest.raises(ProviderError) as err:
        _http(sandbox, rec, max_retry_after=120).request("GET", "job", what="page 1 of your jobs")
    assert err.value.kind == "rate_limited"
    assert err.value.retry_after == 3600
    assert err.value.message == "Tave kept asking us to slow down; we'll try again later."
    assert rec.sleeps == []


def test_server_errors_are_retried_with_backoff_then_succeed(sandbox: str) -> None:
    _faults(sandbox, error_next=2, error_status=503)
    rec = Recorder()
    response = _http(sandbox, rec, base_delay=1.0, jitter=0.25).request("GET", "job", what="page 12 of your jobs")
    assert response.status_code == 200
    assert _job_stats(sandbox) == {"503": 2, "200": 1}
    assert [r for r, _ in rec.waits] == [
        "retrying page 12 of your jobs after a server error (2 of 5)",
        "retrying page 12 of your jobs after a server error (3 of 5)",
    ]
    # Exponential with jitter: first wait in [0.75, 1], second in [1.5, 2].
    assert 0.75 <= rec.sleeps[0] <= 1.0
    assert 1.5 <= rec.sleeps[1] <= 2.0


def test_persistent_server_errors_end_in_plain_words(sandbox: str) -> None:
    _faults(sandbox, error_next=100, error_status=503)
    rec = Recorder()
    with pytest.raises(ProviderError) as err:
        _http(sandbox, rec, max_attempts=5).request("GET", "job", what="page 1 of your jobs")
    assert err.value.kind == "server"
    assert err.value.message == "Tave's server had a problem (HTTP 503) 5 times in a row."
    assert KEY not in str(err.value)
    assert KEY not in repr(err.value)
    assert _job_stats(sandbox) == {"503": 5}
    assert len(rec.sleeps) == 4


def test_backoff_is_capped(sandbox: str) -> None:
    _faults(sandbox, error_next=6, error_status=500)
    rec = Recorder()
    _http(sandbox, rec, max_attempts=10, base_delay=1.0, max_delay=4.0, jitter=0.0).request(
        "GET", "job", what="page 1 of your jobs"
    )
    assert rec.sleeps == [1.0, 2.0, 4.0, 4.0, 4.0, 4.0]


def test_timeouts_are_retried(sandbox: str) -> None:
    _faults(sandbox, timeout_next=1, timeout_seconds=1.5)
    rec = Recorder()
    response = _http(sandbox, rec, timeout=0.3).request("GET", "job", what="page 3 of your jobs")
    assert response.status_code == 200
    assert rec.waits[0][0] == "retrying page 3 of your jobs after Tave didn't answer in time (2 of 5)"


def test_unreachable_server_is_reported_plainly() -> None:
    rec = Recorder()
    with pytest.raises(ProviderError) as err:
        _http("http://127.0.0.1:9", rec, max_attempts=3).request("GET", "job", what="page 1 of your jobs")
    assert err.value.kind == "unreachable"
    assert "couldn't reach Tave" in err.value.message
    assert len(rec.sleeps) == 2


def test_bad_key_is_not_retried(sandbox: str) -> None:
    rec = Recorder()
    client = httpx.Client(base_url=f"{sandbox}/v2/", headers={"X-API-KEY": "secret-wrong-key"})
    with pytest.raises(ProviderError) as err:
        RetryingHttp(client, provider="Tave", sleep=rec.sleep).request("GET", "job", what="a test request")
    assert err.value.kind == "auth"
    assert rec.sleeps == []
    assert "secret-wrong-key" not in str(err.value)


def test_parse_retry_after() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    assert parse_retry_after("40") == 40.0
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:10 GMT", now) == 10.0
    assert parse_retry_after("Wed, 31 Dec 2025 23:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None
