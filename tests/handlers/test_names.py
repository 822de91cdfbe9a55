"""Which customer names read as sentences, and quoted names taken as written."""

from __future__ import annotations

import pytest

from handlers.names import quoted, sentence_sign


@pytest.mark.parametrize(
    ("name", "sign"),
    [
        ("a note to acme: they want a discount", "it has a colon"),
        ("Jane Doe jane@contoso.example", "it has an email address in it"),
        ("the people we met at the fair last week", "it is more than 6 words long"),
        ("call acme tomorrow", "it starts with 'call', like a request"),
        ("please set up acme", "it starts with 'please', like a request"),
        ("me to the list", "it has 'me' in it"),
        ("Acme, I think", "it has 'I' in it"),
        ("a new customer called Initech", "'a new customer called' reads like a request"),
        ("meeting with bob", "'meeting with' reads like a request"),
    ],
)
def test_sentences_say_why(name: str, sign: str) -> None:
    assert sentence_sign(name) == sign


@pytest.mark.parametrize(
    "name",
    [
        "Acme Corp",
        "Müller & Söhne GmbH",
        "O'Brien Consulting",
        "O’Brien Consulting",
        "Dr. Jane Doe",
        "AT&T",
        "3M",
        "7-Eleven",
        "Studio 54",
        "The Home Depot",
        "the home depot",
        "Bank of America",
        "Call Center Partners",
        "Toys R Us",
        "Lead Generation Experts Ltd",
        "jane doe",
        "Procter & Gamble Co.",
    ],
)
def test_names_are_names(name: str) -> None:
    assert sentence_sign(name) is None


def test_quoted_names_are_taken_as_written() -> None:
    assert quoted('"a note: to self"') == "a note: to self"
    assert quoted("“Call me maybe”") == "Call me maybe"
    assert quoted("«Notes: Acme»") == "Notes: Acme"
    assert quoted('"Toys "R" Us"') == 'Toys "R" Us'
    assert quoted("Acme Corp") is None
    assert quoted('"Acme') is None
