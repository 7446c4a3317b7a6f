"""Seed many clients fast for the load benchmark: one ``INSERT … SELECT … generate_series`` per supplier.

Suppliers sign up over HTTP (as photographers do; ``bench.load`` does that), then their clients are written here
in SQL: 1,000,000 rows through the import pipeline would take minutes and measure the import, not the pages.
Names, venues, emails, phones and dates vary the way real lists do, so the list order, the word search and
the date index see realistic spreads. Each insert runs in a transaction scoped to its supplier
(``app.supplier_id``), so it also works as a non-superuser owner under ``FORCE ROW LEVEL SECURITY``.
"""

from __future__ import annotations

import time

import msgspec
import psycopg

FIRST_NAMES = [
    "Alex", "Amelia", "Ava", "Ben", "Charlotte", "Chloe", "Daniel", "Ella", "Emily", "Emma", "Ethan", "Freya",
    "George", "Grace", "Harry", "Isla", "Jack", "James", "Jessica", "Leo", "Lily", "Lucy", "Mia", "Noah",
    "Oliver", "Olivia", "Oscar", "Poppy", "Rosie", "Ruby", "Sam", "Sophie", "Thomas", "William", "Zara", "Aoife",
    "Priya", "Mohammed", "Chen", "Lukas", "Élodie", "Siobhan", "Tomasz", "Kwame", "Hannah", "Ryan", "Megan",
]  # fmt: skip
LAST_NAMES = [
    "Smith", "Jones", "Taylor", "Brown", "Williams", "Wilson", "Johnson", "Davies", "Robinson", "Wright",
    "Thompson", "Evans", "Walker", "White", "Roberts", "Green", "Hall", "Wood", "Jackson", "Clarke", "Patel",
    "Khan", "Murphy", "O'Brien", "Kowalski", "Nguyen", "Singh", "Hughes", "Edwards", "Turner", "Lewis", "Morris",
    "Baker", "Harris", "Cooper", "King", "Lee", "Martin", "Moore", "Dubois", "Campbell", "Stewart", "MacDonald",
]  # fmt: skip
VENUES = [
    "Kew Gardens", "The Barn at Brynich", "Hampton Manor", "Babington House", "Château Lumière", "Aynhoe Park",
    "The Asylum Chapel", "Cripps Barn", "Tithe Barn", "Pennard House", "Elmore Court", "Larmer Tree Gardens",
    "St Pancras Renaissance", "Botleys Mansion", "Hedsor House", "The Gherkin", "Trevenna Barns", "Coombe Lodge",
    "Village Hall", "Register Office", "Old Luxters Barn", "Lyde Court", "Gorcott Hall", "Dewsall Court",
]  # fmt: skip

# One statement per chunk; %(…)s are parameters, %% is a literal modulo. ``cardinality`` keeps the SQL independent
# of the vocabulary sizes above.
SEED_CLIENTS = """
WITH v AS (SELECT %(firsts)s::text[] AS firsts, %(lasts)s::text[] AS lasts, %(venues)s::text[] AS venues)
INSERT INTO clients (supplier_id, source, external_id, partner1_first, partner1_last, partner1_email,
                     partner1_phone, partner2_first, partner2_last, wedding_date, venue, status, lead_source)
SELECT %(sid)s, 'csv', 'seed-' || g,
       v.firsts[1 + g %% cardinality(v.firsts)],
       v.lasts[1 + (g / cardinality(v.firsts)) %% cardinality(v.lasts)],
       lower(v.firsts[1 + g %% cardinality(v.firsts)]) || '.' || g || '@example.com',
       '+447700' || lpad((g %% 1000000)::text, 6, '0'),
       v.firsts[1 + abs(hashint4(g)) %% cardinality(v.firsts)],  -- not tied to partner 1 (as in real couples)
       CASE WHEN g %% 5 = 0 THEN '' ELSE v.lasts[1 + (g * 13) %% cardinality(v.lasts)] END,
       CASE WHEN g %% 11 = 0 THEN NULL ELSE date '2025-01-01' + (g * 37) %% 1460 END,
       v.venues[1 + (g * 17) %% cardinality(v.venues)],
       (ARRAY['lead', 'booked', 'booked', 'completed', 'archived'])[1 + g %% 5],
       (ARRAY['Instagram', 'Google', 'Referral', 'Wedding fair'])[1 + g %% 4]
FROM v, generate_series(%(start)s::integer, %(stop)s::integer) AS g
"""
SCOPE = "SELECT set_config('app.supplier_id', %s, true)"
CLIENT_ID_RANGE = "SELECT min(id), max(id), count(*) FROM clients WHERE supplier_id = %s"
# A running job each supplier's phones poll (``/jobs/{id}/progress``), as the poll benchmark does.
INSERT_RUNNING_JOB = """
INSERT INTO sync_jobs (supplier_id, kind, source, status, total, processed, message, started_at)
VALUES (%s, 'file_import', 'csv', 'running', 100000, 42000, 'Imported 42,000 so far.', now()) RETURNING id
"""
CHUNK = 200_000


class Seeded(msgspec.Struct, frozen=True):
    supplier_id: int
    first_client_id: int
    last_client_id: int
    clients: int
    job_id: int


def seed_supplier(database_url: str, supplier_id: int, clients: int) -> Seeded:
    """``clients`` rows for one supplier (in chunks of 200,000, each its own transaction) and a running job."""
    vocab = {"firsts": FIRST_NAMES, "lasts": LAST_NAMES, "venues": VENUES, "sid": supplier_id}
    with psycopg.connect(database_url) as conn:
        for start in range(1, clients + 1, CHUNK):
            with conn.transaction():
                conn.execute(SCOPE, [str(supplier_id)])
                conn.execute(SEED_CLIENTS, {**vocab, "start": start, "stop": min(clients, start + CHUNK - 1)})
        with conn.transaction():
            conn.execute(SCOPE, [str(supplier_id)])
            low, high, count = conn.execute(CLIENT_ID_RANGE, [supplier_id]).fetchone() or (0, 0, 0)
            job = conn.execute(INSERT_RUNNING_JOB, [supplier_id]).fetchone()
    assert job is not None
    assert count == clients, (count, clients)
    return Seeded(supplier_id, int(low), int(high), int(count), int(job[0]))


def analyze(database_url: str) -> float:
    """Fresh statistics and visibility map after a bulk load (autovacuum would get there, later)."""
    started = time.perf_counter()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("VACUUM (ANALYZE) clients")
        conn.execute("ANALYZE sync_jobs")
    return time.perf_counter() - started
