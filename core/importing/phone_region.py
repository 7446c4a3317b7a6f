"""Which country a file's phone numbers are written for, decided from the file like its date order.

A studio's HoneyBook or Dubsado export of American couples writes "(312) 573-3291": read in the studio's own
country (GB) that is no number at all, and before this it was stored as "+443125733291". So before the first row
is cleaned, the look-ahead rows' numbers written without a country code are tried in the studio's country and in
the countries photographers' files come from. When most are valid in one other country and not in the studio's,
the file is read in that country, and the preview says so (the photographer can choose another).

Numbers written with their country code ("+1 312 …", "0044 …") decide nothing: they read the same everywhere.
"""

from __future__ import annotations

import contextlib
from typing import Literal

import msgspec
import phonenumbers

from core.importing.contact import NormaliseError, normalise_phone

# Where wedding photographers' clients' numbers come from most; the studio's own country is always tried first.
# Germany and Italy are left out: their numbers come in so many lengths that a file's odd digits often "fit" there
# (4 of 5 numbers of a UK studio's file with two foreign ones did), so they would win files they do not explain.
CANDIDATE_REGIONS: tuple[str, ...] = ("US", "GB", "CA", "AU", "NZ", "IE", "ZA", "FR", "ES", "NL")
SAMPLE_NUMBERS = 100  # numbers tried; each is tried in every candidate, so this bounds the look-ahead's cost


def calling_code(region: str) -> int:
    return int(phonenumbers.country_code_for_region(region))


class PhoneRegionDecision(msgspec.Struct, frozen=True):
    region: str
    reason: Literal["chosen", "studio", "file"]
    studio_region: str
    sampled: int = 0  # national numbers looked at
    fit_studio: int = 0  # of which valid in the studio's country
    fit_region: int = 0  # of which valid in ``region``

    @property
    def message(self) -> str | None:
        """What the preview says, when the file is read in a country other than the studio's."""
        if self.reason == "file":
            return (
                f"Phone numbers are read as {self.region} numbers (+{calling_code(self.region)}): "
                f"{self.fit_region} of the {self.sampled} we looked at are {self.region} numbers, "
                f"{self.fit_studio} are {self.studio_region} numbers."
            )
        if self.reason == "chosen" and self.region != self.studio_region:
            return f"Phone numbers are read as {self.region} numbers (+{calling_code(self.region)}), as you chose."
        return None


def _national(text: str) -> bool:
    """A number written without its country code, so the country it is read in matters."""
    stripped = text.strip().lstrip("(")
    return any(c.isdigit() for c in stripped) and not stripped.startswith(("+", "00"))


class PhoneRegionDetector:
    def __init__(self) -> None:
        self.sampled = 0
        self._cells: list[str] = []

    def feed(self, text: str) -> None:
        if self.sampled < SAMPLE_NUMBERS and _national(text):
            self.sampled += 1
            self._cells.append(text)

    def _fits(self, region: str) -> int:
        fits = 0
        for cell in self._cells:
            with contextlib.suppress(NormaliseError):
                fits += normalise_phone(cell, region) is not None
        return fits

    def decide(self, studio_region: str) -> PhoneRegionDecision:
        studio = studio_region.upper()
        if not self._cells:
            return PhoneRegionDecision(studio, "studio", studio)
        fit_studio = self._fits(studio)
        if 2 * fit_studio >= self.sampled:  # most are the studio's own: nothing to decide
            return PhoneRegionDecision(studio, "studio", studio, self.sampled, fit_studio, fit_studio)
        best, fit_best = studio, fit_studio
        for region in CANDIDATE_REGIONS:
            if region != studio and (fits := self._fits(region)) > fit_best:
                best, fit_best = region, fits
        # Only a country that explains at least three in four: a studio's own file with a few unallocated numbers
        # stays its own.
        if best == studio or 4 * fit_best < 3 * self.sampled:
            return PhoneRegionDecision(studio, "studio", studio, self.sampled, fit_studio, fit_studio)
        return PhoneRegionDecision(best, "file", studio, self.sampled, fit_studio, fit_best)


# The one numbering plan whose national numbers are told apart from everyone else's by their shape: ten digits,
# area code first ("(312) 573-3291"). A European number written nationally ("06 12 34 56 78") could be French,
# South African or Dutch, so it is not guessed at.
_NANP = "US"


def phone_elsewhere(text: str, region: str) -> tuple[str, str] | None:
    """(E.164, "US") when ``text``, written without a country code and no number in ``region``, is a valid North
    American number; None otherwise (or when the region is North American already)."""
    if region in ("US", "CA") or not _national(text):
        return None
    with contextlib.suppress(NormaliseError):
        number = normalise_phone(text, _NANP)
        if number is not None:
            return number, _NANP
    return None
