"""Typographic quotes read as plain ones, and given back as typed."""

from __future__ import annotations

from handlers.quotes import as_typed, plain_quotes


def test_plain_quotes_keeps_length_and_changes_only_quotes() -> None:
    typed = "what’s ‘new’ on „Acme“ — «Müller» ʼn ‛x‛ “y” O′Brien"
    plain = plain_quotes(typed)
    assert plain == "what's 'new' on \"Acme\" — \"Müller\" 'n 'x' \"y\" O'Brien"
    assert len(plain) == len(typed)
    assert plain_quotes("no quotes at all: 'a' \"b\"") == "no quotes at all: 'a' \"b\""


def test_as_typed_gives_back_the_quotes_of_copied_stretches() -> None:
    typed = "log a call with O’Brien: they’re “thrilled”"
    derived = "log O'Brien call: they're \"thrilled\""
    assert as_typed(derived, typed=typed) == "log O’Brien call: they’re “thrilled”"


def test_as_typed_leaves_quotes_the_reading_added() -> None:
    typed = "change acme’s phone to +49 30 1234"
    assert as_typed('update acme phone="+49 30 1234"', typed=typed) == 'update acme phone="+49 30 1234"'
    assert as_typed("tickets globex", typed="what’s open for globex?") == "tickets globex"
