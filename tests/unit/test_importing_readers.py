from __future__ import annotations

import io
from pathlib import Path

import pytest

from core.importing.readers import EXTRA_KEY, open_table, sniff_delimiter
from core.importing.records import ImportFileError, RawRow

CSV = "First Name,Last Name,Email\r\nJosé,Smith,jose@example.com\r\nZoë,Brontë,zoe@example.com\r\n"


def rows(data: bytes) -> list[RawRow]:
    return list(open_table(io.BytesIO(data)))


@pytest.mark.parametrize(
    ("encoded", "encoding"),
    [
        (CSV.encode("utf-8"), "utf-8"),
        (b"\xef\xbb\xbf" + CSV.encode("utf-8"), "utf-8-sig"),
        (CSV.encode("utf-16"), "utf-16"),  # Python writes the BOM (LE on this machine)
        (b"\xff\xfe" + CSV.encode("utf-16-le"), "utf-16"),
        (b"\xfe\xff" + CSV.encode("utf-16-be"), "utf-16"),
        (CSV.encode("utf-16-le"), "utf-16-le"),  # no BOM: guessed from the NUL pattern
        (CSV.encode("cp1252"), "cp1252"),
    ],
)
def test_encodings(encoded: bytes, encoding: str) -> None:
    reader = open_table(io.BytesIO(encoded))
    assert reader.encoding == encoding
    assert reader.headers == ["First Name", "Last Name", "Email"]  # BOM is not part of the header
    got = list(reader)
    assert [r.values["First Name"] for r in got] == ["José", "Zoë"]
    assert [r.line for r in got] == [2, 3]


def test_cp1252_pound_and_accents() -> None:
    data = "Name;Budget;Venue\nRenée;£2,500;Château\n".encode("cp1252")
    (row,) = rows(data)
    assert row.values == {"Name": "Renée", "Budget": "£2,500", "Venue": "Château"}


def test_mixed_encodings_late_cp1252_bytes_do_not_crash() -> None:
    # 100 KB of plain UTF-8 (the sniffed sample), then a row saved as Windows-1252.
    head = "Name,Email\n" + "".join(f"Person {i},p{i}@example.com\n" for i in range(4000))
    data = head.encode() + "Renée £,r@example.com\n".encode("cp1252") + "Zoë,z@example.com\n".encode()
    assert len(head) > 64 * 1024
    got = rows(data)
    assert got[-2].values["Name"] == "Renée £"
    assert got[-1].values["Name"] == "Zoë"
    assert got[-1].line == 4003


@pytest.mark.parametrize(
    ("data", "delimiter"),
    [
        ("a,b,c\n1,2,3\n", ","),
        ("a\tb\tc\n1\t2\t3\n", "\t"),
        ("a;b;c\n1;2,5;3\n", ";"),  # decimal commas don't fool it
        ('Name;Notes\n"Smith, Alex";"likes, commas"\n', ";"),
        ("sep=;\na;b\n1;2\n", ";"),  # Excel's hint line
        ("Email\nalex@example.com\n", ","),  # one column
    ],
)
def test_delimiters(data: str, delimiter: str) -> None:
    assert sniff_delimiter(data)[0] == delimiter
    reader = open_table(io.BytesIO(data.encode()))
    assert reader.delimiter == delimiter
    assert list(reader)


def test_sep_hint_line_is_skipped_and_numbered() -> None:
    reader = open_table(io.BytesIO(b"sep=;\r\nName;Email\r\nAlex;a@example.com\r\n"))
    assert reader.headers == ["Name", "Email"]
    (row,) = list(reader)
    assert row.line == 3


def test_quotes_and_newlines_in_cells_keep_line_numbers() -> None:
    data = (
        b"Name,Notes,Email\r\n"
        b'Alex,"Loves ""candid"" shots",a@example.com\r\n'
        b'Sam,"first line\r\nsecond line\r\nthird line",s@example.com\r\n'
        b"\r\n"
        b"Jo,plain,j@example.com\r\n"
        b'Kim,"one\nmore",k@example.com\n'
        b"Lee,x,l@example.com\n"
    )
    got = rows(data)
    assert [r.line for r in got] == [2, 3, 7, 8, 10]
    assert got[0].values["Notes"] == 'Loves "candid" shots'
    assert got[1].values["Notes"] == "first line\r\nsecond line\r\nthird line"


