"""Email addresses and phone numbers."""

from __future__ import annotations

import re
from functools import lru_cache

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from phonenumbers import COUNTRY_CODE_TO_REGION_CODE
from phonenumbers.phonemetadata import PhoneMetadata

from core.importing.text import clean_text, shown


class NormaliseError(ValueError):
    """A value we cannot use; `message` completes "Row N: ..." in plain words."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


# Plain ASCII addresses of the everyday shape are accepted without email_validator, which
# costs ~40 µs a call (too slow for 100,000-row imports). The shortcut (_simple_email) is a
# strict subset of what email_validator accepts unchanged: dot-atom local part, letter-only
# TLD, no special-use domains, no "--" in the domain (the library refuses labels such as
# "ab--c" that are not Punycode); everything else goes through the full validator. A unit
# test checks the subset against the library on random addresses.
_SIMPLE_EMAIL = re.compile(
    r"[a-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[a-z0-9!#$%&'*+/=?^_`{|}~-]+)*"
    r"@(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}"
)
_SPECIAL_TLDS = frozenset({"arpa", "invalid", "local", "localhost", "onion", "test"})
_ANGLE = re.compile(r"<([^<>]*@[^<>]*)>")
_EMAIL_SPLIT = re.compile(r"[;,\s]+")


def _strip_wrappers(text: str) -> str:
    if "<" in text and (match := _ANGLE.search(text)):  # "Alex Smith <alex@example.com>"
        text = match.group(1)
    text = text.strip().strip("<>\"'()[]").strip()
    if text.lower().startswith("mailto:"):
        text = text[7:]
    return text


def _simple_email(candidate: str) -> bool:
    """Whether email_validator would accept ``candidate`` (lower-cased) and return it as it is."""
    local, _, domain = candidate.partition("@")
    return (
        len(candidate) <= 254
        and _SIMPLE_EMAIL.fullmatch(candidate) is not None
        and len(local) <= 64
        and "--" not in domain
        and domain.rpartition(".")[2] not in _SPECIAL_TLDS
    )


def normalise_email(text: str) -> str | None:
    """Return the lower-cased address, None for an empty cell, or raise NormaliseError."""
    cleaned = clean_text(text)
    if not cleaned:
        return None
    candidate = _strip_wrappers(cleaned).lower()
    if _simple_email(candidate):
        return candidate
    try:
        result = validate_email(candidate, check_deliverability=False)
    except EmailNotValidError:
        raise NormaliseError(f"'{shown(cleaned)}' is not a valid address") from None
    return result.normalized.lower()


def split_emails(text: str) -> list[str]:
    """Normalise a cell that may hold several addresses ("a@x.com; b@y.com")."""
    cleaned = clean_text(text)
    if not cleaned:
        return []
    if "<" in cleaned or cleaned.count("@") <= 1:
        single = normalise_email(cleaned)
        return [single] if single else []
    return [email for part in _EMAIL_SPLIT.split(cleaned) if part and (email := normalise_email(part))]


_SEPARATORS = re.compile(r"[\s\-.()/]+")
_TRUNK_IN_BRACKETS = re.compile(r"\(\s*0\s*\)")


@lru_cache(maxsize=512)
def _national_pattern(code: int) -> re.Pattern[str] | None:
    """The pattern every national number of a country code matches (its main region's)."""
    regions = COUNTRY_CODE_TO_REGION_CODE.get(code, ())
    metadata = PhoneMetadata.metadata_for_region(regions[0]) if regions else None
    if metadata is None or metadata.general_desc is None or not metadata.general_desc.national_number_pattern:
        return None
    return re.compile(metadata.general_desc.national_number_pattern)


@lru_cache(maxsize=1024)
def _possible_length(code: int, length: int) -> bool:
    """phonenumbers.is_possible_number for any number of this country code and national length.

    That check reads only the country code and the length of the national significant number (its
    possible lengths), so one answer per (code, length) is the library's own answer for every such
    number; building a PhoneNumber per row to ask it again cost a few µs a row.
    """
    number = phonenumbers.PhoneNumber(country_code=code, national_number=int("9" * length))
    return bool(phonenumbers.is_possible_number(number))


@lru_cache(maxsize=512)
def _region_prefixes(region: str) -> tuple[int, str] | None:
    """(country code, national trunk prefix) when plain digit rules are safe for a region."""
    metadata = PhoneMetadata.metadata_for_region(region)
    if metadata is None or metadata.country_code is None:
        return None
    if not metadata.national_prefix or metadata.national_prefix_transform_rule:
        return None
    return int(metadata.country_code), str(metadata.national_prefix)


def _fast_e164(text: str, region: str) -> str | None:
    """E.164 for the everyday shapes without phonenumbers.parse (~45 µs a call).

    Only two shapes qualify: "+<country><number>" and national numbers written with the
    trunk prefix ("07700 900123" in GB, "1 415 555 0134" or ten digits in the US/Canada).
    Anything else, or any number that is not valid for its region, goes to the full parser,
    so both paths agree (a unit test compares them).
    """
    digits = _SEPARATORS.sub("", _TRUNK_IN_BRACKETS.sub("", text) if "(" in text else text)
    if digits.startswith("+"):
        digits = digits[1:]
        if not digits.isdigit():
            return None
        for size in (1, 2, 3):
            code = int(digits[:size])
            if code in COUNTRY_CODE_TO_REGION_CODE:
                national = digits[size:]
                break
        else:
            return None
        if not national or national[0] == "0":
            return None
    else:
        prefixes = _region_prefixes(region)
        if prefixes is None or not digits.isdigit():
            return None
        code, trunk = prefixes
        if digits.startswith(trunk) and digits[len(trunk) : len(trunk) + 1] not in ("", "0", trunk):
            national = digits[len(trunk) :]
        elif trunk == "1" and len(digits) == 10 and code == 1:
            national = digits
        else:
            return None
    # Only numbers matching their country's number pattern take the shortcut; for odd ones
    # the full parser decides (it keeps or strips trunk digits in ways plain rules would not
    # reproduce). This is the first check phonenumbers' is_valid_number makes, minus the
    # per-type checks that cost most of its time.
    pattern = _national_pattern(code)
    if pattern is None or not pattern.fullmatch(national):
        return None
    if not _possible_length(code, len(str(int(national)))):  # the national significant number's length
        return None
    return f"+{code}{national}"


_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?e\+\d+", re.IGNORECASE)


@lru_cache(maxsize=8192)
def _parse_phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not phonenumbers.is_possible_number(number):
        # A cell with two numbers or some words around it: take the first number in it.
        match = next(iter(phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.POSSIBLE)), None)
        if match is None:
            return None
        number = match.number
        if not phonenumbers.is_possible_number(number):
            return None
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_phone(text: str, region: str) -> str | None:
    """Return E.164 ("+447700900123"), None for an empty cell, or raise NormaliseError.

    Extensions ("ext 2") are dropped: E.164 has no place for them. Numbers only need to be
    *possible*, not assigned: phonenumbers' allocation data goes stale, and refusing a real
    client's number is worse than keeping an odd one.
    """
    cleaned = clean_text(text)
    if not cleaned:
        return None
    candidate = cleaned
    if _SCIENTIFIC.fullmatch(candidate):
        # Excel turned 447700900123 into 4.47700900123E+11 and lost the leading "+".
        candidate = "+" + str(int(float(candidate)))
    region = region.upper()
    parsed = _fast_e164(candidate, region) or _parse_phone(candidate, region)
    if parsed is None:
        raise NormaliseError(f"'{shown(cleaned)}' doesn't look like a phone number")
    return parsed
