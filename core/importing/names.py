"""Person and couple names: splitting full names and fixing shouty or lower-case text."""

from __future__ import annotations

import re

from core.importing.text import clean_text

# Surname particles stay lower-case inside a name ("Anna van der Berg", "de la Cruz").
_PARTICLES = frozenset(
    {
        "van",
        "von",
        "der",
        "den",
        "de",
        "del",
        "della",
        "di",
        "da",
        "du",
        "la",
        "le",
        "dos",
        "das",
        "ter",
        "ten",
        "bin",
        "ibn",
        "y",
    }
)
_TITLES = frozenset({"mr", "mrs", "ms", "miss", "mx", "dr", "prof", "rev", "sir", "dame", "lady", "lord"})
_SUFFIXES = frozenset({"jr", "sr", "ii", "iii", "iv", "phd", "md", "esq"})
# "Mac" is also the start of Mack, Macy, Machado...: only these get the inner capital.
_MAC_NAMES = frozenset(
    {
        "macdonald", "macleod", "mackenzie", "mackay", "macgregor", "macintyre", "maclean",
        "macmillan", "macarthur", "macaulay", "macneil", "macpherson", "macdougall", "macfarlane",
    }
)  # fmt: skip

# Couple separators: "&", "+", "/" with or without spaces, or the word "and".
# A slash or a plus only counts between names ("Alex/Sam", "Alex + Sam"): "</b>", "n/a" or "C++" stay whole.
_COUPLE_SPLIT = re.compile(r"\s*(?:&|\band\b)\s*|(?<=[^\W\d])\s*[/+]\s*(?=[^\W\d]{2})", re.IGNORECASE)


def _capitalise_part(part: str) -> str:
    lower = part.lower()
    if not lower:
        return lower
    if lower.startswith("mc") and len(lower) > 2:
        return "Mc" + lower[2:].capitalize()
    if lower in _MAC_NAMES:
        return "Mac" + lower[3:].capitalize()
    return lower[0].upper() + lower[1:]


def _capitalise_word(word: str) -> str:
    # Hyphens and apostrophes start a new capital: Smith-Jones, O'Neil, D'Angelo.
    pieces = re.split(r"([-'\u2019])", word)
    out = []
    for index, piece in enumerate(pieces):
        if piece in ("-", "'", "\u2019"):
            out.append(piece)
        elif index > 0 and pieces[index - 1] in ("'", "\u2019") and len(piece) == 1:
            out.append(piece.lower())  # the "s" in "Smith's"
        else:
            out.append(_capitalise_part(piece))
    return "".join(out)


def fix_case(name: str) -> str:
    """Title-case ALL-CAPS or all-lower names; leave mixed case (McDonald, deVries) alone."""
    if not name or (name.upper() != name and name.lower() != name):
        return name
    if name.upper() == name.lower():  # no letters with case (digits, CJK...)
        return name
    words = name.split(" ")
    fixed = []
    for index, word in enumerate(words):
        lower = word.lower()
        # A particle is lower-case when another word follows it ("van der Berg"), but a
        # lone "VAN" is somebody's first name.
        if lower in _PARTICLES and index < len(words) - 1:
            fixed.append(lower)
        else:
            fixed.append(_capitalise_word(word))
    return " ".join(fixed)


# Irish and Scottish Gaelic surnames start with a capitalised word of their own ("Benjamin Ó Briain",
# "Siobhán Ní Bhriain", "Seán Mac Giolla"): the surname starts there, and its case is left alone.
_SURNAME_STARTS = frozenset({"ó", "ní", "nic", "mac", "uí", "ua"})


def _strip_titles(tokens: list[str]) -> list[str]:
    while len(tokens) > 1 and tokens[0].lower().rstrip(".") in _TITLES:
        tokens = tokens[1:]
    return tokens


def split_full_name(full: str) -> tuple[str, str]:
    """Split one person's name into (first, last).

    "Smith, Alex" -> ("Alex", "Smith"); "Alex van der Berg" -> ("Alex", "van der Berg");
    "Mary Ann Smith" -> ("Mary Ann", "Smith"); "Alex" -> ("Alex", "").
    """
    text = clean_text(full)
    if not text:
        return "", ""
    if text.count(",") == 1:
        last, first = (part.strip() for part in text.split(","))
        if first.lower().rstrip(".") in _SUFFIXES:  # "Alex Smith, Jr."
            text = f"{last} {first}"
        elif first and last:
            return " ".join(_strip_titles(first.split())), last
    raw_tokens = text.split()
    tokens = _strip_titles(raw_tokens)
    if len(tokens) == 1:
        if tokens[0].lower().rstrip(".") in _TITLES:
            return "", ""
        # "Mrs Smith": with a title, a single word is the surname.
        return ("", tokens[0]) if len(raw_tokens) > 1 else (tokens[0], "")
    suffix: list[str] = []
    while len(tokens) > 2 and tokens[-1].lower().rstrip(".,") in _SUFFIXES:
        suffix.insert(0, tokens.pop())
    # The surname starts at the first particle after the first name, else it is the last word.
    start = len(tokens) - 1
    for index in range(1, len(tokens) - 1):
        if tokens[index].lower() in _PARTICLES or tokens[index].lower() in _SURNAME_STARTS:
            start = index
            break
    return " ".join(tokens[:start]), " ".join(tokens[start:] + suffix)


def has_couple_separator(text: str) -> bool:
    return _COUPLE_SPLIT.search(text) is not None


def split_couple(text: str) -> list[tuple[str, str]]:
    """Split a couple's names into one or two (first, last) pairs.

    "Alex & Sam Smith" -> [("Alex", "Smith"), ("Sam", "Smith")]
    "Alex Smith and Sam Jones" -> [("Alex", "Smith"), ("Sam", "Jones")]
    "Smith, Alex & Sam" -> [("Alex", "Smith"), ("Sam", "Smith")]
    A single name gives a single pair; more than two people keep the first two.
    """
    cleaned = clean_text(text)
    if not cleaned:
        return []
    # "Smith, Alex & Sam": surname first, then the first names.
    if cleaned.count(",") == 1:
        surname, rest = (part.strip() for part in cleaned.split(","))
        if surname and " " not in surname and has_couple_separator(rest):
            cleaned = f"{rest} {surname}"
    parts = [part for part in _COUPLE_SPLIT.split(cleaned) if part.strip()]
    if len(parts) <= 1:
        return [split_full_name(cleaned)]
    left, right = parts[0], parts[1]
    right_first, right_last = split_full_name(right)
    left_tokens = _strip_titles(left.split())
    if len(left_tokens) == 1:
        # "Alex & Sam Smith": the first person shares the second person's surname.
        left_first = left_tokens[0]
        if left_first.lower().rstrip(".") in _TITLES:  # "Mr & Mrs Smith"
            left_first = ""
        return [(left_first, right_last), (right_first, right_last)]
    left_first, left_last = split_full_name(left)
    if right_first and not right_last:  # "Alex Smith & Sam": Sam shares the surname
        right_last = left_last
    return [(left_first, left_last), (right_first, right_last)]
