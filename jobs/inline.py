"""Run one queued file job in this process, through the runner a worker uses, without a worker or a queue.

``wedsync import --inline`` runs ``python -m jobs.inline SUPPLIER_ID JOB_ID`` (the web side's command line starts
the workers' code as a process, never by importing it); tests and benchmarks call ``run_inline`` directly.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from psycopg_pool import ConnectionPool

from core.import_service import open_pool
from core.job_lifecycle import JobRow
from core.settings import settings
from jobs.runner import run_job, upload_batches


def run_inline(pool: ConnectionPool, supplier_id: int, job_id: int) -> str | None:
    """Run a queued file job in this process; returns its final status (None: it was not runnable)."""

    def batches(job: JobRow, *_reporter: object) -> Any:  # the runner may pass its progress reporter
        return upload_batches(pool, job)

    return run_job(pool, supplier_id, job_id, batches)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m jobs.inline", description=__doc__)
    parser.add_argument("supplier_id", type=int)
    parser.add_argument("job_id", type=int)
    args = parser.parse_args(argv)
    database_url = settings().database_url
    if not database_url:
        raise SystemExit("DATABASE_URL is not set.")
    with open_pool(database_url) as pool:
        run_inline(pool, args.supplier_id, args.job_id)
    return 0


if __name__ == "__main__":
    sys.exit(main())
