"""One lock per studio between its imports' batches and its merges, so a merge never races a batch over a source key.

A batch resolves merged-away keys (client_source_aliases, migrations/0025) as its statement starts. A batch that had
read the keys before a merge committed, and then met the merged-away client deleted under it, would insert that
client again: each batch takes this lock shared in a statement of its own before its upsert (so the upsert's
snapshot sees any merge committed before it), and a merge takes it exclusively before locking the two clients, so
it waits for batches in flight and the next ones wait for it. Batches of one studio never wait for each other.
"""

from __future__ import annotations

_KEY = "hashtext('client-source-keys'), %s::int"
FOR_IMPORT_BATCH = f"SELECT pg_advisory_xact_lock_shared({_KEY})"
FOR_MERGE = f"SELECT pg_advisory_xact_lock({_KEY})"
