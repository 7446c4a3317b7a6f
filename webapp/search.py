"""What the client search box's text is matched on (PostgreSQL splits it into words: migrations/0009)."""

from __future__ import annotations

import phonenumbers

_PHONE_PUNCTUATION = str.maketrans("", "", " -().")
# PostgreSQL text cannot hold NUL, and no client's word holds a control character: they separate words.
_CONTROLS = {code: " " for code in [*range(32), 127]}
_MIN_PHONE_DIGITS = 5  # fewer reads as a word ("1984", a house number) rather than a phone number


def search_terms(typed: str, region: str) -> str:
    """The words to search for: the text as typed, or, when it looks like a phone number, the number's digits in
    the E.164 form clients' phones are stored in (without "+"). So "07700 900123", "+44 7700 900123" and
    "7700 900123" find the same client, and so does a number still being typed ("07700 90"), by its start. A
    number without "+" or "00" in front is read as a national one."""
    typed = typed.translate(_CONTROLS)
    stripped = typed.strip().translate(_PHONE_PUNCTUATION)
    digits = stripped.removeprefix("+")
    if len(digits) < _MIN_PHONE_DIGITS or not digits.isdigit():
        return typed
    try:
        number = phonenumbers.parse(stripped, region)
    except phonenumbers.NumberParseException:
        number = None
    # A whole number in any form. (Only a valid one: "07700 90" is a possible local-only number, and here it is a
    # number still being typed.)
    if number is not None and phonenumbers.is_valid_number(number):
        return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164).removeprefix("+")
    if stripped.startswith("+"):
        return digits
    if digits.startswith("00"):  # dialled from abroad: "0044 7700 900…"
        return digits.removeprefix("00")
    # A national number, possibly still being typed, with or without its trunk prefix ("07700 90", "7700 90" in
    # the UK, "415 555" in the US): the country code goes in front, as in the stored form.
    country_code = phonenumbers.country_code_for_region(region)
    if not country_code:
        return digits
    trunk = phonenumbers.ndd_prefix_for_region(region, True) or ""
    return f"{country_code}{digits.removeprefix(trunk) if trunk else digits}"
