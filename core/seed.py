"""Demo data: one supplier with a few hundred realistic couples, created once."""

from __future__ import annotations

import datetime as dt
import random

import psycopg

from core.security import hash_password

FIRST = [
    "Olivia",
    "Amelia",
    "Isla",
    "Ava",
    "Mia",
    "Sophia",
    "Grace",
    "Freya",
    "Priya",
    "Aisha",
    "Zara",
    "Chloe",
    "Hannah",
    "Niamh",
    "Siobhan",
    "Mei",
    "Yuki",
    "Lucía",
    "Camille",
    "Ingrid",
    "Noah",
    "Oliver",
    "George",
    "Arthur",
    "Leo",
    "Harry",
    "Jack",
    "Oscar",
    "Rohan",
    "Omar",
    "Tomás",
    "Liam",
    "Callum",
    "Ewan",
    "Kwame",
    "Mateo",
    "Finn",
    "Sam",
    "Alex",
    "Jordan",
    "Charlie",
    "Robin",
]
LAST = [
    "Smith",
    "Jones",
    "Taylor",
    "Brown",
    "Williams",
    "Wilson",
    "Evans",
    "Thomas",
    "Roberts",
    "Walker",
    "Patel",
    "Khan",
    "O'Neill",
    "McDonald",
    "Murphy",
    "Nguyen",
    "Kowalski",
    "García",
    "Rossi",
    "Müller",
    "Okafor",
    "Campbell",
    "Davies",
    "Hughes",
    "Clarke",
    "Wright",
    "Chen",
    "Singh",
    "Fraser",
    "Byrne",
]
VENUES = [
    "Aynhoe Park, Oxfordshire",
    "Babington House, Somerset",
    "Cripps Barn, Bibury",
    "Hedingham Castle, Essex",
    "Kew Gardens, London",
    "The Great Barn, Aynho",
    "Gleneagles, Perthshire",
    "Chateau de Sours, Bordeaux",
    "Tithe Barn, Bolton Abbey",
    "Pembroke Lodge, Richmond",
    "Dewsall Court, Herefordshire",
    "St Mary's Church, Whitby",
    "Botleys Mansion, Surrey",
    "Elmore Court, Gloucester",
    "Fforest, Cardigan",
]
SOURCES = ["Instagram", "Google", "Venue recommendation", "Past client referral", "Wedding fair", "Hitched"]


def _couple(rng: random.Random, i: int, today: dt.date) -> dict[str, object]:
    p1_last = rng.choice(LAST)
    p2_last = p1_last if rng.random() < 0.15 else rng.choice(LAST)
    p1_first, p2_first = rng.sample(FIRST, 2)
    wedding = today + dt.timedelta(days=rng.randint(-400, 540)) if rng.random() < 0.93 else None
    if wedding is None:
        status = "lead"
    elif wedding < today:
        status = "completed" if rng.random() < 0.9 else "archived"
    else:
        status = "booked" if rng.random() < 0.7 else "lead"
    email_name = f"{p1_first}.{p1_last}".lower().replace("'", "").replace(" ", "")
    return {
        "external_id": f"demo-{i:05d}",
        "partner1_first": p1_first,
        "partner1_last": p1_last,
        "partner1_email": f"{email_name}{i}@example.com",
        "partner1_phone": f"+447400{900000 + i % 100000:06d}",  # valid mobiles (07700 900xxx is not)
        "partner2_first": p2_first,
        "partner2_last": p2_last,
        "wedding_date": wedding,
        "venue": rng.choice(VENUES) if rng.random() < 0.85 else None,
        "status": status,
        "lead_source": rng.choice(SOURCES),
    }


def seed_demo(database_url: str, email: str, password: str, *, clients: int = 300, seed: int = 2026) -> bool:
    """Create the demo supplier and its clients; False when it already exists (a second run changes nothing)."""
    with psycopg.connect(database_url) as conn:
        row = conn.execute(
            "INSERT INTO suppliers (business_name, email, password_hash, is_operator) VALUES (%s, %s, %s, true) "
            "ON CONFLICT (lower(email)) DO NOTHING RETURNING id",
            ["Willow & Wren Photography", email, hash_password(password)],
        ).fetchone()
        if row is None:
            return False
        supplier_id = row[0]
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(supplier_id)])
        rng = random.Random(seed)
        today = dt.date.today()
        columns = (
            "external_id",
            "partner1_first",
            "partner1_last",
            "partner1_email",
            "partner1_phone",
            "partner2_first",
            "partner2_last",
            "wedding_date",
            "venue",
            "status",
            "lead_source",
        )
        with conn.cursor().copy(f"COPY clients (supplier_id, source, {', '.join(columns)}) FROM STDIN") as copy:
            for i in range(clients):
                couple = _couple(rng, i, today)
                copy.write_row([supplier_id, "csv", *(couple[c] for c in columns)])
    return True
