"""The job lifecycle is defined once (``core.job_lifecycle``): the database's CHECKs and the workers' actors are
held against that definition here, so a state or kind added in one place and not the other fails a test."""

from __future__ import annotations

import re

import psycopg

from core import job_lifecycle as lifecycle
from core.queue import QUEUES
from tests.fixtures import Services


def _check_values(services: Services, constraint: str) -> set[str]:
    with psycopg.connect(services.database_url) as conn:
        row = conn.execute(
            "SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = %s", [constraint]
        ).fetchone()
    assert row is not None, constraint
    return set(re.findall(r"'([a-z_]+)'::text", row[0]))


def test_the_database_allows_exactly_the_lifecycle_states(services: Services) -> None:
    assert _check_values(services, "sync_jobs_status_check") == set(lifecycle.JobStatus.__args__)


def test_the_database_allows_exactly_the_lifecycle_kinds(services: Services) -> None:
    assert _check_values(services, "sync_jobs_kind_check") == {*lifecycle.JOB_KINDS, lifecycle.PING_KIND}


def test_every_kind_has_an_actor_of_its_name_that_settles_its_job() -> None:
    import jobs.actors  # noqa: F401 - declares the actors on the workers' broker
    from jobs.broker import broker
    from jobs.failures import TRACKS_JOB

    for kind in lifecycle.JOB_KINDS:
        actor = broker.get_actor(kind)
        assert actor.queue_name == lifecycle.JOB_QUEUE
        assert actor.options.get(TRACKS_JOB) is True
    assert broker.get_actor(lifecycle.PING_KIND).queue_name in QUEUES
    assert not broker.get_actor(lifecycle.PING_KIND).options.get(TRACKS_JOB)


def test_states_partition_into_active_terminal_and_draft() -> None:
    states = set(lifecycle.JobStatus.__args__)
    assert lifecycle.ACTIVE | lifecycle.TERMINAL | {"draft"} == states
    assert not lifecycle.ACTIVE & lifecycle.TERMINAL
    assert set(lifecycle.JOB_STATES) == states - {"draft"}
