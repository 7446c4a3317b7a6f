"""Streaming vCard reader (2.1, 3.0 and 4.0, as exported by phones and mail apps).

Each card becomes a RawRow with table-like keys (VCARD_KEYS), so the mapping step treats
a .vcf file exactly like a spreadsheet with those columns.
"""

from __future__ import annotations

import codecs
import hashlib
import quopri
import re
from collections.abc import Iterator
from typing import BinaryIO

from core.importing.decoding import UTF8_FALLBACK_ERRORS, open_text
from core.importing.records import ImportFileError, RawRow
from core.importing.text import clean_text

VCARD_KEYS: tuple[str, ...] = (
    "uid", "full_name", "first_name", "last_name", "email", "email_2",
    "phone", "phone_2", "anniversary", "org", "note",
)  # fmt: skip

# A logical (unfolded) property longer than this is dropped: it is a photo or junk.
MAX_PROPERTY_CHARS = 256 * 1024
# Properties we read; everything else (PHOTO, ADR, X-SOCIALPROFILE...) is skipped
# without buffering its folded lines, so embedded photos cost no memory.
_WANTED = frozenset({"BEGIN", "END", "FN", "N", "EMAIL", "TEL", "ORG", "NOTE", "UID", "X-ABDATE", "X-ABLABEL"})
_ESCAPES = re.compile(r"\\(.)", re.DOTALL)
_ISO_DAY = re.compile(r"(\d{4})-?(\d{2})-?(\d{2})")


def _wanted(name: str) -> bool:
    return name in _WANTED or "ANNIVERSARY" in name


def _unescape(text: str) -> str:
    return _ESCAPES.sub(lambda m: "\n" if m.group(1) in "nN" else m.group(1), text)


