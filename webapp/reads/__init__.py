"""Cached reads: what a page shows, looked up in the cache tiers (``webapp.cache``) and read from PostgreSQL
(``webapp.queries``) only on a miss. Route handlers call these and render; they hold no cache keys themselves."""
