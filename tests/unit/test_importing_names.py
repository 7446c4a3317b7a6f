from __future__ import annotations

import pytest

from core.importing.names import fix_case, has_couple_separator, split_couple, split_full_name


@pytest.mark.parametrize(
    ("full", "expected"),
    [
        ("Alex Smith", ("Alex", "Smith")),
        ("Smith, Alex", ("Alex", "Smith")),
        ("  Alex   Smith  ", ("Alex", "Smith")),
        ("Mary Ann Smith", ("Mary Ann", "Smith")),
        ("Alex van der Berg", ("Alex", "van der Berg")),
        ("Maria de la Cruz", ("Maria", "de la Cruz")),
        ("Dr. Alex Smith", ("Alex", "Smith")),
        ("Mrs Smith", ("", "Smith")),
        ("John Smith Jr", ("John", "Smith Jr")),
        ("Alex", ("Alex", "")),
        ("", ("", "")),
    ],
)
def test_split_full_name(full: str, expected: tuple[str, str]) -> None:
    assert split_full_name(full) == expected


@pytest.mark.parametrize(
    ("couple", "expected"),
    [
        ("Alex & Sam Smith", [("Alex", "Smith"), ("Sam", "Smith")]),
        ("Alex and Sam Smith", [("Alex", "Smith"), ("Sam", "Smith")]),
        ("Alex Smith & Sam Jones", [("Alex", "Smith"), ("Sam", "Jones")]),
        ("Alex Smith and Sam Jones", [("Alex", "Smith"), ("Sam", "Jones")]),
        ("Alex Smith + Sam Jones", [("Alex", "Smith"), ("Sam", "Jones")]),
        ("Alex&Sam Smith", [("Alex", "Smith"), ("Sam", "Smith")]),
        ("Alex/Sam Smith", [("Alex", "Smith"), ("Sam", "Smith")]),
        ("Smith, Alex & Sam", [("Alex", "Smith"), ("Sam", "Smith")]),
        ("Alex Smith & Sam", [("Alex", "Smith"), ("Sam", "Smith")]),
        ("Mr & Mrs Smith", [("", "Smith"), ("", "Smith")]),
        ("Alexandra Sanderson", [("Alexandra", "Sanderson")]),  # "and" inside words is not a separator
        ("", []),
    ],
)
def test_split_couple(couple: str, expected: list[tuple[str, str]]) -> None:
    assert split_couple(couple) == expected


def test_has_couple_separator() -> None:
    assert has_couple_separator("Alex & Sam")
    assert has_couple_separator("Alex and Sam")
    assert not has_couple_separator("Alexandra")


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("ALEX SMITH", "Alex Smith"),
        ("alex smith", "Alex Smith"),
        ("MCDONALD", "McDonald"),
        ("mcdonald", "McDonald"),
        ("MACDONALD", "MacDonald"),
        ("MACK", "Mack"),  # not every Mac- is a Mac
        ("O'NEIL", "O'Neil"),
        ("o\u2019neil", "O\u2019Neil"),
        ("SMITH-JONES", "Smith-Jones"),
        ("VAN DER BERG", "van der Berg"),
        ("VAN", "Van"),  # a lone particle is a first name
        ("JOSÉ", "José"),
        ("McDonald", "McDonald"),  # mixed case is left alone
        ("deVries", "deVries"),
        ("DeShawn", "DeShawn"),
        ("Alex", "Alex"),
        ("", ""),
        ("李", "李"),
    ],
)
def test_fix_case(name: str, expected: str) -> None:
    assert fix_case(name) == expected


@pytest.mark.parametrize(
    ("text", "couple"), [("Alex + Sam Smith", True), ("Alex+Sam", True), ("C++ Studio", False), ("Jo +44", False)]
)
def test_a_plus_joins_a_couple_only_between_names(text: str, couple: bool) -> None:
    assert has_couple_separator(text) is couple
