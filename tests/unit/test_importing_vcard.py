from __future__ import annotations

import io

import pytest

from core.importing.records import ImportFileError, RawRow
from core.importing.vcard import VCARD_KEYS, read_vcards, stable_card_id

V3 = (
    "BEGIN:VCARD\r\n"
    "VERSION:3.0\r\n"
    "N:Smith;Alex;;;\r\n"
    "FN:Alex Smith\r\n"
    "EMAIL;TYPE=INTERNET,HOME:alex@example.com\r\n"
    "EMAIL;TYPE=INTERNET,WORK,pref:alex@work.example.com\r\n"
    "TEL;TYPE=CELL:07911 123456\r\n"
    "TEL;TYPE=HOME:01632 960123\r\n"
    "ORG:Smith & Co\\; Ltd;Sales\r\n"
    "NOTE:Met at the fair\\, loved it\\nCall after 6. This note is long enough to be fo\r\n"
    " lded across two lines\r\n"
    "item1.X-ABDATE;type=pref:2027-06-14\r\n"
    "item1.X-ABLabel:_$!<Anniversary>!$_\r\n"
    "PHOTO;ENCODING=b;TYPE=JPEG:/9j/4AAQSkZJRgABAQAAAQABAAD\r\n"
    " AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\r\n"
    "END:VCARD\r\n"
)

V21_QP = (
    "BEGIN:VCARD\r\n"
    "VERSION:2.1\r\n"
    "N;CHARSET=UTF-8;ENCODING=QUOTED-PRINTABLE:M=C3=BCller;J=C3=BCrgen;;;\r\n"
    "FN;CHARSET=ISO-8859-1;ENCODING=QUOTED-PRINTABLE:J=FCrgen M=FCller =26 Anna Schmidt =\r\n"
    "M=FCller\r\n"
    "TEL;CELL;PREF:+49 151 23456789\r\n"
    "EMAIL;INTERNET:juergen@example.de\r\n"
    "X-ANNIVERSARY:20270614\r\n"
    "END:VCARD\r\n"
)

V4 = (
    "BEGIN:VCARD\n"
    "VERSION:4.0\n"
    "UID:urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1\n"
    "FN:Sam Jones\n"
    "N:Jones;Sam;;;\n"
    'TEL;VALUE=uri;TYPE="voice,cell";PREF=1:tel:+1-415-555-0134;ext=2\n'
    "TEL;VALUE=uri;TYPE=home:tel:+1-415-555-0199\n"
    "EMAIL;TYPE=work:sam@example.com\n"
    "ANNIVERSARY:2027-06-14\n"
    "BDAY:--0203\n"
    "END:VCARD\n"
)


def cards(text: str, encoding: str = "utf-8") -> list[RawRow]:
    return list(read_vcards(io.BytesIO(text.encode(encoding))))


def test_vcard3_folding_escapes_types_and_apple_anniversary() -> None:
    (card,) = cards(V3)
    v = card.values
    assert card.line == 1
    assert set(VCARD_KEYS) <= set(v)
    assert (v["first_name"], v["last_name"], v["full_name"]) == ("Alex", "Smith", "Alex Smith")
    assert v["email"] == "alex@work.example.com"  # pref first
    assert v["email_2"] == "alex@example.com"
    assert (v["phone"], v["phone_2"]) == ("07911 123456", "01632 960123")
    assert v["org"] == "Smith & Co; Ltd"
    assert (
        v["note"] == "Met at the fair, loved it\nCall after 6. This note is long enough to be folded across two lines"
    )
    assert v["anniversary"] == "2027-06-14"
    assert v["uid"].startswith("vcard-")


def test_vcard21_quoted_printable_and_charset() -> None:
    (card,) = cards(V21_QP)
    v = card.values
    assert (v["first_name"], v["last_name"]) == ("Jürgen", "Müller")
    assert v["full_name"] == "Jürgen Müller & Anna Schmidt Müller"  # soft line break joined
    assert v["phone"] == "+49 151 23456789"
    assert v["email"] == "juergen@example.de"
    assert v["anniversary"] == "2027-06-14"


def test_vcard4_tel_uri_uid_and_anniversary() -> None:
    (card,) = cards(V4)
    v = card.values
    assert v["uid"] == "urn:uuid:4fbe8971-0bc3-424c-9c26-36c3e1eff6b1"
    assert v["phone"] == "+1-415-555-0134 ext. 2"
    assert v["phone_2"] == "+1-415-555-0199"
    assert v["anniversary"] == "2027-06-14"


def test_many_cards_numbered_in_order() -> None:
    got = cards(V3 + V21_QP + V4)
    assert [c.line for c in got] == [1, 2, 3]


def test_anniversary_without_year_is_dropped() -> None:
    (card,) = cards("BEGIN:VCARD\nVERSION:4.0\nFN:A B\nANNIVERSARY:--0614\nEND:VCARD\n")
    assert card.values["anniversary"] == ""


def test_missing_uid_gets_stable_id() -> None:
    first = cards(V3)[0].values["uid"]
    again = cards(V3.replace("FN:Alex Smith", "FN:Alex  Smith "))[0].values["uid"]
    assert first == again
    other = cards(V3.replace("FN:Alex Smith", "FN:Alex Smyth"))[0].values["uid"]
    assert other != first
    assert stable_card_id({"full_name": "A", "email": "a@x.com", "phone": ""}).startswith("vcard-")


def test_truncated_last_card_is_kept() -> None:
    got = cards(V3 + "BEGIN:VCARD\nVERSION:3.0\nFN:Half Card\n")
    assert [c.values["full_name"] for c in got] == ["Alex Smith", "Half Card"]


def test_cp1252_and_utf16_files() -> None:
    assert cards("BEGIN:VCARD\nFN:Renée\nEND:VCARD\n", "cp1252")[0].values["full_name"] == "Renée"
    assert cards(V4, "utf-16")[0].values["full_name"] == "Sam Jones"


@pytest.mark.parametrize(("data", "message"), [(b"", "empty"), (b"Name,Email\nA,b\n", "couldn't find any contacts")])
def test_not_a_vcard(data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        list(read_vcards(io.BytesIO(data)))
