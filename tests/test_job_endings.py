"""Every job ends: data errors are never retried, transient ones are retried and then end the job ``failed``.

A bad field loses the field, not the client; a deterministic failure (an undecryptable CRM key, an integration
with no address) fails the job at once with plain words; a transient one (a lock held past the statement timeout
here) is retried with back-off and, when the tries run out, ends the job ``failed`` with what was committed kept,
and "Try again" then finishes it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from core.importing.records import CLIENT_MAX_CHARS
from tests.fixtures import Services
from tests.test_import_support import ImportEnv, import_env_fixture, write_csv


@pytest.fixture(scope="module")
def imports(tmp_path_factory: pytest.TempPathFactory, services: Services) -> Iterator[ImportEnv]:
    yield from import_env_fixture(tmp_path_factory, services)


def test_client_limits_are_the_tables_checks(services: Services) -> None:
    """CLIENT_MAX_CHARS is what the cleaning path shortens and refuses by; the CHECKs are what PostgreSQL enforces."""
    with psycopg.connect(services.database_url) as conn:
        defs = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = 'clients'::regclass AND contype = 'c'"
        ).fetchall()
    checks = {m[0]: int(m[1]) for (d,) in defs for m in re.findall(r"length\((\w+)\) <= (\d+)", d)}
    assert checks == CLIENT_MAX_CHARS
    # Every word of search_words comes from one column, so no column can hold a word PostgreSQL refuses.
    assert max(CLIENT_MAX_CHARS.values()) * 4 < 2046


def test_an_overlong_venue_or_lead_source_loses_the_field_not_the_client(imports: ImportEnv, tmp_path: Path) -> None:
    if not any(w.process.poll() is None for w in imports.workers):
        imports.start_worker()
    sid, _ = imports.supplier()
    word = "Barn" * 800  # one 3,200-character word: PostgreSQL's "word is too long" in search_words, before the CHECK
    words = " ".join(["Orchard"] * 60)  # 479 characters of words: over the venue CHECK only
    path = write_csv(
        tmp_path / "long.csv",
        ["ID", "First Name", "Last Name", "Venue", "Lead Source"],
        [
            ["L-1", "Ada", "Long", word, "Instagram"],
            ["L-2", "Bo", "Words", words, "x" * 250],
            ["L-3", "Cy", "Fine", "Elmore Court", "Friend"],
        ],
    )
    summary = imports.import_file(sid, path)
    assert (summary.status, summary.created, summary.failed) == ("succeeded", 3, 0), summary.message
    rows = {r["external_id"]: r for r in imports.clients(sid)}
    assert rows["L-1"]["venue"] == word[:300]
    assert rows["L-1"]["lead_source"] == "Instagram"
    assert rows["L-2"]["venue"] == " ".join(["Orchard"] * 37)  # cut at the last word break within 300 characters
    assert rows["L-2"]["lead_source"] == "x" * 200
    assert (rows["L-3"]["venue"], rows["L-3"]["lead_source"]) == ("Elmore Court", "Friend")
    assert imports.errors(sid, summary.job_id) == [
        (2, "venue", "Row 2: the venue was 3,200 characters long, more than the 300 a client's venue can have, "
         "so we kept only its start"),
        (3, "venue", "Row 3: the venue was 479 characters long, more than the 300 a client's venue can have, "
         "so we kept only its start"),
        (3, "lead_source", "Row 3: the lead source was 250 characters long, more than the 200 a client's lead "
         "source can have, so we kept only its start"),
    ]  # fmt: skip