def test_headers_trimmed_deduplicated_and_named() -> None:
    reader = open_table(io.BytesIO(b" Email ,email,Email,,Name\nx,y,z,w,v\n"))
    assert reader.headers == ["Email", "email (2)", "Email (3)", "Column 4", "Name"]


def test_short_rows_padded_long_rows_keep_extras() -> None:
    got = rows(b"a,b,c\n1\n1,2,3,4,,5\n1,2,3,,\n")
    assert got[0].values == {"a": "1", "b": "", "c": ""}
    assert got[1].values == {"a": "1", "b": "2", "c": "3", EXTRA_KEY: "4 | 5"}
    assert got[2].values == {"a": "1", "b": "2", "c": "3"}  # trailing empty cells are noise


def test_blank_and_all_empty_rows_skipped() -> None:
    got = rows(b"\n\na,b\n\n,,\n  ,  \n1,2\n")
    assert [(r.line, r.values) for r in got] == [(7, {"a": "1", "b": "2"})]


def test_non_seekable_stream() -> None:
    class Pipe(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.data = data

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: memoryview) -> int:  # type: ignore[override]
            n = min(len(buffer), len(self.data), 1000)  # short reads, like a socket
            buffer[:n] = self.data[:n]
            self.data = self.data[n:]
            return n

    data = ("Name\n" + "".join(f"P{i}\n" for i in range(20000))).encode()
    reader = open_table(io.BufferedReader(Pipe(data)))
    assert sum(1 for _ in reader) == 20000


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "looks empty"),
        (b"   \r\n\r\n", "looks empty"),
        (b"\xef\xbb\xbf", "looks empty"),
        (b"First Name,Email\r\n", "only has a header row"),
        (b"First Name,Email\r\n\r\n,\r\n", "only has a header row"),
        (bytes(range(256)) * 50, "binary data"),
        (b"Name\x00Email\x00\x01\x02\x03" * 100, "binary data"),
        (b"PK\x03\x04\x14\x00\x06\x00" + b"\x00" * 100, "Excel workbook"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, "old Excel"),
        (b"%PDF-1.7\n", "PDF"),
    ],
)
def test_hostile_files_raise_clear_errors(data: bytes, message: str) -> None:
    with pytest.raises(ImportFileError, match=message):
        open_table(io.BytesIO(data))


def test_long_cell_is_read_not_fatal() -> None:
    data = b"Name,Notes\nAlex," + b"x" * 200_000 + b"\nSam,short\n"
    got = rows(data)
    assert len(got[0].values["Notes"]) == 200_000
    assert got[1].values["Name"] == "Sam"


def test_unclosed_quote_running_past_the_limit_is_a_file_error() -> None:
    data = b'Name,Notes\nAlex,ok\nSam,"never closed\n' + b"more text\n" * 200_000
    reader = open_table(io.BytesIO(data))
    got = []
    with pytest.raises(ImportFileError, match="Row 3"):
        got.extend(reader)
    assert [r.values["Name"] for r in got] == ["Alex"]


def test_reads_from_file(tmp_path: Path) -> None:
    path = tmp_path / "clients.csv"
    path.write_bytes(CSV.encode("utf-16"))
    with path.open("rb") as fh, open_table(fh) as reader:
        assert len(list(reader)) == 2


def test_google_typed_pairs_give_a_wedding_date_and_a_partner() -> None:
    data = (
        b"Name,Event 1 - Type,Event 1 - Value,Event 2 - Type,Event 2 - Value,Relation 1 - Type,Relation 1 - Value\r\n"
        b"Al,Birthday,1990-01-02,Anniversary,2027-06-12,Spouse,Sam Smith\r\n"
        b"Bo,Anniversary,--06-15,Wedding,2027-07-01,Friend,Cy\r\n"
        b"Di,Anniversary,--06-15,,,,\r\n"
    )
    reader = open_table(io.BytesIO(data))
    assert reader.headers[-2:] == ["Wedding date (from the events)", "Partner (from the relations)"]
    got = [(r.values["Wedding date (from the events)"], r.values["Partner (from the relations)"]) for r in reader]
    assert got == [("2027-06-12", "Sam Smith"), ("2027-07-01", ""), ("", "")]
