"""The words a phone shows when a job ends, and how a subscribed phone is named."""

from __future__ import annotations

import base64
import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from core.push import public_key
from core.settings import load_settings
from jobs.notices import EndedJob, notice_for
from webapp.routes.push import device_label


def job(status: str, **counts: int | str | None) -> EndedJob:
    values: dict[str, object] = {
        "id": 42, "kind": "full_import", "source": "tave", "status": status, "message": None, "created_count": 0,
        "updated_count": 0, "unchanged_count": 0, "failed_count": 0, "finished_at": dt.datetime.now(dt.UTC),
        "conflicts": 0,
    }  # fmt: skip
    values.update(counts)
    return EndedJob(**values)  # type: ignore[arg-type]


def test_a_finished_import_says_what_it_did_and_opens_its_page() -> None:
    notice = notice_for(job("succeeded", created_count=1840, updated_count=2))
    assert notice is not None
    assert (notice.title, notice.body) == ("Import finished", "1,840 new, 2 updated (Tave).")
    assert (notice.url, notice.tag) == ("/jobs/42", "job-42")


def test_an_import_that_needs_the_photographer_says_what_for() -> None:
    notice = notice_for(job("partially_succeeded", created_count=5, failed_count=1, conflicts=3))
    assert notice is not None
    assert notice.title == "Import finished — needs a look"
    assert notice.body == "5 new, 0 updated; 1 row needs fixing, 3 changes to choose between (Tave)."
    # Changes to choose between are news even when every row went in.
    notice = notice_for(job("succeeded", updated_count=4, conflicts=1))
    assert notice is not None
    assert notice.body == "0 new, 4 updated; 1 change to choose between (Tave)."


def test_a_failed_import_gives_the_reason_in_its_own_words() -> None:
    reason = "This import stopped after several tries. Everything imported before that is kept; you can try again."
    notice = notice_for(job("failed", message=reason, source="honeybook", kind="file_import"))
    assert notice is not None
    assert (notice.title, notice.body) == ("Import failed", f"{reason} (HoneyBook)")


@pytest.mark.parametrize("status", ["cancelled", "running", "queued"])
def test_a_stopped_or_unfinished_job_is_not_announced(status: str) -> None:
    assert notice_for(job(status)) is None


@pytest.mark.parametrize(
    ("agent", "label"),
    [
        ("Mozilla/5.0 (Linux; Android 14; Pixel 7) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Mobile "
         "Safari/537.36", "Chrome on Android"),
        ("Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) "
         "Version/17.4 Mobile/15E148 Safari/604.1", "Safari on iPhone"),
        ("Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0", "Firefox on Windows"),
        ("", "A browser"),
    ],
)  # fmt: skip
def test_a_phone_is_named_by_its_browser_and_system(agent: str, label: str) -> None:
    assert device_label(agent) == label


def test_the_vapid_key_is_made_once_kept_private_and_overridable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WEDSYNC_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("VAPID_PRIVATE_KEY", raising=False)
    first, second = load_settings(), load_settings()
    assert first.vapid_private_key == second.vapid_private_key  # a restart keeps every phone's subscription valid
    kept = tmp_path / "secrets" / "vapid_private_key"
    assert kept.read_text() == first.vapid_private_key
    assert stat.S_IMODE(kept.stat().st_mode) == 0o600
    # Written aside and linked into place: no draft is left behind.
    assert {p.name for p in kept.parent.iterdir()} == {"vapid_private_key", "secret_key", "encryption_key"}
    assert len(base64.urlsafe_b64decode(public_key(first) + "=")) == 65

    other = ec.generate_private_key(ec.SECP256R1())
    raw = other.private_numbers().private_value.to_bytes(32, "big")
    monkeypatch.setenv("VAPID_PRIVATE_KEY", base64.urlsafe_b64encode(raw).rstrip(b"=").decode())
    point = other.public_key().public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    assert public_key(load_settings()) == base64.urlsafe_b64encode(point).rstrip(b"=").decode()
