"""Tave / VSCO Workspace API v2 client: wedding jobs and their clients, as couples.

Full import (``iter_couples``) pages ``/job`` in id order. Offsets are not stable while a
studio is busy (new or restored jobs can appear ahead of our position), so we dedupe by job id
across pages and watch ``meta.totalItems``: if it changed during a pass we go round again from
page 1 and yield only jobs not yet seen, up to ``max_passes``.

Incremental sync (``iter_changed_since``) walks ``sortBy=modified desc`` (Tave has no
"modified since" filter) until it passes the saved cursor, reading inclusively and skipping the
ids already taken at exactly the cursor timestamp.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Generator, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from functools import lru_cache
from typing import Any
from urllib.parse import urlencode

import httpx
import msgspec

from core.providers.addresses import PublicOnlyTransport
from core.providers.errors import ProviderError
from core.providers.http import OnWait, RetryingHttp, RetryPolicy, Sleep
from core.providers.tave_details import JobDetails, PageStore
from core.providers.tave_models import (
    ConnectionCheck,
    TaveCouple,
    TaveCursor,
    TavePage,
    TavePartner,
)
from core.providers.tave_wire import Collection, JobRecord, PersonRecord

# Told of each page read, in order: (what is being read, e.g. "contacts"; page; pages in all).
OnRead = Callable[[str, int, int], None]

_WEDDING_WORDS = ("wedding", "elopement", "marriage", "civil partnership", "nuptial", "vow")
_OTHER_WORDS = (
    "portrait",
    "headshot",
    "newborn",
    "family",
    "maternity",
    "boudoir",
    "commercial",
    "corporate",
    "product",
    "school",
    "senior",
    "pet",
    "cake smash",
)
_EPOCH = "1970-01-01T00:00:00Z"


@lru_cache(maxsize=4096)  # a studio has a handful of job types and 100,000 jobs
def is_wedding_job(job_type: str | None) -> bool:
    """Skip only job types we recognise as something else: a studio's own wording for weddings
    ("Full Day Coverage") must not silently drop couples."""
    if not job_type:
        return True
    text = job_type.lower()
    if any(word in text for word in _WEDDING_WORDS):
        return True
    return not any(word in text for word in _OTHER_WORDS)


def _when(value: str) -> datetime:
    return datetime.fromisoformat(value)


def _partner(person: PersonRecord) -> TavePartner:
    # Mobile first, then home, then work; written out rather than built as lists, as it runs for
    # every partner of every couple (~190,000 for 100,000 clients).
    phone = alt = None
    for number in (person.cell_phone, person.home_phone, person.work_phone):
        raw = number.formatted or number.e164 if number is not None else None
        if raw:
            if phone is None:
                phone = raw
            else:
                alt = raw
                break
    return TavePartner(
        external_id=person.id,
        first_name=person.first_name,
        last_name=person.last_name,
        email=person.email,
        phone=phone,
        alt_phone=alt,
    )


class TaveClient:
    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        page_size: int = 100,
        timeout: float = 30.0,
        policy: RetryPolicy | None = None,
        sleep: Sleep = time.sleep,
        on_wait: OnWait | None = None,
        max_passes: int = 3,
        bulk_threshold: int = 300,
        is_wedding: Callable[[str | None], bool] = is_wedding_job,
        transport: httpx.BaseTransport | None = None,
        concurrency: int = 4,
        on_read: OnRead | None = None,
        allow_local: bool = False,
        pages: PageStore | None = None,
    ) -> None:
        if not 10 <= page_size <= 100:
            raise ValueError("Tave pages hold 10 to 100 items")
        self._base_url = base_url.rstrip("/") + "/"
        # Every request goes only to public addresses (loopback too with allow_local: the sandbox CRM), whatever
        # transport sends it: checked as it is sent, so addresses saved long ago are checked again.
        transport = PublicOnlyTransport(transport, allow_local=allow_local)
        self._client = httpx.Client(
            base_url=self._base_url,
            headers={"X-API-KEY": api_key, "Accept": "application/json"},
            timeout=timeout,
            transport=transport,
        )
        self._http = RetryingHttp(
            self._client, provider="Tave", policy=policy, sleep=sleep, on_wait=on_wait, transport=transport
        )
        self.page_size = page_size
        # Requests in flight at once per walk (pages read ahead). Per-account pacing, when set,
        # still caps the request rate: this only stops one slow round trip holding up the next.
        self.concurrency = concurrency
        self._on_read = on_read
        self._pages = pages  # a full import's bulk reads, kept for its next attempt
        self.max_passes = max_passes
        self.bulk_threshold = bulk_threshold
        self.is_wedding = is_wedding

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> TaveClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- transport ---------------------------------------------------------------------------
    def _decode(self, response: httpx.Response, kind: Any, what: str, page: int | None) -> Any:
        try:
            return msgspec.json.decode(response.content, type=kind)
        except (msgspec.DecodeError, msgspec.ValidationError):
            raise ProviderError(
                "malformed",
                f"Tave sent {what} in a form we couldn't read, so we stopped before importing "
                "anything wrong. Please try again later; if it keeps happening, let us know.",
                page=page,
            ) from None

    def _fetch(self, path: str, kind: Any, label: str, params: dict[str, str], page: int) -> Collection[Any]:
        what = f"page {page} of your {label}"
        # An absolute URL with its query already encoded: httpx parses it once instead of three times
        # (base URL merge, then params), measurable over thousands of pages.
        query = urlencode({**params, "page": page, "pageSize": self.page_size})
        response = self._http.request("GET", f"{self._base_url}{path}?{query}", what=what)
        collection: Collection[Any] = self._decode(response, kind, what, page)
        return collection

    def _walk(
        self, path: str, kind: Any, label: str, params: dict[str, str], start_page: int = 1
    ) -> Generator[tuple[int, Collection[Any]], None, None]:
        """Pages in order, each as it was when read. Later pages are requested ahead, at most
        ``concurrency`` at a time, so a 1,000-page list is not 1,000 round trips end to end. The
        window opens one page at a time (a walk that stops after its first page, like most
        incremental syncs, asks for little more), and whether to go on is decided exactly as in a
        one-by-one walk: from the page in hand, in order; pages fetched past the end are dropped."""
        window = max(1, self.concurrency)
        pool = ThreadPoolExecutor(max_workers=window, thread_name_prefix="tave-page") if window > 1 else None
        ahead: dict[int, Future[Collection[Any]]] = {}
        page, next_page, known_pages, done = start_page, start_page, start_page, 0
        try:
            while True:
                if pool is None:
                    collection = self._fetch(path, kind, label, params, page)
                else:
                    while next_page <= known_pages and len(ahead) < min(window, done + 1):
                        ahead[next_page] = pool.submit(self._fetch, path, kind, label, params, next_page)
                        next_page += 1
                    collection = ahead.pop(page).result()
                if self._on_read is not None:
                    self._on_read(label, page, collection.meta.total_pages)
                yield page, collection
                if not collection.items or page >= collection.meta.total_pages:
                    return
                page, done = page + 1, done + 1
                known_pages = max(page, collection.meta.total_pages)
                next_page = max(next_page, page)
        finally:
            for future in ahead.values():
                future.cancel()
            if pool is not None:
                # Never wait here: a request still in flight may be sleeping out a Retry-After.
                pool.shutdown(wait=False, cancel_futures=True)

    def _get_one(self, path: str, kind: Any, what: str) -> Any:
        return self._decode(self._http.request("GET", path, what=what), kind, what, None)

    # --- public API --------------------------------------------------------------------------
    def test_connection(self) -> ConnectionCheck:
        quick = RetryingHttp(
            self._client,
            provider="Tave",
            policy=RetryPolicy(max_attempts=2, max_rate_limited=2, base_delay=0.5, max_retry_after=5),
            sleep=self._http.sleep,
        )
        try:
            response = quick.request("GET", "job", params={"page": "1", "pageSize": "10"}, what="a test request")
            self._decode(response, Collection[JobRecord], "a test request", 1)
        except ProviderError as exc:
            return ConnectionCheck(ok=False, reason=exc.message)
        return ConnectionCheck(ok=True, reason="Connected to Tave.")

    def iter_couples(self, start_page: int = 1) -> Iterator[TavePage]:
        """Every wedding job as a couple, page by page. The last page carries the cursor for
        later incremental syncs, taken before the walk so edits made meanwhile are not missed."""
        baseline = self._newest_cursor()
        details = JobDetails(self._walk, self._get_one, self._pages)
        details.start_bulk()  # contacts go on being read while the first pages become couples
        try:
            seen: set[str] = set()
            pending: TavePage | None = None
            pass_number, first_page = 1, start_page
            while True:
                totals: set[int] = set()
                for page_no, collection in self._walk("job", Collection[JobRecord], "jobs", {}, first_page):
                    totals.add(collection.meta.total_items)
                    fresh = [job for job in collection.items if job.id not in seen]
                    seen.update(job.id for job in fresh)
                    page = self._page(page_no, fresh, details, collection, pass_number)
                    if pending is not None:
                        yield pending
                    pending = page
                if len(totals) <= 1 or pass_number >= self.max_passes:
                    break
                pass_number, first_page = pass_number + 1, 1
            last = pending or TavePage(page=start_page, couples=())
            yield msgspec.structs.replace(last, is_last=True, cursor=baseline)
        finally:
            details.close()

    def iter_changed_since(self, cursor: TaveCursor | None) -> Iterator[TavePage]:
        """Couples whose job changed since ``cursor`` (all of them when None), newest first."""
        if cursor is None:
            yield from self.iter_couples()
            return
        floor, taken = _when(cursor.modified), set(cursor.ids)
        details = JobDetails(self._walk, self._get_one)
        seen: set[str] = set()
        newest: tuple[datetime, str] | None = None
        newest_ids: set[str] = set()
        pending: TavePage | None = None
        changed = 0
        params = {"sortBy": "modified desc"}
        for page_no, collection in self._walk("job", Collection[JobRecord], "recent jobs", params):
            fresh: list[JobRecord] = []
            passed_cursor = False
            for job in collection.items:
                modified = _when(job.modified)
                if newest is None or modified > newest[0]:
                    newest, newest_ids = (modified, job.modified), {job.id}
                elif modified == newest[0]:
                    newest_ids.add(job.id)
                if modified < floor:
                    passed_cursor = True
                elif not (modified == floor and job.id in taken) and job.id not in seen:
                    seen.add(job.id)
                    fresh.append(job)
            if fresh:
                changed += len(fresh)
                if changed > self.bulk_threshold:
                    details.load_bulk()
                page = self._page(page_no, fresh, details, collection, 1)
                if pending is not None:
                    yield pending
                pending = page
            if passed_cursor:
                break
        if newest is None or newest[0] < floor:
            new_cursor = cursor
        elif newest[0] == floor:
            new_cursor = TaveCursor(cursor.modified, tuple(sorted(taken | newest_ids)))
        else:
            new_cursor = TaveCursor(newest[1], tuple(sorted(newest_ids)))
        last = pending or TavePage(page=1, couples=())
        yield msgspec.structs.replace(last, is_last=True, cursor=new_cursor)

    # --- helpers -----------------------------------------------------------------------------
    def _newest_cursor(self) -> TaveCursor:
        newest: str | None = None
        ids: list[str] = []
        for _, collection in self._walk("job", Collection[JobRecord], "recent jobs", {"sortBy": "modified desc"}):
            for job in collection.items:
                if newest is None:
                    newest = job.modified
                if _when(job.modified) != _when(newest):
                    return TaveCursor(newest, tuple(sorted(ids)))
                ids.append(job.id)
        return TaveCursor(newest or _EPOCH, tuple(sorted(ids)))

    def _page(
        self,
        page_no: int,
        jobs: Iterable[JobRecord],
        details: JobDetails,
        collection: Collection[Any],
        pass_number: int,
    ) -> TavePage:
        weddings: list[JobRecord] = []
        skipped: list[JobRecord] = []
        for job in jobs:
            (weddings if self.is_wedding(job.job_type_name) else skipped).append(job)
        details.wait_for(weddings)
        details.ensure(weddings)
        return TavePage(
            page=page_no,
            couples=tuple(self._couple(job, details) for job in weddings),
            skipped_ids=tuple(job.id for job in skipped),
            total_items=collection.meta.total_items,
            total_pages=collection.meta.total_pages,
            pass_number=pass_number,
        )

    @staticmethod
    def _couple(job: JobRecord, details: JobDetails) -> TaveCouple:
        partners = [_partner(p) for p in details.people_for(job.id)[:2]]
        venue_name, venue_address = details.venue_for(job)
        return TaveCouple(
            external_id=job.id,
            modified=job.modified,
            job_name=job.name,
            job_type=job.job_type_name,
            stage=job.stage,
            wedding_date=job.event_date,
            booking_date=job.booking_date,
            inquiry_date=job.inquiry_date,
            lead_source=job.lead_source_name,
            guest_count=job.guest_count,
            venue_name=venue_name,
            venue_address=venue_address,
            partner1=partners[0] if partners else None,
            partner2=partners[1] if len(partners) > 1 else None,
        )
