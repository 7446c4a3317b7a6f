"""Phone numbers are stored only when valid, in the country the file writes them for."""

from __future__ import annotations

import datetime
import io
import random

import phonenumbers
import pytest

from core.importing.contact import NormaliseError, is_valid_number, normalise_phone
from core.importing.mapping import Mapping
from core.importing.phone_region import PhoneRegionDetector
from core.importing.pipeline import prepare
from core.importing.readers import open_table
from core.importing.records import ClientRecord


@pytest.mark.parametrize("code", [1, 7, 27, 31, 33, 34, 39, 44, 49, 52, 55, 61, 64, 81, 86, 91, 353, 971])
def test_validity_agrees_with_phonenumbers(code: int) -> None:
    rng = random.Random(code)
    for _ in range(2_000):
        length = rng.randint(5, 13)
        national = str(rng.randint(1, 9)) + "".join(str(rng.randint(0, 9)) for _ in range(length - 1))
        number = phonenumbers.PhoneNumber(country_code=code, national_number=int(national))
        assert is_valid_number(code, national) == phonenumbers.is_valid_number(number), (code, national)


def test_a_us_number_is_never_stored_as_a_uk_one() -> None:
    with pytest.raises(NormaliseError):
        normalise_phone("(312) 573-3291", "GB")  # +443125733291 is possible in GB, but no one's number
    assert normalise_phone("(312) 573-3291", "US") == "+13125733291"
    assert normalise_phone("+1 312 573 3291", "GB") == "+13125733291"


def _detect(cells: list[str], studio: str) -> str:
    detector = PhoneRegionDetector()
    for cell in cells:
        detector.feed(cell)
    return detector.decide(studio).region


def test_a_file_of_american_numbers_is_read_as_american_in_a_uk_studio() -> None:
    cells = ["(312) 573-3291", "415.555.0134", "212-555-0199", "07911 123456", "TBC"]
    assert _detect(cells, "GB") == "US"


def test_the_studios_own_numbers_keep_the_studios_country() -> None:
    assert _detect(["07911 123456", "020 7946 0123", "(312) 573-3291"], "GB") == "GB"
    assert _detect(["+1 312 573 3291", "+1 415 555 0134"], "GB") == "GB"  # a country code decides nothing
    assert _detect([], "AU") == "AU"


def test_an_honeybook_export_of_american_couples_in_a_uk_studio() -> None:
    data = (
        b"First Name,Last Name,Email,Phone,Project Date\n"
        b"Ava,Miller,ava@example.com,(312) 573-3291,06/07/2027\n"
        b"Liam,Brown,liam@example.com,415-555-0134,08/09/2027\n"
        b"Mia,Davis,mia@example.com,TBC,10/11/2027\n"
    )
    reader = open_table(io.BytesIO(data))
    prepared = prepare(reader, Mapping.suggest(reader.headers, "honeybook", "GB"))
    assert prepared.phone_region.region == "US"
    assert "+1" in (prepared.phone_region.message or "")
    assert prepared.date_order.order == "MDY"  # no day above 12: dates follow the file's country, not the studio's
    ava, liam, mia = (r for r in prepared if isinstance(r, ClientRecord))
    assert (ava.partner1_phone, liam.partner1_phone, mia.partner1_phone) == ("+13125733291", "+14155550134", None)
    assert ava.wedding_date == datetime.date(2027, 6, 7)
    assert [w.field for w in mia.warnings] == ["partner1_phone"]


def test_a_chosen_country_wins() -> None:
    data = b"Name,Phone\nAva,(312) 573-3291\n"
    reader = open_table(io.BytesIO(data))
    mapping = Mapping(columns={"Name": "partner1_name", "Phone": "partner1_phone"}, phone_region="GB")
    prepared = prepare(reader, mapping)
    assert prepared.phone_region.reason == "chosen"
    (ava,) = list(prepared)
    assert isinstance(ava, ClientRecord)
    # No one in the UK has that number; as a North American number it is kept, and the row says so.
    assert ava.partner1_phone == "+13125733291"
    assert [w.reason for w in ava.warnings] == [
        "Row 2: the phone number '(312) 573-3291' is not a GB number, so it was saved as a US number (+13125733291)"
    ]


def test_a_few_american_numbers_in_a_uk_file_are_kept_and_other_strangers_are_not_guessed() -> None:
    data = b"Name,Phone\nA,07911 123456\nB,020 7946 0123\nC,07400 654321\nD,206-555-0180\nE,06 12 34 56 78\n"
    reader = open_table(io.BytesIO(data))
    prepared = prepare(reader, Mapping(columns={"Name": "partner1_name", "Phone": "partner1_phone"}))
    assert prepared.phone_region.region == "GB"
    phones = {r.partner1_first: r.partner1_phone for r in prepared if isinstance(r, ClientRecord)}
    # A French mobile written nationally could as well be South African or Dutch: left out with a warning.
    assert phones == {"A": "+447911123456", "B": "+442079460123", "C": "+447400654321", "D": "+12065550180", "E": None}
