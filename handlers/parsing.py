"""Small parsers for command arguments: key=value pairs, ids, amounts, flags."""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from handlers.errors import NotFound, UsageError, UserError

_KEY_START = re.compile(r"(?:^|\s)([^\s=]{1,40})=")
# An id as people write it: digits (of any script: int() reads them all), optionally after
# "#". A signed number is matched only to be answered "no such ...": no id has a sign.
_ID = re.compile(r"#?([+-]?\d+)")
# The store's ids are signed 64-bit integers (PostgreSQL BIGINT, SQLite INTEGER): a larger
# number would fail inside the driver instead of naming nothing.
MAX_ID = 2**63 - 1
_AMOUNT = re.compile(r"^([$€£])?(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?([kK])?$")
_CURRENCY_SYMBOL = {"$": "USD", "€": "EUR", "£": "GBP"}
CURRENCIES = frozenset({"USD", "EUR", "GBP", "CHF", "JPY", "CAD", "AUD", "SEK", "NOK", "DKK"})
_CURRENCY_CODE = re.compile(r"^[A-Z]{3}$")
MAX_AMOUNT_CENTS = 10**12


def split_key_values(text: str) -> tuple[str, list[tuple[str, str]]]:
    """``'Acme Corp email=a@b.c phone=+1 555'`` -> ``('Acme Corp', [('email', 'a@b.c'), ...])``.

    A value runs to the next ``key=``, so values may hold spaces; quotes around a value
    are removed."""
    matches = list(_KEY_START.finditer(text))
    if not matches:
        return text.strip(), []
    head = text[: matches[0].start()].strip()
    pairs: list[tuple[str, str]] = []
    for i, match in enumerate(matches):
        end = matches[i + 1].start() if i + 1 < len(matches) else len(text)
        value = text[match.end() : end].strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        pairs.append((match.group(1).lower(), value))
    return head, pairs


def take_flag(text: str, flag: str) -> tuple[str, bool]:
    """Remove a ``--flag`` word from ``text``; report whether it was there."""
    words = text.split()
    if flag in words:
        words.remove(flag)
        return " ".join(words), True
    return text, False


def id_in(text: str, *, kind: str, hash_only: bool = False) -> int | None:
    """The id ``text`` is written as (``12``, ``#12``, ``#0012``, ``#١٢``), or None when it is
    not written as an id (with ``hash_only``, only ``#12`` is: other text names a customer).
    An id no {kind} can have (zero, negative, beyond ``MAX_ID``) is NotFound, as a missing
    one is. Every id typed, pressed, submitted in a form or given on the command line is
    read here."""
    text = text.strip()
    match = _ID.fullmatch(text)
    if match is None or (hash_only and not text.startswith("#")):
        return None
    signed = match.group(1)
    try:
        number = 0 if signed[0] in "+-" else int(signed)
    except ValueError:  # more digits than int() reads from text (4,300): no id either way
        number = 0
    if not 1 <= number <= MAX_ID:
        raise NotFound(f"There is no {kind} #{one_line(text.removeprefix('#'), 24)}.")
    return number


def parse_id(text: str, *, kind: str, usage: str) -> int:
    """The id of a {kind} that ``text`` must name: UserError when it is not a number."""
    number = id_in(text, kind=kind)
    if number is None:
        shown = one_line(text.strip(), 40)
        # A UsageError: "assign ticket 4 to me" has the words of a request, not the command's shape.
        raise UsageError(f"The {kind} id must be a number like 12 or #12, not {shown!r}.", usage=usage)
    return number


def parse_amount(token: str) -> tuple[int, str | None] | None:
    """``'1,200.50'`` -> (120050, None); ``'$99'`` -> (9900, 'USD'); ``'2k'`` -> (200000, None);
    None when the token is not an amount."""
    match = _AMOUNT.match(token.strip())
    if not match:
        return None
    symbol, whole, cents, kilo = match.groups()
    try:
        value = Decimal(whole.replace(",", "") + "." + (cents or "0"))
    except InvalidOperation:
        return None
    if kilo:
        value *= 1000
    return int(value * 100), _CURRENCY_SYMBOL.get(symbol) if symbol else None


def currency_after_amount(word: str, *, given: str | None) -> str | None:
    """The currency ``word`` names right after an amount, or None when it starts the note.

    A known code in any case (``CHF``, ``eur``) is the currency, and must agree with a symbol the
    amount had (``$5 EUR`` is refused). Three capital letters are read as a code too, so an
    unknown one (``XYZ``) is refused with the known ones listed, never kept as a note: a note that
    starts with three capitals goes after the currency (``1200 USD VAT included``, or
    ``$1200 VAT included``, where the symbol already named it)."""
    code = word.upper()
    if code in CURRENCIES:
        if given is not None and given != code:
            raise UserError(f"The amount ({given}) and {word} name different currencies.")
        return code
    if given is None and _CURRENCY_CODE.match(word):
        known = ", ".join(sorted(CURRENCIES))
        raise UserError(
            f"{word} is not a currency I know; use one of {known}. "
            f"A note that starts with three capitals goes after the currency: `<amount> USD {word} …`."
        )
    return None


def format_money(cents: int, currency: str = "USD") -> str:
    symbol = {"USD": "$", "EUR": "€", "GBP": "£"}.get(currency)
    amount = f"{cents / 100:,.2f}"
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


def one_line(text: str, limit: int = 80) -> str:
    """A single-line preview of user text for lists."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
