from __future__ import annotations

import pytest

from core.importing.text import clean_optional, clean_text, shown, strip_invisible


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("  Alex   Smith ", "Alex Smith"),
        ("Alex\tSmith\r\n", "Alex Smith"),
        ("Alex\u00a0Smith", "Alex Smith"),  # non-breaking space from Word
        ("Al\u200bex\ufeff", "Alex"),  # zero-width space and BOM
        ("Ale\x00x\x07", "Alex"),  # control characters
        ("\u202eAlex", "Alex"),  # bidi override
        ("Jose\u0301", "Jos\u00e9"),  # decomposed accent -> NFC
        ("<script>alert(1)</script>", "<script>alert(1)</script>"),  # kept: escaped on output
        ("", ""),
    ],
)
def test_clean_text(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected


def test_zero_width_joiner_is_kept_for_scripts_that_need_it() -> None:
    assert (
        clean_text("\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645")
        == "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"
    )


def test_strip_invisible_keeps_newlines_and_tabs() -> None:
    assert strip_invisible("a\nb\tc\x01") == "a\nb\tc"


def test_clean_optional() -> None:
    assert clean_optional("   ") is None
    assert clean_optional(None) is None
    assert clean_optional(" The Barn ") == "The Barn"


def test_shown_truncates_long_values() -> None:
    assert shown("x" * 100) == "x" * 57 + "..."
    assert shown("short") == "short"
