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


# The kinds of number phonenumbers knows per region; a number is valid when it is one of them (is_valid_number).
_NUMBER_TYPES = (
    "fixed_line", "mobile", "toll_free", "premium_rate", "shared_cost", "personal_number", "voip", "pager", "uan",
    "voicemail",
)  # fmt: skip


def _region_metadata(code: int, region: str) -> PhoneMetadata | None:
    if region == "001":  # international services (+800, +882, …) have no region
        return PhoneMetadata.metadata_for_nongeo_region(code)
    return PhoneMetadata.metadata_for_region(region)


@lru_cache(maxsize=2048)
def _validity_rule(code: int, length: int) -> re.Pattern[str] | None:
    """One pattern that a national significant number of ``length`` digits under ``code`` matches exactly when
    ``phonenumbers.is_valid_number`` calls it valid.

    The library's own check costs ~90 µs a number (it walks every region of the code and every number type); the
    same rules folded into one compiled alternation per (code, length) cost 1-2 µs, which a 100,000-row file
    with two phones a row can afford. Per region: the number must match the region's general pattern and one of
    its number types whose possible lengths include ``length``. A unit test compares the two on random numbers.
    """
    regions = []
    for region in COUNTRY_CODE_TO_REGION_CODE.get(code, ()):
        metadata = _region_metadata(code, region)
        general = metadata.general_desc if metadata is not None else None
        if metadata is None or general is None or not general.national_number_pattern:
            continue
        types = []
        for name in _NUMBER_TYPES:
            desc = getattr(metadata, name, None)
            if desc is None or not desc.national_number_pattern:
                continue
            if length in (desc.possible_length or general.possible_length or ()):
                types.append(f"(?:{desc.national_number_pattern})")
        if types:
            regions.append(f"(?=(?:{general.national_number_pattern})$)(?:{'|'.join(types)})")
    return re.compile("|".join(regions)) if regions else None


def is_valid_number(code: int, national: str) -> bool:
    """``phonenumbers.is_valid_number`` for +``code`` ``national`` (the national significant number's digits)."""
    rule = _validity_rule(code, len(national))
    return rule is not None and rule.fullmatch(national) is not None


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
    trunk prefix ("07700 900123" in GB, "1 415 555 0134" or ten digits in the US/Canada), and only
    numbers phonenumbers calls valid. Anything else goes to the full parser, so both paths agree (a
    unit test compares them).
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
    # Only valid numbers take the shortcut; for odd ones the full parser decides (it keeps or strips trunk
    # digits in ways plain rules would not reproduce).
    if not is_valid_number(code, national):
        return None
    return f"+{code}{national}"


# A cell holding one number (at most 15 digits, E.164's longest) written with the usual separators: searching it for
# another number (the matcher below costs ~50 µs) can only find the same digits.
_ONE_NUMBER = re.compile(r"\+?[\d\s\-.()/]+")
_SCIENTIFIC = re.compile(r"\d(?:\.\d+)?e\+\d+", re.IGNORECASE)


def _valid(number: phonenumbers.PhoneNumber) -> bool:
    return number.country_code is not None and is_valid_number(
        number.country_code, phonenumbers.national_significant_number(number)
    )


@lru_cache(maxsize=8192)
def _parse_phone(text: str, region: str) -> str | None:
    try:
        number = phonenumbers.parse(text, region)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or not _valid(number):
        if number is not None and _ONE_NUMBER.fullmatch(text) and sum(c.isdigit() for c in text) <= 15:
            return None  # one number and nothing else, just not a valid one: no other number to find in it
        # A cell with two numbers or some words around it: take the first valid number in it.
        matches = phonenumbers.PhoneNumberMatcher(text, region, leniency=phonenumbers.Leniency.VALID)
        match = next(iter(matches), None)
        if match is None:
            return None
        number = match.number
    return str(phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164))


def normalise_phone(text: str, region: str) -> str | None:
    """Return E.164 ("+447700900123"), None for an empty cell, or raise NormaliseError.

    Extensions ("ext 2") are dropped: E.164 has no place for them. Only numbers phonenumbers calls valid are
    kept: a merely *possible* one is how a US number read in a GB studio became "+443125733291", which dials
    nobody (the file's region is decided first, ``core.importing.phone_region``, so such files read as US).
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
