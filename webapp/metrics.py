"""Prometheus metrics shared by web processes and workers.

Every process writes to ``PROMETHEUS_MULTIPROC_DIR`` when it is set (``wedsync run`` / ``web`` / ``worker`` set it),
so one ``/metrics`` scrape of any web process on a machine sums all of that machine's processes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge

# Hot-read cache lookups: tier is "memory" | "redis", result is "hit" | "miss" (a miss in the last tier goes
# to PostgreSQL). Hit ratio per tier = hit / (hit + miss).
CACHE_LOOKUPS = Counter("wedsync_cache_lookups_total", "Hot-read cache lookups per tier", ["tier", "result"])

SSE_CONNECTIONS = Gauge("wedsync_sse_connections", "Open Server-Sent Events streams", multiprocess_mode="livesum")

# Redis calls on the cache / session path that failed (reason "error" | "timeout") or were skipped because the
# circuit breaker is open ("circuit_open"): the app answered from memory and PostgreSQL instead.
CACHE_ERRORS = Counter("wedsync_cache_errors_total", "Cache-path Redis calls failed or skipped", ["op", "reason"])
