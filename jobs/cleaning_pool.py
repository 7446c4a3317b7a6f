"""Each worker process starts its import cleaning pool when it boots, not inside the first big import it runs.

A cold start (the forkserver, its imports, one fork per process) takes ~0.5 s of both cores; during it the import
cleans rows in its own thread. Started at boot, it is paid once per worker process, while nothing waits for it.
"""

from __future__ import annotations

from typing import Any

import dramatiq

from core.importing.parallel import shared_pool


class StartCleaningPool(dramatiq.Middleware):
    def after_worker_boot(self, broker: Any, worker: Any) -> None:
        shared_pool()  # returns at once; the processes start in a thread of their own
