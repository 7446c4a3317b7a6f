"""Client search: what a typed query finds (the start of any word), and every search step paging exactly.

The steps (``webapp/queries/clients.py``: nearby names, few matches through the word index, the walk, matches
first) are forced one by one with small limits, and each must page through exactly the rows a plain full query
with the same condition returns, in the same order.
"""

from __future__ import annotations

import asyncio
import re
from html import unescape

import psycopg
import pytest

from core.db.pool import make_async_pool, tenant
from tests.fixtures import Account, Services, bare_supplier, seed_clients, signup
from webapp.queries import clients as clients_q
from webapp.search import search_terms


def _names(html: str) -> list[str]:
    return [unescape(name) for name in re.findall(r'<span class="name">([^<]+)</span>', html)]


def _found(account: Account, typed: str) -> list[str]:
    resp = account.client.get("/clients/", params={"q": typed}, headers={"HX-Request": "true"})
    assert resp.status_code == 200, typed
    return _names(resp.text)


def test_search_finds_the_start_of_any_word(account: Account, services: Services) -> None:
    seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {
                "partner1_first": "Imogen",
                "partner1_last": "Fairweather",
                "partner1_email": "imogen@fair.example",
                "partner1_phone": "+447700900123",
                "venue": "Cripps Barn",
            },
            {"partner1_first": "Siobhán", "partner1_last": "O'Brien", "partner2_first": "Élodie"},
            {"partner1_first": "Tobias", "partner1_last": "Grey", "partner1_email": "toby@grey.example"},
            {"partner1_first": "Anna", "partner1_last": "Vale", "partner1_email": "anna.v@vale.example"},
        ],
    )
    imogen, siobhan = ["Imogen Fairweather"], ["Siobhán O'Brien & Élodie"]
    for typed in ("fairw", "Imogen Fair", "fair", "IMOGEN@FAIR", "barn", "cripps barn", "imo cri"):
        assert _found(account, typed) == imogen, typed
    # A phone number in any common shape, whole or still being typed.
    for typed in ("07700 900123", "+44 7700 900123", "7700900123", "(07700) 900-123", "07700 90", "+44 77009"):
        assert _found(account, typed) == imogen, typed
    for typed in ("o'brien", "brien", "siobhán", "ÉLODIE", "élo"):
        assert _found(account, typed) == siobhan, typed
    # A word followed by punctuation is a whole word; one followed by a space or nothing may be a start.
    anna = ["Anna Vale"]
    for typed in ("ann", "anna.v@", "anna.v", "ann v", "anna vale"):
        assert _found(account, typed) == anna, typed
    for typed in ("ann.v@", "ann@", "anna.va@"):
        assert _found(account, typed) == [], typed
    # Inside a word is not the start of one; every typed word must match.
    for typed in ("airweather", "mogen", "900123", "imogen grey", "zzzz-nobody"):
        assert _found(account, typed) == [], typed


@pytest.mark.parametrize("typed", ["%", "_", "'", "\\", "&|!():*", "a:*", "' OR 1=1 --", "\x00", "x" * 500])
def test_hostile_search_text_is_only_text(account: Account, services: Services, typed: str) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ann", "partner1_last": "Lee"}])
    resp = account.client.get("/clients/", params={"q": typed}, headers={"HX-Request": "true"})
    assert resp.status_code in (200, 400), typed
    if resp.status_code == 200:
        assert _names(resp.text) == [], typed


def test_search_never_shows_another_suppliers_clients(account: Account, services: Services) -> None:
    other = signup(str(account.client.base_url), services.database_url)
    seed_clients(services.database_url, other.supplier_id, [{"partner1_first": "Hidden", "partner1_last": "Quince"}])
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Shown", "partner1_last": "Quince"}])
    assert _found(account, "quince") == ["Shown Quince"]
    assert _found(other, "quince") == ["Hidden Quince"]
    other.client.close()


def test_search_ignores_accents_and_case(account: Account, services: Services) -> None:
    """One tokeniser folds accents on both sides (migrations/0018): what is stored and what is typed."""
    seed_clients(
        services.database_url,
        account.supplier_id,
        [
            {"partner1_first": "Zoë", "partner1_last": "Lefèvre", "venue": "Château de Fontainebleau"},
            {"partner1_first": "Søren", "partner1_last": "Ångström", "venue": "Kew Gardens"},
            {"partner1_first": "Chloe", "partner1_last": "Chateauneuf"},
        ],
    )
    zoe, soren, chloe = ["Zoë Lefèvre"], ["Søren Ångström"], ["Chloe Chateauneuf"]
    for typed in ("chateau de", "CHÂTEAU DE", "Château de", "chateau fontainebleau", "zoe", "ZOË", "lefevre", "LEFÈ"):
        assert _found(account, typed) == zoe, typed
    assert _found(account, "chateau") == [*chloe, *zoe]  # the start of a word, accents or not
    assert _found(account, "château") == [*chloe, *zoe]
    for typed in ("angstrom", "ÅNGSTRÖM", "soren"):  # unaccent's rules: å → a, ö → o, ø → o
        assert _found(account, typed) == soren, typed


