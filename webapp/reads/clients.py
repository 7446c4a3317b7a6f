"""The client book as the pages read it: list pages (rows, or a fragment's whole HTML), and a client with notes.

Lists are cached under the studio's ``LISTS`` generation; a status change re-reads only the rows it changed
(``HotCache.get_listing``). A client's page is cached under its own scope (``c:{id}``), so a note on one client
leaves every other cached page alone.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import msgspec

from core.db.pool import tenant
from webapp.cache import LISTS, Generation
from webapp.models import Client, Note
from webapp.queries import clients as q
from webapp.queries import notes as notes_q
from webapp.reads.studio import studio_of
from webapp.rendering import Rendered
from webapp.search import search_terms
from webapp.state import Resources
from webapp.studio import Studio

UPCOMING_DAYS = 60


class ListQuery(msgspec.Struct, frozen=True):
    """One list page as asked for: the search as typed, the upcoming filter, and the keyset position."""

    text: str
    upcoming: bool
    cursor: str | None

    @property
    def after(self) -> q.Cursor | None:
        return q.Cursor.decode(self.cursor) if self.cursor else None


class ClientDetail(msgspec.Struct, frozen=True):
    client: Client
    notes: list[Note]


class ListFragment(msgspec.Struct, frozen=True):
    """A list fragment's rendering and the page of rows it shows, kept as msgpack (a few KB rather than fifty row
    objects per cached page): they are read only when one of them has changed (``HotCache.get_listing``)."""

    packed_rows: bytes
    html: Rendered


_PAGE = msgspec.msgpack.Decoder(q.ClientPage)


def _page_ids(page: q.ClientPage) -> list[int]:
    return [row.id for row in page.rows]


def _fragment_ids(fragment: ListFragment) -> list[int]:
    return _page_ids(_PAGE.decode(fragment.packed_rows))


class _ListLoader:
    """Reads one list page, whole or just its changed rows, for one studio."""

    def __init__(self, res: Resources, supplier_id: int, query: ListQuery, studio: Studio) -> None:
        self.res, self.supplier_id, self.query, self.studio = res, supplier_id, query, studio

    async def load(self) -> q.ClientPage:
        async with tenant(self.res.pool, self.supplier_id) as conn:
            return await q.list_clients(
                conn,
                self.supplier_id,
                search=search_terms(self.query.text, self.studio.region) if self.query.text else None,
                upcoming_days=UPCOMING_DAYS if self.query.upcoming else None,
                after=self.query.after,
                today=self.studio.today(),
            )

    async def reload_rows(self, cached: q.ClientPage, changed: frozenset[int]) -> q.ClientPage | None:
        """The page with its changed rows read again (a status: the same clients in the same order)."""
        async with tenant(self.res.pool, self.supplier_id) as conn:
            fresh = await q.rows_by_ids(conn, self.supplier_id, changed)
        if len(fresh) < len(changed):  # a row is gone: the page is read whole
            return None
        return q.ClientPage([fresh.get(row.id, row) for row in cached.rows], cached.next_cursor)


async def list_generation(res: Resources, supplier_id: int) -> Generation:
    return await res.cache.generation(supplier_id, LISTS)


async def client_page(res: Resources, gen: Generation, query: ListQuery) -> q.ClientPage:
    """A page of rows. Search is case-insensitive (search_query lower-cases), so "Emma" and "emma" share one."""
    studio = await studio_of(res, gen.supplier_id)
    loader = _ListLoader(res, gen.supplier_id, query, studio)
    today = studio.today().isoformat()  # the upcoming window moves at the studio's midnight
    key = (query.text.lower(), query.upcoming, query.cursor or "", today, studio.region)
    return await res.cache.get_listing(
        gen, "client_list", key, q.ClientPage, loader.load, _page_ids, loader.reload_rows
    )


async def client_list_html(
    res: Resources, gen: Generation, query: ListQuery, template: str, render: Callable[[q.ClientPage], Rendered]
) -> Rendered:
    """A list fragment's HTML, cached whole (same tiers, generations and single flight as the rows): a hit skips
    PostgreSQL and Jinja. ``render`` must use no request data; the query text is in it as typed, so the key keeps
    its case; the templates' digest keeps a deploy from serving old markup."""
    studio = await studio_of(res, gen.supplier_id)
    loader = _ListLoader(res, gen.supplier_id, query, studio)

    def fragment_of(rows: q.ClientPage) -> ListFragment:
        return ListFragment(msgspec.msgpack.encode(rows), render(rows))

    async def load_fragment() -> ListFragment:
        return fragment_of(await loader.load())

    async def refresh_fragment(cached: ListFragment, changed: frozenset[int]) -> ListFragment | None:
        rows = await loader.reload_rows(_PAGE.decode(cached.packed_rows), changed)
        return fragment_of(rows) if rows is not None else None

    got = await res.cache.get_listing(
        gen, "client_list_html", _html_key(res, query, template, studio), ListFragment, load_fragment, _fragment_ids,
        refresh_fragment,
    )  # fmt: skip
    return got.html


def _html_key(res: Resources, query: ListQuery, template: str, studio: Studio) -> tuple[Hashable, ...]:
    # The rendering shows dates in the studio's style: its settings are part of what is kept.
    today = studio.today().isoformat()
    return (query.text, query.upcoming, query.cursor or "", today, template, res.cache.build, studio)


async def kept_list_html(res: Resources, gen: Generation, query: ListQuery, template: str) -> Rendered | None:
    """The list fragment's rendering when this process holds it for ``gen`` (no I/O but the studio's settings,
    themselves in memory), else None."""
    studio = await studio_of(res, gen.supplier_id)
    got = res.cache.peek_listing(gen, "client_list_html", _html_key(res, query, template, studio))
    return got.html if isinstance(got, ListFragment) else None


async def client_detail(res: Resources, supplier_id: int, client_id: int) -> ClientDetail | None:
    async def load() -> ClientDetail | None:
        async with tenant(res.pool, supplier_id) as conn:
            client = await q.get_client(conn, client_id)
            if client is None:
                return None
            return ClientDetail(client, await notes_q.list_notes(conn, supplier_id, client_id))

    gen = await res.cache.generation(supplier_id, f"c:{client_id}")
    return await res.cache.get(gen, "client_detail", (client_id,), ClientDetail | None, load)
