"""Deterministic synthetic couples: job ``i`` is generated from (seed, i) alone, so any page of a
million-client studio costs O(page size) time and memory."""

from __future__ import annotations

import random
import unicodedata
from dataclasses import dataclass
from datetime import date, timedelta
from functools import lru_cache

from jobs.sandbox import wordlists as w


@dataclass(frozen=True, slots=True)
class SynthPerson:
    first: str
    last: str
    email: str | None
    cell: str | None
    home: str | None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class SynthJob:
    job_type: str
    stage: str
    event_date: date
    inquiry_date: date
    booking_date: date | None
    lead_source: str | None
    guest_count: int | None
    venue: tuple[str, str, str, str, str, str, str] | None
    partners: tuple[SynthPerson, SynthPerson]
    # When False the second person is a planner linked as a non-client contact: a one-person
    # booking still has two contact slots, which keeps the person list indexable by arithmetic.
    second_is_client: bool
    web_lead: bool


@lru_cache(maxsize=4096)  # names come from small word lists
def _ascii(text: str) -> str:
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return "".join(c for c in folded.lower() if c.isalnum())


def _email(rng: random.Random, first: str, last: str) -> str | None:
    roll = rng.random()
    if roll < 0.03:
        return None
    f, la = _ascii(first) or "guest", _ascii(last) or "guest"
    local = rng.choice((f"{f}.{la}", f"{f[0]}{la}", f"{f}{la}{rng.randint(1, 99)}", f"{f}_{la}"))
    domain = rng.choice(w.EMAIL_DOMAINS)
    if roll < 0.04:
        # About 1% are unusable, as typed into a web form in a hurry.
        return rng.choice((f"{f}@", f"{f}.{la}{domain}", f"{local}@@{domain}", f"{local} at {domain}"))
    value = f"{local}@{domain}"
    if roll < 0.14:
        value = f"{local.title()}@{domain.title()}"
    if rng.random() < 0.05:
        value = rng.choice((f" {value}", f"{value} ", f"  {value}\t"))
    return value


def _uk_phone(rng: random.Random) -> str:
    n = f"{rng.randint(0, 999):03d}"
    return rng.choice(
        (f"020 7946 0{n}", f"02079460{n}", f"+44 20 7946 0{n}", f"+44 (0)20 7946 0 {n}", f"020-7946-0{n}")
    )


def _us_phone(rng: random.Random) -> str:
    area, n = rng.choice(w.US_AREA_CODES), f"01{rng.randint(0, 99):02d}"
    return rng.choice(
        (
            f"+1 ({area}) 555-{n}",
            f"{area}.555.{n} x{rng.randint(1, 9)}",
            f"({area}) 555-{n}",
            f"{area}-555-{n}",
            f"1{area}555{n}",
        )
    )


def _phone(rng: random.Random, country: str) -> str | None:
    roll = rng.random()
    if roll < 0.08:
        return None
    if roll < 0.10:
        return rng.choice(("n/a", "call after 6pm", "TBC"))
    return _uk_phone(rng) if country == "GB" else _us_phone(rng)


def _person(rng: random.Random, country: str, last: str | None = None) -> SynthPerson:
    firsts, lasts = rng.choice(w.NAME_POOLS)
    first = rng.choice(firsts)
    last = last or rng.choice(lasts)
    home = _phone(rng, country) if rng.random() < 0.15 else None
    return SynthPerson(first, last, _email(rng, first, last), _phone(rng, country), home)


def synth_job(seed: int, index: int, today: date) -> SynthJob:
    rng = random.Random(f"wedsync-sandbox:{seed}:{index}")
    wedding = rng.random() >= 0.06
    job_type = rng.choice(w.WEDDING_JOB_TYPES if wedding else w.OTHER_JOB_TYPES)
    venue: tuple[str, str, str, str, str, str, str] | None = rng.choice(
        w.VENUES_GB if rng.random() < 0.55 else w.VENUES_US
    )
    assert venue is not None
    country = venue[5]
    if rng.random() < 0.05 or not wedding:
        venue = None
    event_date = today + timedelta(days=rng.randint(-730, 730))
    if event_date < today:
        stage = "completed" if rng.random() < 0.7 else "fulfillment"
    else:
        stage = "booked" if rng.random() < 0.65 else "lead"
    inquiry = event_date - timedelta(days=rng.randint(45, 600))
    booking = None
    if stage != "lead":
        booking = min(event_date, inquiry + timedelta(days=rng.randint(2, 45)))
    p1 = _person(rng, country)
    second_is_client = wedding and rng.random() < 0.88
    if second_is_client:
        p2 = _person(rng, country, last=p1.last if rng.random() < 0.25 else None)
    else:
        planner = _person(rng, country)
        p2 = SynthPerson(planner.first, planner.last, planner.email, planner.cell, None, "Bloom & Co Planning")
    return SynthJob(
        job_type=job_type,
        stage=stage,
        event_date=event_date,
        inquiry_date=inquiry,
        booking_date=booking,
        lead_source=rng.choice(w.LEAD_SOURCES) if rng.random() < 0.9 else None,
        guest_count=rng.randint(12, 250) if rng.random() < 0.8 else None,
        venue=venue,
        partners=(p1, p2),
        second_is_client=second_is_client,
        web_lead=rng.random() < 0.4,
    )