def _split_unescaped(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    escaped = False
    for ch in text:
        if escaped:
            current.append("\\" + ch)
            escaped = False
        elif ch == "\\":
            escaped = True
        elif ch == sep:
            parts.append("".join(current))
            current = []
        else:
            current.append(ch)
    parts.append("".join(current))
    return parts


def _split_outside_quotes(text: str, sep: str) -> list[str]:
    parts: list[str] = []
    start, quoted = 0, False
    for index, ch in enumerate(text):
        if ch == '"':
            quoted = not quoted
        elif ch == sep and not quoted:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _split_head(line: str) -> tuple[str, str]:
    """Split "NAME;PARAMS:value" at the first colon that is not inside a quoted parameter."""
    head, _, value = line.partition(":")
    if '"' not in head:
        return head, value
    quoted = False
    for index, ch in enumerate(line):
        if ch == '"':
            quoted = not quoted
        elif ch == ":" and not quoted:
            return line[:index], line[index + 1 :]
    return line, ""


class _Property:
    __slots__ = ("group", "name", "params", "value")

    def __init__(self, line: str) -> None:
        head, self.value = _split_head(line)
        name, *raw_params = _split_outside_quotes(head, ";")
        self.group, _, self.name = name.rpartition(".")
        self.name = self.name.strip().upper()
        self.params: dict[str, list[str]] = {}
        for raw in raw_params:
            key, eq, val = raw.partition("=")
            if not eq:  # vCard 2.1 bare parameter: "TEL;CELL;PREF:..."
                key, val = ("ENCODING", raw) if raw.upper() in ("QUOTED-PRINTABLE", "BASE64") else ("TYPE", raw)
            values = [v.strip().strip('"').lower() for v in val.split(",")]
            self.params.setdefault(key.strip().upper(), []).extend(values)

    def text(self) -> str:
        """The value decoded from quoted-printable and its CHARSET, if it says so."""
        if "quoted-printable" not in self.params.get("ENCODING", []):
            return self.value
        # Quoted-printable text is ASCII; latin-1 maps any stray character to one byte.
        raw = quopri.decodestring(self.value.encode("latin-1", errors="replace"))
        try:
            codec = codecs.lookup((self.params.get("CHARSET") or ["utf-8"])[0]).name
        except LookupError:  # an unknown CHARSET: UTF-8 with the cp1252 fallback
            codec = "utf-8"
        return raw.decode(codec, errors=UTF8_FALLBACK_ERRORS if codec == "utf-8" else "replace")

    def preferred(self) -> bool:
        return "pref" in self.params.get("TYPE", []) or "PREF" in self.params


def _normalise_date(value: str) -> str:
    value = value.strip()
    if value.startswith("--"):  # month and day without a year: useless as a wedding date
        return ""
    match = _ISO_DAY.match(value)
    return f"{match.group(1)}-{match.group(2)}-{match.group(3)}" if match else value


def _tel_value(value: str) -> str:
    value = value.strip()
    if value.lower().startswith("tel:"):  # vCard 4: tel:+1-555-555-0100;ext=102
        number, _, params = value[4:].partition(";")
        ext = next((p[4:] for p in params.split(";") if p.lower().startswith("ext=")), "")
        return f"{number} ext. {ext}" if ext else number
    return value


def stable_card_id(values: dict[str, str]) -> str:
    """An id for cards without UID: the same person re-exported gets the same id."""
    name = values.get("full_name") or f"{values.get('first_name', '')} {values.get('last_name', '')}"
    parts = (name, values.get("email", ""), values.get("phone", ""))
    key = "|".join(clean_text(part).casefold() for part in parts)
    return "vcard-" + hashlib.sha256(key.encode()).hexdigest()[:24]


class _Card:
    def __init__(self) -> None:
        self.values: dict[str, str] = {}
        self.emails: list[tuple[bool, str]] = []
        self.phones: list[tuple[bool, str]] = []
        self.group_dates: dict[str, str] = {}
        self.group_labels: dict[str, str] = {}

    def add(self, prop: _Property) -> None:
        name = prop.name
        if name == "FN":
            self.values["full_name"] = _unescape(prop.text())
        elif name == "N":
            parts = [_unescape(p).strip() for p in _split_unescaped(prop.text(), ";")] + [""] * 5
            last, first, middle = parts[0], parts[1], parts[2]
            self.values["last_name"] = last
            self.values["first_name"] = f"{first} {middle}".strip()
        elif name == "EMAIL":
            self.emails.append((prop.preferred(), _unescape(prop.text()).strip()))
        elif name == "TEL":
            self.phones.append((prop.preferred(), _tel_value(_unescape(prop.text()))))
        elif name == "ORG":
            self.values["org"] = _unescape(_split_unescaped(prop.text(), ";")[0])
        elif name == "NOTE":
            self.values["note"] = _unescape(prop.text())
        elif name == "UID":
            self.values["uid"] = _unescape(prop.text()).strip()
        elif name == "X-ABDATE":  # Apple: item1.X-ABDATE + item1.X-ABLabel:_$!<Anniversary>!$_
            self.group_dates[prop.group.lower()] = prop.text()
        elif name == "X-ABLABEL":
            self.group_labels[prop.group.lower()] = prop.text().lower()
        elif "ANNIVERSARY" in name:
            self.values.setdefault("anniversary", _normalise_date(prop.text()))

    def finish(self, ordinal: int) -> RawRow:
        values = dict.fromkeys(VCARD_KEYS, "")
        values.update(self.values)
        for group, date in self.group_dates.items():
            if "anniversary" in self.group_labels.get(group, "") and not values["anniversary"]:
                values["anniversary"] = _normalise_date(date)
        # Preferred addresses first; otherwise the order the phone listed them.
        for key, items in (("email", self.emails), ("phone", self.phones)):
            ordered = [value for _, value in sorted(items, key=lambda item: not item[0]) if value]
            for index, value in enumerate(ordered, start=1):
                values[key if index == 1 else f"{key}_{index}"] = value
        if not values["uid"]:
            values["uid"] = stable_card_id(values)
        return RawRow(line=ordinal, values=values)


def _logical_lines(lines: Iterator[str]) -> Iterator[str]:
    """Unfold continuation lines (leading space/tab) and quoted-printable soft breaks."""
    pending: list[str] = []
    size = 0
    qp = keep = False
    for raw in lines:
        line = raw.rstrip("\r\n")
        if pending and qp and pending[-1].endswith("="):
            pending[-1] = pending[-1][:-1]
            pending.append(line)
            size += len(line)
            continue
        if line[:1] in (" ", "\t"):
            if pending and keep and size < MAX_PROPERTY_CHARS:
                pending.append(line[1:])
                size += len(line)
            continue
        if pending and keep and size <= MAX_PROPERTY_CHARS:
            yield "".join(pending)
        pending, size = [line], len(line)
        head = line.partition(":")[0].upper()
        name = head.partition(";")[0].rpartition(".")[2].strip()
        keep = ":" in line and _wanted(name)
        qp = "QUOTED-PRINTABLE" in head
    if pending and keep and size <= MAX_PROPERTY_CHARS:
        yield "".join(pending)


def _physical_lines(stream: BinaryIO) -> Iterator[str]:
    text, _ = open_text(stream)
    with text:
        while line := text.readline(MAX_PROPERTY_CHARS):
            yield line


def read_vcards(stream: BinaryIO) -> Iterator[RawRow]:
    """Yield one RawRow per card; `line` is the card's ordinal (1 = first card).

    Raises ImportFileError for empty, binary or card-less files.
    """
    card: _Card | None = None
    ordinal = 0
    for line in _logical_lines(_physical_lines(stream)):
        prop = _Property(line)
        if prop.name == "BEGIN" and prop.value.strip().upper() == "VCARD":
            card = _Card()
        elif prop.name == "END" and prop.value.strip().upper() == "VCARD":
            if card is not None:
                ordinal += 1
                yield card.finish(ordinal)
            card = None
        elif card is not None:
            card.add(prop)
    if card is not None:  # a truncated last card still has a person in it
        ordinal += 1
        yield card.finish(ordinal)
    if ordinal == 0:
        raise ImportFileError("We couldn't find any contacts in this file. Is it a .vcf contacts export?")
