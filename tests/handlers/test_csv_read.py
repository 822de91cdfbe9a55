"""Reading people's CSV files: encodings, delimiters, quoted line breaks, and an unclosed quote
that costs its own line and nothing more."""

from __future__ import annotations

import codecs
import csv
import io

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handlers.csv_read import MAX_RECORD_LINES, Record, detect_encoding, records, sniff_delimiter


def _records(text: str) -> list[Record]:
    return list(records(io.StringIO(text, newline="")))


@pytest.mark.parametrize(
    ("raw", "encoding"),
    [
        ("name\nChloé\n".encode(), "utf-8"),
        (codecs.BOM_UTF8 + "name\nChloé\n".encode(), "utf-8-sig"),
        ("name\nChloé Weiß\n".encode("cp1252"), "cp1252"),
        (b"name\nplain\n", "utf-8"),
    ],
)
def test_encoding_is_detected(raw: bytes, encoding: str) -> None:
    assert detect_encoding([raw[:7], raw[7:]]) == encoding


def test_a_utf8_character_split_between_chunks_is_still_utf8() -> None:
    raw = "é".encode()
    assert detect_encoding([raw[:1], raw[1:]]) == "utf-8"
    assert detect_encoding([raw[:1]]) == "cp1252"


@pytest.mark.parametrize(
    ("header", "delimiter"),
    [("a,b,c", ","), ("a;b;c", ";"), ("a\tb\tc", "\t"), ('"x;y",b,c', ","), ("name", ",")],
)
def test_delimiter_is_the_one_the_header_uses(header: str, delimiter: str) -> None:
    assert sniff_delimiter(header) == delimiter


def test_quoted_line_breaks_and_doubled_quotes_stay_in_one_cell() -> None:
    got = _records('a,b\r\n"one\r\ntwo","say ""hi"""\r\n3,4\r\n')
    assert [(r.line, r.cells, r.error) for r in got] == [
        (1, ["a", "b"], ""),
        (2, ["one\r\ntwo", 'say "hi"'], ""),
        (4, ["3", "4"], ""),
    ]


def test_an_unclosed_quote_costs_its_line_only_even_at_the_end_of_the_file() -> None:
    got = _records('a,b\n1,"open\n2,x\n3,y\n4,"never closed\n')
    assert [(r.line, r.cells, bool(r.error)) for r in got] == [
        (1, ["a", "b"], False),
        (2, [], True),
        (3, ["2", "x"], False),
        (4, ["3", "y"], False),
        (5, [], True),
    ]


def test_a_quote_inside_a_cell_is_a_character() -> None:
    got = _records('a,b\n5" screen,x\n6,y\n')
    assert [r.cells for r in got] == [["a", "b"], ['5" screen', "x"], ["6", "y"]]


def test_a_long_open_quote_is_cut_off_and_the_lines_after_it_are_read() -> None:
    body = "".join(f"{i},v\n" for i in range(MAX_RECORD_LINES + 5))
    got = _records('a,b\n"x;y\n' + body)
    assert got[1].line == 2 and got[1].error
    assert [r.cells[0] for r in got[2:]] == [str(i) for i in range(MAX_RECORD_LINES + 5)]


@settings(max_examples=150, deadline=None)
@given(
    delimiter=st.sampled_from([",", ";", "\t"]),
    rows=st.lists(
        st.lists(st.text(alphabet=st.sampled_from("ab é,;\t\"\n\r='x"), max_size=8), min_size=3, max_size=3),
        max_size=6,
    ),
)
def test_what_the_csv_module_writes_is_read_back_cell_for_cell(delimiter: str, rows: list[list[str]]) -> None:
    out = io.StringIO(newline="")
    writer = csv.writer(out, delimiter=delimiter)
    writer.writerow(["name", "email", "note"])
    writer.writerows(rows)
    got = _records(out.getvalue())
    assert all(not r.error for r in got)

    # A row of empty or unquoted blank cells may read as a blank line (imports strip cells).
    def filled(cells: list[str]) -> bool:
        return any(c.strip() for c in cells)

    assert [r.cells for r in got[1:] if filled(r.cells)] == [r for r in rows if filled(r)]
