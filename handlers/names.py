"""Customer names that read as sentences ("a note to acme: …"), which `add` asks about first."""

from __future__ import annotations

import re

from handlers.quotes import plain_quotes

MAX_NAME_WORDS = 6
_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# First words of requests, as reps type them (lower case): "call acme tomorrow", "remind me …".
_REQUEST_VERBS = {
    "add", "call", "email", "e-mail", "log", "note", "remind", "ping", "meet", "schedule", "send",
    "follow", "show", "find", "update", "change", "set", "create", "open", "order", "reply",
    "resolve", "assign", "invite", "snooze", "record", "book", "contact", "phone", "text",
    "message", "ask", "tell", "check", "chase", "please", "pls",
}  # fmt: skip
_PRONOUNS = {"i", "me", "my", "mine", "we", "us", "our", "you", "your", "them", "their", "him", "her", "his"}
# What a request is about ("a note to …", "a new lead: …", "the customer called …").
_REQUEST_NOUNS = {
    "note", "notes", "call", "meeting", "email", "reminder", "lead", "customer", "client",
    "contact", "ticket", "order", "task", "deal", "prospect", "account", "record", "follow-up",
    "followup", "tag", "tags", "label", "status", "owner", "phone", "number", "issue", "problem",
}  # fmt: skip
_ARTICLES = {"a", "an", "the"}
_LINKS = {"to", "for", "with", "about", "from", "on"}


def _words(name: str) -> list[str]:
    return [w.strip(".,;!?\"'()") for w in plain_quotes(name).split()]


def sentence_sign(name: str) -> str | None:
    """Why ``name`` reads as a sentence rather than a name, or None. Lower-case words count as
    request words, capitalised ones as part of a name ("The Home Depot", "Toys R Us")."""
    if ":" in name:
        return "it has a colon"
    if _EMAIL.search(name):
        return "it has an email address in it"
    words = [w for w in _words(name) if w]
    if len(words) > MAX_NAME_WORDS:
        return f"it is more than {MAX_NAME_WORDS} words long"
    if len(words) > 1 and words[0] in _REQUEST_VERBS:
        return f"it starts with {words[0]!r}, like a request"
    for n, word in enumerate(words):
        if word in _PRONOUNS or word == "I" or word in ("called", "named"):
            return f"it has {word!r} in it"
        if word in _REQUEST_NOUNS and (
            (n > 0 and words[n - 1] in _ARTICLES | {"new"}) or (n + 1 < len(words) and words[n + 1] in _LINKS)
        ):
            return f"{' '.join(words[max(0, n - 2) : n + 2])!r} reads like a request"
    return None


def quoted(name: str) -> str | None:
    """The name inside a pair of quotes ("…", “…”, «…»), which is taken as written; else None."""
    plain = plain_quotes(name.strip())
    if len(plain) >= 2 and plain[0] == plain[-1] == '"':
        return name.strip()[1:-1].strip()
    return None
