"""Cell text clean-up shared by every normaliser."""

from __future__ import annotations

import re
import unicodedata

# Control characters (C0, DEL, C1) and invisible formatting characters that sneak in from
# copy-paste and Excel: zero-width space, word joiner, BOM, soft hyphen, bidi controls.
# ZWJ / ZWNJ (U+200C/D) are kept on purpose: Persian and Indic names need them to be
# spelled correctly, and they are harmless to display.
_INVISIBLE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u200b\u200e\u200f\u202a-\u202e\u2060-\u2064"
    "\u2066-\u2069\ufeff\ufff9-\ufffb]"
)


def strip_invisible(text: str) -> str:
    """Remove control and zero-width characters, keeping tabs and newlines."""
    return _INVISIBLE.sub("", text)


def clean_text(text: str) -> str:
    """Trim, collapse all whitespace runs to one space, drop invisible characters.

    HTML is deliberately left alone: the web layer escapes on output, and rewriting what
    a photographer typed would lose data.
    """
    # Fast path for the common case: plain printable ASCII needs only whitespace collapse.
    if text.isascii() and text.isprintable():
        return " ".join(text.split())
    text = unicodedata.normalize("NFC", strip_invisible(text))
    return " ".join(text.split())


def clean_optional(text: str | None) -> str | None:
    """`clean_text`, mapping empty results to None."""
    if text is None:
        return None
    cleaned = clean_text(text)
    return cleaned or None


def shown(value: str, limit: int = 60) -> str:
    """A cell value short enough to quote back in an error message."""
    return value if len(value) <= limit else value[: limit - 3] + "..."
