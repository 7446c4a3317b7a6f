"""Who the clients of each job are, and where the wedding is.

Tave's job list carries neither people nor venue; they live in /job-contact, /address-book and
/event. For a full import we read those three lists once (a few hundred requests for 10,000
couples) rather than three requests per job; for an incremental run with a handful of changed
jobs, we ask per job. Jobs that appear after the bulk read (new while we page) fall back to the
per-job path, so they are never imported without their people.

A full import reads the links and events first, then the contacts in a thread of their own
(``start_bulk``) while job pages are turned into couples: a page waits only until the contacts
its jobs link to have arrived (``wait_for``), so its couples are cleaned and written while later
contacts are still being read, instead of the whole contact list standing before the first couple.
Pages still come out in order, each complete, so checkpoints mean what they did.

With a ``PageStore`` each page of these bulk reads is kept as it is read (only what the import uses), and a later
attempt of the same job replays the kept pages and goes on reading after the last one, instead of from page 1.
Records that moved between pages meanwhile are not lost: a job whose links were not read, and a contact or an
event that was not, are fetched by id (``ensure``), as for jobs new since the read.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from collections.abc import Callable, Generator, Iterable
from typing import Any, Protocol

import msgspec

from core.providers.tave_wire import Collection, EventRecord, JobContactRecord, JobRecord, PersonRecord

Venue = tuple[str | None, str | None]
Walk = Callable[[str, Any, str, dict[str, str], int], Generator[tuple[int, Collection[Any]], None, None]]
GetOne = Callable[[str, Any, str], Any]


class PageStore(Protocol):
    """Where a job keeps the pages of its bulk reads for its next attempt (``jobs`` keeps them in PostgreSQL)."""

    def saved(self, resource: str) -> list[bytes]: ...

    def save(self, resource: str, page: int, payload: bytes) -> None: ...


def _venue(event: EventRecord) -> Venue:
    address = event.location.address if event.location else None
    if address is None:
        return None, None
    parts = [address.street_address, address.city, address.state, address.postal_code, address.country]
    text = ", ".join(p for p in parts if p)
    return address.name, text or None


class JobDetails:
    def __init__(self, walk: Walk, get_one: GetOne, store: PageStore | None = None) -> None:
        self._walk = walk
        self._get_one = get_one
        self._store = store
        self.bulk_loaded = False
        self.client_links: dict[str, list[str]] = defaultdict(list)
        self.known_jobs: set[str] = set()
        self.people: dict[str, PersonRecord] = {}
        # Events as read. A venue is made when its couple is (venue_for), not for every event while the
        # links and events are read, before any couple can be.
        self.events: dict[str, EventRecord] = {}  # by event id
        self.event_by_job: dict[str, EventRecord] = {}
        # Set by start_bulk while the contacts are read in their own thread.
        self._contacts: threading.Thread | None = None
        self._arrived = threading.Condition()
        self._contacts_done = True
        self._contacts_error: BaseException | None = None
        self._stop = threading.Event()

    def load_bulk(self) -> None:
        if self.bulk_loaded:
            return
        self._read_links_and_events()
        wanted = {cid for ids in self.client_links.values() for cid in ids}
        for people in self._pages("address-book", PersonRecord, "contacts", lambda p: p.id in wanted):
            for person in people:
                if person.id in wanted:
                    self.people[person.id] = person
        self.bulk_loaded = True

    def start_bulk(self) -> None:
        """As ``load_bulk``, but the contacts are read in a thread while the caller goes on; call
        ``wait_for`` before using a job's people, and ``close`` when done."""
        if self.bulk_loaded:
            return
        self._read_links_and_events()
        self.bulk_loaded = True
        self._contacts_done = False
        wanted = {cid for ids in self.client_links.values() for cid in ids}
        # A daemon, never joined: stopping it may wait on a request sleeping out a Retry-After.
        self._contacts = threading.Thread(target=self._read_contacts, args=(wanted,), name="tave-contacts", daemon=True)
        self._contacts.start()

    def _pages(self, path: str, kind: Any, label: str, keep: Callable[[Any], bool]) -> Generator[list[Any], None, None]:
        """The items of each page of a bulk read: first the pages an earlier attempt kept, then the rest from Tave,
        each kept (the items ``keep`` accepts) once the caller has taken it."""
        start = 1
        if self._store is not None:
            for payload in self._store.saved(path):
                page_no, last, items = msgspec.msgpack.decode(payload, type=tuple[int, bool, list[kind]])
                yield items
                if last:
                    return
                start = page_no + 1
        pages = self._walk(path, Collection[kind], label, {}, start)
        try:
            for page_no, page in pages:
                yield page.items
                if self._store is not None:
                    last = not page.items or page_no >= page.meta.total_pages
                    kept = [item for item in page.items if keep(item)]
                    self._store.save(path, page_no, msgspec.msgpack.encode((page_no, last, kept)))
        finally:
            pages.close()

    def _read_links_and_events(self) -> None:
        for links in self._pages("job-contact", JobContactRecord, "job contacts", lambda _link: True):
            for link in links:
                self._add_link(link)
        for events in self._pages("event", EventRecord, "events", lambda _event: True):
            for event in events:
                self._add_event(event)

    def _read_contacts(self, wanted: set[str]) -> None:
        pages = self._pages("address-book", PersonRecord, "contacts", lambda person: person.id in wanted)
        try:
            for people in pages:
                with self._arrived:
                    for person in people:
                        if person.id in wanted:
                            self.people[person.id] = person
                    self._arrived.notify_all()
                if self._stop.is_set():
                    return
        except BaseException as exc:  # handed to the thread making couples, which raises it (wait_for)
            self._contacts_error = exc
        finally:
            pages.close()
            with self._arrived:
                self._contacts_done = True
                self._arrived.notify_all()

    def wait_for(self, jobs: Iterable[JobRecord]) -> None:
        """Return once the contacts linked to ``jobs`` have been read (or the contact list has ended:
        anything still missing is then fetched by id in ``ensure``). Raises what stopped the read."""
        if self._contacts_done and self._contacts_error is None:
            return
        missing = [c for job in jobs for c in self.client_links.get(job.id, ()) if c not in self.people]
        with self._arrived:
            while missing and not self._contacts_done and self._contacts_error is None:
                self._arrived.wait()
                missing = [c for c in missing if c not in self.people]
        if self._contacts_error is not None:
            raise self._contacts_error

    def close(self) -> None:
        """Stop reading contacts, after the page in hand."""
        self._stop.set()

    def _add_link(self, link: JobContactRecord) -> None:
        self.known_jobs.add(link.job_id)
        if link.client and link.contact_id not in self.client_links[link.job_id]:
            self.client_links[link.job_id].append(link.contact_id)

    def _add_event(self, event: EventRecord) -> None:
        self.events[event.id] = event
        if event.job_id and event.job_id not in self.event_by_job:
            self.event_by_job[event.job_id] = event

    def ensure(self, jobs: Iterable[JobRecord]) -> None:
        """Fetch people and venue for jobs the bulk read did not cover."""
        for job in jobs:
            if job.id not in self.known_jobs:
                links: list[JobContactRecord] = []
                for _, page in self._walk(
                    "job-contact", Collection[JobContactRecord], "job contacts", {"jobId": job.id}, 1
                ):
                    links.extend(page.items)
                self.known_jobs.add(job.id)
                for link in sorted(links, key=lambda link: link.id):
                    self._add_link(link)
            for contact_id in self.client_links.get(job.id, []):
                if contact_id not in self.people:
                    self.people[contact_id] = self._get_one(f"address-book/{contact_id}", PersonRecord, "a contact")
            session = job.primary_session_id
            if session and session not in self.events:
                self._add_event(self._get_one(f"event/{session}", EventRecord, "an event"))

    def people_for(self, job_id: str) -> list[PersonRecord]:
        return [self.people[c] for c in self.client_links.get(job_id, []) if c in self.people]

    def venue_for(self, job: JobRecord) -> Venue:
        event = self.events.get(job.primary_session_id) if job.primary_session_id else None
        if event is None:
            event = self.event_by_job.get(job.id)
        return _venue(event) if event is not None else (None, None)
