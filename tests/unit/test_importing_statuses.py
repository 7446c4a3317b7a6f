from __future__ import annotations

import pytest

from core.importing.statuses import normalise_status


@pytest.mark.parametrize(
    ("stage", "expected"),
    [
        # Tave / VSCO Workspace
        ("lead", "lead"),
        ("booked", "booked"),
        ("fulfillment", "booked"),
        ("completed", "completed"),
        # HoneyBook
        ("Inquiry", "lead"),
        ("Follow up", "lead"),
        ("Proposal sent", "lead"),
        ("Retainer paid", "booked"),
        ("Planning", "booked"),
        ("Completed", "completed"),
        ("Archived", "archived"),
        # Light Blue
        ("Enquiry", "lead"),
        ("Provisional", "lead"),
        ("Confirmed", "booked"),
        ("Cancelled", "archived"),
        ("Lost", "archived"),
        # free text and junk
        ("  BOOKED ", "booked"),
        ("Retainer paid - planning", "booked"),
        ("Not booked", "archived"),
        ("Proposal sent 3 March", "lead"),
        ("something else", "lead"),
        ("", "lead"),
    ],
)
def test_normalise_status(stage: str, expected: str) -> None:
    assert normalise_status(stage) == expected
