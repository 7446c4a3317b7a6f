"""The source registry (core/sources/) and everything that lists sources agree: the database's CHECKs, the upload
form, the CLI, the labels, the presets. Adding a source is a module there and a migration, nothing else."""

from __future__ import annotations

import re

import psycopg

from core import sources
from core.importing.mapping import PRESETS
from core.sources import REGISTRY
from tests.fixtures import Services


def _allowed(services: Services, table: str, constraint: str) -> set[str]:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conrelid = %s::regclass AND conname = %s",
            [table, constraint],
        ).fetchone()
    assert row is not None, f"{table} has no {constraint}"
    return set(re.findall(r"'([^']*)'::text", row[0])) - {"ping"}


def test_the_checks_allow_exactly_the_registered_sources(services: Services) -> None:
    assert _allowed(services, "clients", "clients_source_check") == set(sources.SOURCE_KEYS)
    assert _allowed(services, "crm_integrations", "crm_integrations_provider_check") == set(sources.JOB_SOURCES)
    assert _allowed(services, "sync_jobs", "sync_jobs_source_check") == set(sources.JOB_SOURCES)


def test_every_list_of_sources_derives_from_the_registry() -> None:
    from webapp.cli import build_parser
    from webapp.queries.integrations import FILE_SOURCE_NAMES
    from webapp.rendering import SOURCE_LABELS
    from webapp.routes.imports import PRESET_LABELS
    from webapp.routes.jobs import SOURCES

    files = [key for key, source in REGISTRY.items() if source.upload_label]
    assert list(PRESETS) == files
    assert list(PRESET_LABELS) == files
    assert list(FILE_SOURCE_NAMES) == files
    assert set(SOURCES) == set(files) | {key for key, source in REGISTRY.items() if source.crm}
    assert {key: source.label for key, source in REGISTRY.items()} == SOURCE_LABELS
    imp = build_parser()._subparsers._group_actions[0].choices["import"]  # type: ignore[union-attr]
    (source_option,) = [a for a in imp._actions if a.dest == "source"]
    assert list(source_option.choices or ()) == files


def test_each_source_is_one_module_with_a_plain_key() -> None:
    for key, source in REGISTRY.items():
        assert re.fullmatch(r"[a-z][a-z0-9_]*", key)
        assert source.label
        if source.upload_label:
            assert source.suffixes, key
    assert sources.VCARD_SUFFIXES == (".vcf", ".vcard")
    assert sources.file_format("Contacts.VCF", "csv") == "vcard"
    assert sources.file_format("contacts.csv", "google") == "table"
