"""The sandbox studio: which jobs exist, in which order, and what each record looks like.

Nothing is materialised. Base job ``i`` (0 <= i < size) is created at ``start + i * step`` and
modified a little later, so "id order" and "modified order" are both plain arithmetic. Edits
("touch") and head inserts ("shift") are the only state, kept in ``hot``: index -> modified.
Inserted jobs get negative indices, which gives them ids that sort before every existing job,
so they land at the head of the default (id ascending) order while a client is paging.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, Literal, NamedTuple

import msgspec

from jobs.sandbox import ids
from jobs.sandbox.config import SandboxConfig
from jobs.sandbox.synth import SynthJob, SynthPerson, synth_job

Order = Literal["id_asc", "id_desc", "mod_desc", "mod_asc"]
Kind = Literal["job", "person", "jobcontact", "event"]
# How many records of each kind one job owns (two contact slots per job, see synth.SynthJob).
MULTIPLICITY: dict[str, int] = {"job": 1, "event": 1, "person": 2, "jobcontact": 2}
_SPAN_S = 4 * 365 * 86400
_UNIX_DAY = date(1970, 1, 1)
# Jobs kept ready to render: an import reads each job's records in four separate walks (jobs,
# job contacts, contacts, events), so a cache smaller than the studio makes every job four times.
# About 1.4 KB each: ~140 MB at most, reached only when a studio this big is read end to end.
CARD_CACHE = 100_000
# Studios up to this size have every record encoded once, when the world is made, as a CRM keeps its
# records in a database rather than making them up per request: a page is then its records' bytes
# joined. ~2.7 KB a job (~270 MB for 100,000) and ~7 CPU-s to build, before the server starts
# listening. Bigger studios render each record on demand (see CARD_CACHE); a touched or inserted job is
# always rendered live, so its new ``modified`` shows.
PRELOAD_MAX = 100_000


_JOB, _EVENT = ids.SLOT_INDEX["job", 0], ids.SLOT_INDEX["event", 0]


class _Card(NamedTuple):
    """What every record of one job shares, made once: its synthetic data, ids (``ids.SLOTS``
    order; each appears in two or three records), creation stamp and untouched modified stamp."""

    synth: SynthJob
    ids: tuple[str, ...]
    created: str
    modified: str  # until touched: a touched job's stamp comes from ``hot``


@lru_cache(maxsize=8192)
def _day(days: int) -> str:
    return (_UNIX_DAY + timedelta(days=days)).isoformat()


def _ts(seconds: int) -> str:
    # Arithmetic plus a cached day instead of datetime + strftime: two stamps per record rendered.
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{_day(days)}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


def _phone(raw: str | None) -> dict[str, Any] | None:
    # Workspace returns unparseable input verbatim in `formatted` with the other parts null;
    # we serve every number that way so the importer sees the mess people really type.
    if raw is None:
        return None
    return {"id": None, "formatted": raw, "e164": None, "extension": None, "telUri": None}


class World:
    def __init__(self, config: SandboxConfig) -> None:
        self.seed = config.seed
        self.size = config.size
        self.touch_share = config.touch_share
        self.today = date.fromisoformat(config.reference_date)
        ref_s = int(datetime(self.today.year, self.today.month, self.today.day, tzinfo=UTC).timestamp())
        self.step_s = max(1, _SPAN_S // self.size)
        self.start_s = ref_s - self.step_s * self.size
        self.clock_s = self.start_s + self.step_s * self.size + 60
        self.extras = 0
        self.hot: dict[int, int] = {}
        self._hot_order: list[int] | None = None
        self._touched_desc: list[int] = []
        self._touch_rng = random.Random(f"touch:{self.seed}")
        self._card = lru_cache(maxsize=CARD_CACHE)(self._make_card)
        self._encoder = msgspec.json.Encoder()
        # kind -> encoded records of untouched base jobs, at ``index * MULTIPLICITY[kind] + slot``.
        self._encoded: dict[str, list[bytes]] = self._preload() if self.size <= PRELOAD_MAX else {}

    # --- time and identity -------------------------------------------------------------------
    def created_s(self, index: int) -> int:
        return self.start_s + index * self.step_s

    def modified_s(self, index: int) -> int:
        hot = self.hot.get(index)
        if hot is not None:
            return hot
        return self._untouched_modified_s(index)

    def _untouched_modified_s(self, index: int) -> int:
        return self.created_s(index) + (index * 2654435761 + self.seed * 97) % self.step_s

    def record_id(self, kind: str, index: int, slot: int = 0) -> str:
        return self._card(index).ids[ids.SLOT_INDEX[kind, slot]]

    def locate(self, record_id: str, kind: str) -> tuple[int, int] | None:
        """Map an id back to (job index, slot), or None if no such record exists now."""
        parts = ids.split_id(record_id)
        if parts is None:
            return None
        created_ms, found_kind, slot, hashed = parts
        if found_kind != kind or created_ms % 1000 or slot >= MULTIPLICITY[kind]:
            return None
        offset = created_ms // 1000 - self.start_s
        if offset % self.step_s:
            return None
        index = offset // self.step_s
        if not -self.extras <= index < self.size or not ids.verify(self.seed, kind, index, slot, hashed):
            return None
        return index, slot

    # --- ordering ----------------------------------------------------------------------------
    @property
    def total_jobs(self) -> int:
        return self.size + self.extras

    def _hot_sorted(self) -> list[int]:
        if self._hot_order is None:
            self._hot_order = sorted(self.hot, key=lambda i: (self.hot[i], i), reverse=True)
        return self._hot_order

    def job_at(self, order: Order, pos: int) -> int:
        if order == "id_asc":
            return pos - self.extras
        if order == "id_desc":
            return self.size - 1 - pos
        if order == "mod_asc":
            return self.job_at("mod_desc", self.total_jobs - 1 - pos)
        hot = self._hot_sorted()
        if pos < len(hot):
            return hot[pos]
        # The j-th untouched base job counting down from the newest: start from the answer with
        # no touches and step past each touched index at or above it (touched list is small).
        x = self.size - 1 - (pos - len(hot))
        for t in self._touched_desc:
            if t >= x:
                x -= 1
            else:
                break
        return x

    def page(self, kind: Kind, order: Order, page: int, page_size: int) -> tuple[list[dict[str, Any]], int]:
        m = MULTIPLICITY[kind]
        total = self.total_jobs * m
        first = (page - 1) * page_size
        items = []
        for pos in range(first, min(first + page_size, total)):
            index = self.job_at(order, pos // m)
            slot = pos % m if order in ("id_asc", "mod_asc") else m - 1 - pos % m
            items.append(self.render(kind, index, slot))
        return items, total

    def page_bytes(self, kind: Kind, order: Order, page: int, page_size: int) -> tuple[list[bytes], int]:
        """``page`` with each record JSON-encoded, the same bytes ``msgspec.json.encode`` gives its dict."""
        m = MULTIPLICITY[kind]
        total = self.total_jobs * m
        first = (page - 1) * page_size
        end = min(first + page_size, total)
        cached = self._encoded.get(kind)
        if cached is not None and order == "id_asc" and not self.hot:
            return cached[first:end], total  # nothing touched or inserted: id order is storage order
        items = []
        for pos in range(first, end):
            index = self.job_at(order, pos // m)
            slot = pos % m if order in ("id_asc", "mod_asc") else m - 1 - pos % m
            if cached is not None and index >= 0 and index not in self.hot:
                items.append(cached[index * m + slot])
            else:
                items.append(self._encoder.encode(self.render(kind, index, slot)))
        return items, total

    # --- changes -----------------------------------------------------------------------------
    def _changed(self) -> None:
        self._hot_order = None
        self._touched_desc = sorted((i for i in self.hot if i >= 0), reverse=True)

    def touch(self, count: int, reuse_latest: bool) -> list[int]:
        free = self.size - len([i for i in self.hot if i >= 0])
        count = max(0, min(count, free))
        chosen: list[int] = []
        taken = set(self.hot)
        while len(chosen) < count:
            i = self._touch_rng.randrange(self.size)
            if i not in taken:
                taken.add(i)
                chosen.append(i)
        if reuse_latest and self.hot:
            stamp = max(self.hot.values())
        else:
            self.clock_s += 1
            stamp = self.clock_s
        for n, i in enumerate(chosen):
            if n and n % self.touch_share == 0 and not reuse_latest:
                self.clock_s += 1
                stamp = self.clock_s
            self.hot[i] = stamp
        self._changed()
        return chosen

    def insert_head(self, count: int) -> None:
        self.clock_s += 1
        for _ in range(count):
            self.extras += 1
            self.hot[-self.extras] = self.clock_s
        self._changed()

    # --- rendering ---------------------------------------------------------------------------
    def _preload(self) -> dict[str, list[bytes]]:
        encode = self._encoder.encode
        jobs, events, people, links = [], [], [], []
        for index in range(self.size):
            card = self._make_card(index)  # not kept: the encoded records are what is served
            jobs.append(encode(self._job(card, index)))
            events.append(encode(self._event(card, index)))
            for slot in (0, 1):
                people.append(encode(self._person(card, index, slot)))
                links.append(encode(self._job_contact(card, index, slot)))
        return {"job": jobs, "event": events, "person": people, "jobcontact": links}

    def _make_card(self, index: int) -> _Card:
        created_s = self.created_s(index)
        made = ids.job_ids(self.seed, index, created_s * 1000)
        synth = synth_job(self.seed, index, self.today)
        return _Card(synth, made, _ts(created_s), _ts(self._untouched_modified_s(index)))

    def synth(self, index: int) -> SynthJob:
        return self._card(index).synth

    def render(self, kind: Kind, index: int, slot: int = 0) -> dict[str, Any]:
        card = self._card(index)  # once per record: the parts below take it rather than look it up again
        if kind == "job":
            return self._job(card, index)
        if kind == "person":
            return self._person(card, index, slot)
        if kind == "jobcontact":
            return self._job_contact(card, index, slot)
        return self._event(card, index)

    def _common(self, card: _Card, kind: str, index: int, slot: int, path: str) -> dict[str, Any]:
        rid = card.ids[ids.SLOT_INDEX[kind, slot]]
        return {
            "links": {"self": {"href": f"/v2/{path}/{rid}"}},
            "id": rid,
            "created": card.created,
            "modified": card.modified if (hot := self.hot.get(index)) is None else _ts(hot),
            "hidden": False,
        }

    def _job(self, card: _Card, index: int) -> dict[str, Any]:
        s = card.synth
        p1, p2 = s.partners
        name = f"{p1.first} & {p2.first}" if s.second_is_client else f"{p1.first} {p1.last}"
        return self._common(card, "job", index, 0, "job") | {
            "name": f"{name} - {s.job_type}",
            "title": f"{name} {s.event_date.isoformat()}",
            "eventDate": s.event_date.isoformat(),
            "bookingDate": s.booking_date.isoformat() if s.booking_date else None,
            "inquiryDate": s.inquiry_date.isoformat(),
            "stage": s.stage,
            "closed": False,
            "jobTypeName": s.job_type,
            "leadSourceName": s.lead_source,
            "guestCount": s.guest_count,
            "primarySessionId": card.ids[_EVENT],
            "webLead": s.web_lead,
            "customFields": [],
        }

    def _person(self, card: _Card, index: int, slot: int) -> dict[str, Any]:
        s = card.synth
        p: SynthPerson = s.partners[slot]
        address = None
        if slot == 0 and s.venue is not None and index % 2 == 0:
            _, street, town, region, postcode, country, _ = s.venue
            address = {
                "streetAddress": f"{index % 90 + 1} {street}",
                "city": town,
                "state": region or None,
                "postalCode": postcode,
                "country": country,
            }
        anniversary = s.event_date.isoformat() if s.stage == "completed" and slot < 2 else None
        return self._common(card, "person", index, slot, "address-book") | {
            "kind": "person",
            "firstName": p.first,
            "lastName": p.last,
            "name": f"{p.first} {p.last}",
            "email": p.email,
            "cellPhone": _phone(p.cell),
            "homePhone": _phone(p.home),
            "workPhone": None,
            "companyName": p.company,
            "anniversary": anniversary if (slot == 0 or s.second_is_client) else None,
            "mailingAddress": address,
            "customFields": [],
        }

    def _job_contact(self, card: _Card, index: int, slot: int) -> dict[str, Any]:
        client = slot == 0 or card.synth.second_is_client
        return self._common(card, "jobcontact", index, slot, "job-contact") | {
            "client": client,
            "contactId": card.ids[ids.SLOT_INDEX["person", slot]],
            "jobId": card.ids[_JOB],
            "jobRoles": [],
            "roleKinds": ["client"] if client else ["vendor"],
        }

    def _event(self, card: _Card, index: int) -> dict[str, Any]:
        s = card.synth
        location = None
        tz = "Europe/London"
        if s.venue is not None:
            name, street, town, region, postcode, country, tz = s.venue
            location = {
                "id": None,
                "address": {
                    "name": name,
                    "streetAddress": street,
                    "city": town,
                    "state": region or None,
                    "postalCode": postcode,
                    "country": country,
                },
            }
        return self._common(card, "event", index, 0, "event") | {
            "jobId": card.ids[_JOB],
            "name": s.job_type,
            "channel": "InPerson",
            "allDay": False,
            "startDate": s.event_date.isoformat(),
            "startTime": "13:00:00",
            "timezoneName": tz,
            "location": location,
        }
