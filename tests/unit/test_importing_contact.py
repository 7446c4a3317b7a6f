from __future__ import annotations

import random

import pytest

from core.importing.contact import (
    NormaliseError,
    _fast_e164,
    _parse_phone,
    normalise_email,
    normalise_phone,
    split_emails,
)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("alex@example.com", "alex@example.com"),
        ("  Alex.Smith@Example.COM ", "alex.smith@example.com"),
        ("Alex Smith <alex@example.com>", "alex@example.com"),
        ("mailto:alex@example.com", "alex@example.com"),
        ("<alex@example.com>", "alex@example.com"),
        ("al\u200bex@example.com", "alex@example.com"),
        ("josé@exämple.com", "josé@exämple.com"),  # internationalised, via email_validator
        ("", None),
        ("   ", None),
    ],
)
def test_normalise_email(raw: str, expected: str | None) -> None:
    assert normalise_email(raw) == expected


@pytest.mark.parametrize("raw", ["bob@", "bob", "@example.com", "a@b@c.com", "a@localhost", "a@b.test", "a b@c.com"])
def test_invalid_emails_raise(raw: str) -> None:
    with pytest.raises(NormaliseError, match="is not a valid address"):
        normalise_email(raw)


def test_split_emails() -> None:
    assert split_emails("a@example.com; B@example.org") == ["a@example.com", "b@example.org"]
    assert split_emails("a@example.com, b@example.org") == ["a@example.com", "b@example.org"]
    assert split_emails("Alex <a@example.com>") == ["a@example.com"]
    assert split_emails("") == []
    with pytest.raises(NormaliseError):
        split_emails("a@example.com; nope@")


@pytest.mark.parametrize(
    ("raw", "region", "expected"),
    [
        ("020 7946 0123", "GB", "+442079460123"),
        ("+44 (0)7911-123456", "GB", "+447911123456"),
        ("+44 7911 123456", "US", "+447911123456"),
        ("07911 123456", "GB", "+447911123456"),
        ("07911 123456", "gb", "+447911123456"),
        ("(415) 555-0134 ext 2", "US", "+14155550134"),
        ("415.555.0134", "US", "+14155550134"),
        ("1 415 555 0134", "US", "+14155550134"),
        ("4.47911123456E+11", "GB", "+447911123456"),  # Excel scientific notation
        ("Mobile: 07911 123456", "GB", "+447911123456"),
        ("07911 123456 / 07911 654321", "GB", "+447911123456"),
        ("030 1234567", "DE", "+49301234567"),
        ("", "GB", None),
    ],
)
def test_normalise_phone(raw: str, region: str, expected: str | None) -> None:
    assert normalise_phone(raw, region) == expected


@pytest.mark.parametrize("raw", ["call me", "12", "n/a please"])
def test_unparseable_phone_raises(raw: str) -> None:
    with pytest.raises(NormaliseError, match="doesn't look like a phone number"):
        normalise_phone(raw, "GB")


def test_phone_fast_path_agrees_with_phonenumbers() -> None:
    # The shortcut must never give a different answer from the full parser.
    rng = random.Random(7)
    shapes = [
        ("GB", "07{} {}"), ("GB", "+44 7{} {}"), ("GB", "+44 (0)7{}-{}"), ("GB", "01{} {}"),
        ("GB", "0{}{}"), ("GB", "00{} {}"), ("US", "({}) {}"), ("US", "1 {} {}"), ("US", "{}{}"),
        ("US", "+1 {}{}"), ("DE", "0{} {}"), ("DE", "+49 {} {}"), ("FR", "0{} {}"),
        ("AU", "04{} {}"), ("IE", "08{} {}"), ("CA", "{}-{}"), ("IT", "0{} {}"),
    ]  # fmt: skip
    checked = 0
    for region, shape in shapes:
        for _ in range(300):
            a = str(rng.randint(0, 10 ** rng.randint(1, 5)))
            b = str(rng.randint(0, 10 ** rng.randint(2, 7)))
            text = shape.format(a, b)
            fast = _fast_e164(text, region)
            if fast is not None:
                checked += 1
                assert fast == _parse_phone(text, region), text
    assert checked > 100


def test_email_fast_path_agrees_with_email_validator() -> None:
    # Everyday addresses skip email_validator; every address the shortcut takes, the library must accept
    # too and give back unchanged. Random addresses of the shortcut's alphabet, dashes and odd TLDs
    # included ("ab--c.com" is one the library refuses).
    from email_validator import EmailNotValidError, validate_email

    from core.importing.contact import _simple_email, _strip_wrappers

    rng = random.Random(11)
    local_chars = "abcxyz0189.-_+!#$%&'*/=?^`{|}~"
    domain_chars = "abz09-."
    tlds = ["com", "co", "uk", "photography", "x", "c0m", "xn--p1ai", "test", "local", "arpa", "onion", "example"]
    taken = refused = 0
    for _ in range(20_000):
        local = "".join(rng.choice(local_chars) for _ in range(rng.randint(1, 12)))
        domain = "".join(rng.choice(domain_chars) for _ in range(rng.randint(1, 10)))
        candidate = f"{local}@{domain}.{rng.choice(tlds)}"
        try:
            library: str | None = validate_email(candidate, check_deliverability=False).normalized.lower()
        except EmailNotValidError:
            library = None
        if _simple_email(candidate):
            taken += 1
            assert library == candidate, candidate
            if _strip_wrappers(candidate) == candidate:  # no quote or bracket at either end to unwrap
                assert normalise_email(candidate.upper()) == candidate
        elif library is None and _strip_wrappers(candidate) == candidate:
            refused += 1
            with pytest.raises(NormaliseError):
                normalise_email(candidate)
    assert taken > 2_000
    assert refused > 2_000
