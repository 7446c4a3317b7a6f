from __future__ import annotations

import datetime

import pytest

from core.importing.dates import DateOrderDetector, NormaliseError, default_order, parse_date

D = datetime.date(2027, 6, 14)


@pytest.mark.parametrize(
    ("raw", "order", "expected"),
    [
        ("2027-06-14", "DMY", D),
        ("2027/6/14", "MDY", D),
        ("14/06/2027", "DMY", D),
        ("06/14/2027", "MDY", D),
        ("14.06.2027", "DMY", D),
        ("14-06-27", "DMY", D),
        ("14 June 2027", "DMY", D),
        ("14th June 2027", "MDY", D),  # month names are never ambiguous
        ("June 14, 2027", "DMY", D),
        ("Jun 14 2027", "DMY", D),
        ("Saturday, 14 June 2027", "DMY", D),
        ("Sat Jun 14 2027", "MDY", D),
        ("14-Jun-27", "DMY", D),
        ("2027 June 14", "DMY", D),
        ("20270614", "DMY", D),
        ("46552", "DMY", D),  # Excel serial
        ("46552.75", "DMY", D),  # Excel serial with a time
        ("2027-06-14T15:30:00Z", "DMY", D),
        ("2027-06-14 15:30:00", "DMY", D),
        ("14/06/2027 15:30", "DMY", D),
        ("03/04/2027", "DMY", datetime.date(2027, 4, 3)),
        ("03/04/2027", "MDY", datetime.date(2027, 3, 4)),
        ("1/2/99", "DMY", datetime.date(1999, 2, 1)),
        ("", "DMY", None),
        ("TBC", "DMY", None),
        ("n/a", "DMY", None),
    ],
)
def test_parse_date(raw: str, order: str, expected: datetime.date | None) -> None:
    assert parse_date(raw, order) == expected  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("raw", "order", "message"),
    [
        ("31/02/2027", "DMY", "isn't a real date"),
        ("2027-13-01", "DMY", "isn't a real date"),
        ("06/14/2027", "DMY", "doesn't fit the day/month/year order"),
        ("14/06/2027", "MDY", "doesn't fit the month/day/year order"),
        ("next summer", "DMY", "doesn't look like a date"),
        ("123", "DMY", "doesn't look like a date"),
        ("99999", "DMY", "doesn't look like a date"),
        ("June 2027", "DMY", "needs a day"),
        ("14 June", "DMY", "needs a year"),
    ],
)
def test_bad_dates_raise(raw: str, order: str, message: str) -> None:
    with pytest.raises(NormaliseError, match=message):
        parse_date(raw, order)  # type: ignore[arg-type]


def test_default_order_by_region() -> None:
    assert default_order("US") == "MDY"
    assert default_order("ca") == "MDY"
    assert default_order("PH") == "MDY"
    assert default_order("GB") == "DMY"
    assert default_order("AU") == "DMY"


def test_detector_day_first_proof() -> None:
    detector = DateOrderDetector()
    for line, value in enumerate(["03/04/2027", "05/06/2027", "2027-01-01", "23/04/2027"], start=2):
        detector.feed(value, line)
    decision = detector.decide("US")
    assert (decision.order, decision.reason, decision.day_first_line) == ("DMY", "proved", 5)


def test_detector_month_first_proof() -> None:
    detector = DateOrderDetector()
    detector.feed("03/04/2027", 2)
    detector.feed("04/23/2027", 3)
    assert detector.decide("GB").order == "MDY"


@pytest.mark.parametrize(("region", "order"), [("US", "MDY"), ("GB", "DMY")])
def test_detector_ambiguous_uses_region(region: str, order: str) -> None:
    detector = DateOrderDetector()
    detector.feed("03/04/2027", 2)
    detector.feed("14 June 2027", 3)  # not numeric, no evidence
    decision = detector.decide(region)
    assert (decision.order, decision.reason) == (order, "region default")


def test_detector_reports_contradictions() -> None:
    detector = DateOrderDetector()
    for line, value in [(2, "23/04/2027"), (3, "24/04/2027"), (4, "04/25/2027")]:
        detector.feed(value, line)
    decision = detector.decide("GB")
    assert decision.order == "DMY"
    assert decision.reason == "contradictory"
    assert decision.message is not None
    assert "row 2" in decision.message
    assert "row 4" in decision.message
