from __future__ import annotations

import msgspec
import pytest

from core.importing.mapping import Mapping, header_key, suggest_mapping
from core.importing.records import RawRow
from core.importing.vcard import VCARD_KEYS


def test_header_key() -> None:
    assert header_key("Bride's E-mail") == "brideemail"
    assert header_key("  FIRST_NAME ") == "firstname"
    assert header_key("Email (2)") == "email2"
    assert header_key("Job #") == "jobid"


def test_generic_synonyms() -> None:
    headers = [
        "Bride First Name", "Bride's Last Name", "Groom First Name", "Groom Surname", "E-mail",
        "Email (2)", "Home Phone", "Cell Phone", "Event Date", "Location", "Stage", "Job ID",
        "Date Inquired", "Date Booked", "How did you hear about us?", "Notes",
    ]  # fmt: skip
    assert suggest_mapping(headers, None) == {
        "Bride First Name": "partner1_first",
        "Bride's Last Name": "partner1_last",
        "Groom First Name": "partner2_first",
        "Groom Surname": "partner2_last",
        "E-mail": "partner1_email",
        "Email (2)": "partner2_email",
        "Cell Phone": "partner1_phone",  # a mobile beats a home phone
        "Event Date": "wedding_date",
        "Location": "venue",
        "Stage": "status",
        "Job ID": "external_id",
        "Date Inquired": "inquiry_date",
        "Date Booked": "booking_date",
        "How did you hear about us?": "lead_source",
        "Notes": "notes",
    }


@pytest.mark.parametrize(
    ("header", "target"),
    [
        ("First Name", "partner1_first"), ("Partner 1", "partner1_name"), ("Partner 2", "partner2_name"),
        ("Client Name", "partner1_name"), ("Mobile", "partner1_phone"), ("Wedding Date", "wedding_date"),
        ("Project Date", "wedding_date"), ("Booking Date", "booking_date"), ("Lead Source", "lead_source"),
        ("Venue", "venue"), ("Status", "status"), ("ID", "external_id"), ("Reference", "external_id"),
        ("Couple", "couple_name"), ("Partner 1 Email", "partner1_email"), ("Partner 2 Mobile", "partner2_phone"),
    ],
)  # fmt: skip
def test_single_headers(header: str, target: str) -> None:
    assert suggest_mapping([header]) == {header: target}


def test_each_target_used_once_leftmost_wins() -> None:
    assert suggest_mapping(["Wedding Date", "Date", "Email", "E-mail"]) == {
        "Wedding Date": "wedding_date",
        "Email": "partner1_email",
    }


def test_honeybook_preset() -> None:
    headers = ["First Name", "Last Name", "Email", "Phone", "Project Name", "Project Date",
               "Date Inquired", "Booking Date", "Lead Source"]  # fmt: skip
    assert suggest_mapping(headers, "honeybook") == {
        "First Name": "partner1_first",
        "Last Name": "partner1_last",
        "Email": "partner1_email",
        "Phone": "partner1_phone",
        "Project Date": "wedding_date",
        "Date Inquired": "inquiry_date",
        "Booking Date": "booking_date",
        "Lead Source": "lead_source",
    }
    assert suggest_mapping(["Client", "Project Date"], "honeybook")["Client"] == "name_with_email"


def test_lightblue_preset() -> None:
    headers = ["Client First Name", "Client Surname", "Partner First Name", "Partner Surname", "Email",
               "Partner Email", "Mobile", "Date", "Venue", "Status", "Job Reference", "Enquiry Date"]  # fmt: skip
    assert suggest_mapping(headers, "lightblue") == {
        "Client First Name": "partner1_first",
        "Client Surname": "partner1_last",
        "Partner First Name": "partner2_first",
        "Partner Surname": "partner2_last",
        "Email": "partner1_email",
        "Partner Email": "partner2_email",
        "Mobile": "partner1_phone",
        "Date": "wedding_date",
        "Venue": "venue",
        "Status": "status",
        "Job Reference": "external_id",
        "Enquiry Date": "inquiry_date",
    }


def test_vcard_preset() -> None:
    mapping = suggest_mapping(list(VCARD_KEYS), "vcard")
    assert mapping["uid"] == "external_id"
    assert mapping["full_name"] == "couple_name"
    assert mapping["anniversary"] == "wedding_date"
    assert "email_2" not in mapping  # a second address is the same person's, not the partner's


def test_mapping_apply_skips_empty_and_joins_shared_targets() -> None:
    mapping = Mapping(columns={"A1": "venue", "A2": "venue", "E": "partner1_email", "N": "", "X": "status"})
    row = RawRow(line=2, values={"A1": "The Barn", "A2": "Kent", "E": "  ", "N": "ignored", "X": ""})
    assert mapping.apply(row) == {"venue": "The Barn Kent"}
    assert mapping.applier()(row) == {"venue": "The Barn Kent"}


