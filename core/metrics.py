"""Prometheus metrics shared by web processes and workers.

Every process writes to ``PROMETHEUS_MULTIPROC_DIR`` when it is set (``wedsync run`` / ``web`` / ``worker`` set it),
so one ``/metrics`` scrape of any web process on a machine sums all of that machine's processes.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

# Hot-read cache lookups: tier is "memory" | "redis", result is "hit" | "miss" (a miss in the last tier goes
# to PostgreSQL). Hit ratio per tier = hit / (hit + miss).
CACHE_LOOKUPS = Counter("wedsync_cache_lookups_total", "Hot-read cache lookups per tier", ["tier", "result"])

# GET /clients/ fragments answered from the kept rendering before the route stack ("kept"), or passed on to it.
LIST_FRONT = Counter("wedsync_list_front_total", "Client-list fragments answered from memory up front", ["answer"])
SSE_CONNECTIONS = Gauge("wedsync_sse_connections", "Open Server-Sent Events streams", multiprocess_mode="livesum")

# How late a web process's event loop ran a timer (``webapp.observability.watch_event_loop``): while one request's
# synchronous work (a render, rows parsed, a gzip) holds the loop, every other request in that process waits.
EVENT_LOOP_LAG = Histogram(
    "wedsync_event_loop_lag_seconds",
    "How late a web process's event loop woke a 50 ms timer: the longest any request waited behind another's work",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0),
)

# Redis calls on the cache / session path that failed (reason "error" | "timeout") or were skipped because the
# circuit breaker is open ("circuit_open"): the app answered from memory and PostgreSQL instead.
CACHE_ERRORS = Counter("wedsync_cache_errors_total", "Cache-path Redis calls failed or skipped", ["op", "reason"])

# Operations (issue 6). Gauges say how their values from several processes combine on one scrape: per-process
# values (pool) are summed over live processes; values read from Redis (queues) are the same for everyone, so the
# most recent reading wins.
DB_QUERY_SECONDS = Histogram(
    "wedsync_db_query_seconds",
    "PostgreSQL statement time seen by the app (execute, not fetch), per statement kind and process role",
    ["statement", "role"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DB_POOL_CONNECTIONS = Gauge(
    "wedsync_db_pool_connections",
    "Connection pool: size, idle (available) and requests waiting for a connection, summed over processes",
    ["pool", "state"],
    multiprocess_mode="livesum",
)
DB_POOL_ERRORS = Counter(
    "wedsync_db_pool_errors_total",
    "Connection pool trouble: connections lost or failed checks, timeouts waiting, reconnection given up",
    ["pool", "kind"],
)
QUEUE_DEPTH = Gauge(
    "wedsync_queue_depth",
    "Messages waiting in a Dramatiq queue (read from Redis at scrape time)",
    ["queue"],
    multiprocess_mode="livemostrecent",
)
QUEUE_OLDEST_AGE = Gauge(
    "wedsync_queue_oldest_age_seconds",
    "Age of the oldest message waiting in a Dramatiq queue (0 when empty)",
    ["queue"],
    multiprocess_mode="livemostrecent",
)
JOB_SECONDS = Histogram(
    "wedsync_job_duration_seconds",
    "Dramatiq message processing time per actor and outcome (ok, failed)",
    ["actor", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)