def test_no_match_says_what_to_try_next(account: Account, services: Services) -> None:
    seed_clients(services.database_url, account.supplier_id, [{"partner1_first": "Ann", "partner1_last": "Lee"}])
    resp = account.client.get("/clients/", params={"q": "zzzz nobody"}, headers={"HX-Request": "true"})
    text = unescape(resp.text)
    assert "No clients match “zzzz nobody”." in text
    assert "Try fewer letters or one word" in text
    assert 'href="/clients/">show all clients</a>' in text
    upcoming = account.client.get("/clients/", params={"q": "ann", "upcoming": "true"}, headers={"HX-Request": "true"})
    text = unescape(upcoming.text)
    assert "No clients match “ann” in the next 60 days." in text
    assert 'href="/clients/?q=ann">Search every date</a>' in text


# -- every step pages exactly -------------------------------------------------------------------------------------

FIRSTS = ["Ada", "Bea", "Cal", "Dev", "Eve", "Fox", "Gus", "Hal", "Ivy", "Jay", "Kit", "Lou", "Max", "Ned", "Zoe"]
BOOK = 1_500


@pytest.fixture(scope="module")
def book(services: Services) -> tuple[str, int]:
    """One supplier with a book where words are common and spread (a surname), common and together in name order
    (a first name: the name order starts with it), rare (an email, a phone) or absent."""
    supplier_id = bare_supplier(services.database_url, "Search Studio")
    rows: list[dict[str, object]] = [
        {
            "partner1_first": FIRSTS[i % len(FIRSTS)],
            "partner1_last": f"Surname{i % 7}",
            "partner1_email": f"guest{i}@example.com",
            "partner1_phone": f"+4477009{i:05d}",
            "partner2_first": "Sam" if i % 3 else "",
            "venue": f"Hall {i % 40}",
        }
        for i in range(BOOK)
    ]
    seed_clients(services.database_url, supplier_id, rows)
    return services.database_url, supplier_id


async def _all_pages(url: str, supplier_id: int, terms: str) -> list[int]:
    pool = make_async_pool(url, min_size=1, max_size=1, statement_timeout_ms=5000)
    await pool.open(wait=True)
    seen: list[int] = []
    after = None
    try:
        while True:
            async with tenant(pool, supplier_id) as conn:
                page = await clients_q.list_clients(conn, supplier_id, search=terms, after=after, limit=20)
            seen += [r.id for r in page.rows]
            if page.next_cursor is None:
                return seen
            after = clients_q.Cursor.decode(page.next_cursor)
    finally:
        await pool.close()


def _reference(url: str, supplier_id: int, terms: str) -> list[int]:
    with psycopg.connect(url) as conn:
        conn.execute("SELECT set_config('app.supplier_id', %s, true)", [str(supplier_id)])
        rows = conn.execute(
            "SELECT id FROM clients WHERE supplier_id = %s AND search_words @@ search_query(%s) ORDER BY sort_name, id",
            [supplier_id, terms],
        ).fetchall()
    return [r[0] for r in rows]


STEPS = {
    # name: (nearby names, few matches, walk budget ms)
    "defaults": (clients_q.SEARCH_NEARBY_NAMES, clients_q.SEARCH_FEW_MATCHES, clients_q.SEARCH_WALK_BUDGET_MS),
    "nearby names only": (BOOK * 2, 0, 60_000),
    "few matches": (1, BOOK * 2, 60_000),
    "walk": (1, 0, 60_000),
    "matches first": (1, 0, 60_000),  # the walk "over budget": see below
}


@pytest.mark.parametrize("step", list(STEPS))
@pytest.mark.parametrize("typed", ["surname3", "zoe", "sam", "guest1234@", "07700 901234", "hall 1", "nobody", "e"])
def test_every_search_step_pages_exactly(
    book: tuple[str, int], step: str, typed: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    url, supplier_id = book
    nearby, few, budget = STEPS[step]
    monkeypatch.setattr(clients_q, "SEARCH_NEARBY_NAMES", nearby)
    monkeypatch.setattr(clients_q, "SEARCH_FEW_MATCHES", few)
    monkeypatch.setattr(clients_q, "SEARCH_WALK_BUDGET_MS", budget)
    if step == "matches first":

        async def over_budget(*_: object) -> None:
            return None

        monkeypatch.setattr(clients_q, "_within_budget", over_budget)
    terms = search_terms(typed, "GB")
    expected = _reference(url, supplier_id, terms)
    assert asyncio.run(_all_pages(url, supplier_id, terms)) == expected
    if typed != "nobody":
        assert expected, f"{typed!r} matches nothing: the check would prove little"


def test_a_walk_over_its_budget_is_cancelled(book: tuple[str, int], monkeypatch: pytest.MonkeyPatch) -> None:
    url, supplier_id = book
    monkeypatch.setattr(clients_q, "SEARCH_WALK_BUDGET_MS", 50)

    async def main() -> tuple[object, int]:
        pool = make_async_pool(url, min_size=1, max_size=1, statement_timeout_ms=5000)
        await pool.open(wait=True)
        try:
            async with tenant(pool, supplier_id) as conn:
                slow = clients_q.sql.Composed([clients_q.sql.SQL("SELECT pg_sleep(10)")])
                result = await clients_q._within_budget(conn, slow, {})
                # The budget was the walk's only: the rest of the transaction has the usual timeout again.
                row = await (await conn.execute("SELECT current_setting('statement_timeout')")).fetchone()
                assert row is not None
                return result, int(str(row[0]).removesuffix("ms").removesuffix("s") or 0)
        finally:
            await pool.close()

    result, timeout = asyncio.run(main())
    assert result is None
    assert timeout != 50