def test_mapping_applier_matches_apply() -> None:
    # The per-file fast form gives the same keys, values and key order as apply, on any cells.
    mapping = Mapping(columns={"Z": "status", "N": "", "A": "partner1_first", "E": "partner1_email", "V": "venue"})
    cells = ["", " ", "\t\n", "x", " Alex ", "\u00a0", "\u200b", "a@b.com"]
    for z in cells:
        for a in cells:
            for e in cells:
                row = RawRow(line=2, values={"Z": z, "A": a, "E": e, "N": "kept out", "Other": "x"})
                fast, slow = mapping.applier()(row), mapping.apply(row)
                assert list(fast.items()) == list(slow.items())
    assert mapping.applier()(RawRow(line=2, values={})) == {}


def test_mapping_validates_targets_and_region() -> None:
    with pytest.raises(ValueError, match="unknown target"):
        Mapping(columns={"A": "shoe_size"})
    with pytest.raises(ValueError, match="two-letter"):
        Mapping(columns={}, default_region="Britain")
    with pytest.raises(msgspec.ValidationError):
        msgspec.json.decode(b'{"columns": {"A": "nope"}}', type=Mapping)


def test_mapping_round_trips_as_json() -> None:
    mapping = Mapping.suggest(["Email", "Wedding Date"], default_region="us")
    decoded = msgspec.json.decode(msgspec.json.encode(mapping), type=Mapping)
    assert decoded == mapping
    assert decoded.default_region == "US"


def test_header_keys_ignore_accents() -> None:
    assert header_key("Téléphone mobile") == "telephonemobile"
    assert header_key("Straße privat") == "strasseprivat"
    assert header_key("Dirección de correo electrónico") == "direcciondecorreoelectronico"
    assert header_key("E-Mail-Adresse") == "emailadresse"


def test_google_multi_value_cells_keep_their_first_value() -> None:
    columns = {"E-mail 1 - Value": "partner1_email", "Notes": "notes", "Phone 1 - Value": "partner1_phone"}
    mapping = Mapping(columns=columns)
    row = RawRow(2, {"E-mail 1 - Value": "a@example.com ::: b@example.com", "Notes": "x ::: y", "Phone 1 - Value": "1"})
    # Only Google's "- Value" columns hold several values; other text is kept as written.
    expected = {"partner1_email": "a@example.com", "notes": "x ::: y", "partner1_phone": "1"}
    assert mapping.applier()(row) == expected
    assert mapping.apply(row) == expected


def test_a_booking_date_without_a_status_means_booked() -> None:
    mapping = Mapping(columns={"Name": "partner1_name", "Booked Date": "booking_date", "Stage": "status"})
    assert mapping.applier()(RawRow(2, {"Name": "Al", "Booked Date": "2025-02-01"}))["status"] == "booked"
    assert "status" not in mapping.applier()(RawRow(2, {"Name": "Al", "Booked Date": "TBD"}))
    given = RawRow(2, {"Name": "Al", "Booked Date": "2025-02-01", "Stage": "Lead"})
    assert mapping.applier()(given)["status"] == "Lead"


def test_an_empty_phone_column_falls_back_to_the_next_filled_one() -> None:
    headers = ["First Name", "Home Phone", "Mobile Phone", "Primary Phone", "E-mail Address", "Business Phone"]
    mapping = Mapping.suggest(headers, "outlook")
    assert mapping.columns["Mobile Phone"] == "partner1_phone"
    assert mapping.fallbacks == {"partner1_phone": ["Primary Phone", "Home Phone", "Business Phone"]}
    apply = mapping.applier()
    row = {"First Name": "Al", "Home Phone": "0161 496 0000", "Mobile Phone": "", "Primary Phone": " "}
    assert apply(RawRow(2, row))["partner1_phone"] == "0161 496 0000"
    assert mapping.apply(RawRow(2, row))["partner1_phone"] == "0161 496 0000"
    assert apply(RawRow(2, {**row, "Mobile Phone": "07700 900123"}))["partner1_phone"] == "07700 900123"
    # The form shows each fallback column with its field; what it sends back is the same mapping.
    assert mapping.target_of("Home Phone") == "partner1_phone"
    assert mapping.target_of("First Name") == "partner1_first"
    assert Mapping.from_choices(mapping.choices(), headers, "outlook") == mapping
    # Chosen by hand on the form: the suggested order first, then the leftmost.
    chosen = {"Business Phone": "partner1_phone", "Mobile Phone": "partner1_phone", "First Name": "partner1_first"}
    by_hand = Mapping.from_choices(chosen, headers, "outlook")
    assert by_hand.columns == {"Mobile Phone": "partner1_phone", "First Name": "partner1_first"}
    assert by_hand.fallbacks == {"partner1_phone": ["Business Phone"]}
