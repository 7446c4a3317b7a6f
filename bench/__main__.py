"""``make bench``: every benchmark, one JSON object per line (format in ``../shared/DESIGN.md`` §5).

``python -m bench sse poll`` runs only the named suites.
"""

from __future__ import annotations

import sys

from bench import export, imports, load, offline_book, poll, pwa, sse

# Each suite's ``main()`` prints its lines and returns 0, or non-zero when it could not run.
SUITES = {
    "imports": imports.main,  # import_csv_100k_s, import_csv_vs_copy_ratio, import_api_100k_s, concurrent, reimport,
    # import_stale_stats_ratio
    "stale": imports.stale_main,  # import_stale_stats_ratio alone (it is part of "imports" too)
    "sse": sse.main,  # sse_kb_per_conn, sse_5k_p99_ms (with the 10k connect/disconnect leak check)
    "poll": poll.main,  # poll_304_p95_ms
    "load": load.main,  # list_fragment_rps, mix_p95_ms, million_list_p95_ms, cache_hit_ratio
    "pwa": pwa.main,  # js_gzip_kb, lcp_first_ms, lcp_repeat_ms, offline_start_ms (Chromium, Slow 4G, 4x CPU)
    "book": offline_book.main,  # offline_book_kb, offline_search_ms (20,000 clients in the service worker's book)
    "export": export.main,  # export_1m_peak_rss_mb, export_1m_s (CSV and NDJSON of 1,000,000 clients)
}

chosen = sys.argv[1:] or list(SUITES)
unknown = [name for name in chosen if name not in SUITES]
if unknown:
    sys.exit(f"unknown bench suite(s): {', '.join(unknown)}; choose from {', '.join(SUITES)}")
if not sys.argv[1:]:
    chosen.remove("stale")  # "imports" runs it
sys.exit(max(SUITES[name]() or 0 for name in chosen))
