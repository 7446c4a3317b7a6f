from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from core.providers import ProviderError, RetryPolicy
from core.providers.lightblue import LightBlueClient, LightBlueLead
from jobs.sandbox import SandboxConfig, running_sandbox

LEAD = LightBlueLead(
    client_id="c-42",
    first_name="Niamh",
    last_name="Byrne",
    email="niamh@example.com",
    mobile_phone="07700 900123",
    wedding_date="2027-05-01",
    message="Met at the fair",
)


@pytest.fixture
def sandbox() -> Iterator[str]:
    with running_sandbox(SandboxConfig(size=10, lightblue_key="lb-secret")) as url:
        yield url


def _contacts(url: str) -> list[dict[str, str]]:
    contacts: list[dict[str, str]] = httpx.get(f"{url}/_sandbox/lightblue/contacts").json()["contacts"]
    return contacts


def test_post_lead_creates_one_inbox_entry(sandbox: str) -> None:
    with LightBlueClient(f"{sandbox}/api.php", "lb-secret", allow_local=True) as client:
        assert client.post_lead(LEAD).outcome == "created"
        again = client.post_lead(LEAD)
    assert (again.outcome, again.message) == ("already_there", "Already in Light Blue.")
    [contact] = _contacts(sandbox)
    assert contact["ContactNameFirst"] == "Niamh"
    assert contact["ContactPhoneMobile"] == "07700 900123"
    assert contact["ID"] == "wedsync-c-42"
    assert contact["Source"] == "WedSync Hub"


def test_retry_after_lost_answer_does_not_duplicate(sandbox: str) -> None:
    # The first post is stored but its answer never arrives in time; the retry is refused as a
    # duplicate (-4), which we count as success.
    httpx.post(f"{sandbox}/_sandbox/faults", json={"timeout_next": 1, "timeout_seconds": 1.0}).raise_for_status()
    waits: list[str] = []
    with LightBlueClient(
        f"{sandbox}/api.php",
        "lb-secret",
        timeout=0.3,
        sleep=lambda _: None,
        on_wait=lambda r, s: waits.append(r),
        allow_local=True,
    ) as client:
        result = client.post_lead(LEAD)
    assert result.outcome == "already_there"
    assert len(waits) == 1
    assert len(_contacts(sandbox)) == 1


def test_server_errors_are_retried(sandbox: str) -> None:
    httpx.post(f"{sandbox}/_sandbox/faults", json={"error_next": 2, "error_status": 502}).raise_for_status()
    with LightBlueClient(f"{sandbox}/api.php", "lb-secret", sleep=lambda _: None, allow_local=True) as client:
        assert client.post_lead(LEAD).outcome == "created"
    assert len(_contacts(sandbox)) == 1


def test_refusal_is_reported_without_the_key(sandbox: str) -> None:
    with (
        LightBlueClient(
            f"{sandbox}/api.php", "not-the-key", policy=RetryPolicy(max_attempts=1), allow_local=True
        ) as client,
        pytest.raises(ProviderError) as err,
    ):
        client.post_lead(LEAD)
    assert err.value.kind == "rejected"
    assert "code -1" in err.value.message
    assert "not-the-key" not in str(err.value)
    assert _contacts(sandbox) == []
