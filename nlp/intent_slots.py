"""Slot rules of the free-text reader: per intent, the customer, text, time, ids and fields
found in a rep's sentence, and the command they make."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from nlp.intent_words import EMAIL, MENTION, canonical
from nlp.when import find_when

_PAST_SLACK = timedelta(minutes=1)

# ---------------------------------------------------------------------------
# Slot helpers

_TIME_MARK = " \u00a6 "  # stands where a time expression was cut out; ends a customer span
_STRIP_CHARS = " \t,.;:!?-–—\"'`\u00a6"
_ARTICLES = {"the", "a", "an", "our", "my", "this", "that"}
_TRAILING_NOISE = {
    "please", "pls", "plz", "thanks", "account", "accounts", "record", "profile", "details",
    "detail", "info", "contact", "customer", "client", "company", "again", "lately", "recently",
    "now", "asap", "today",
}  # fmt: skip
_CUSTOMER_STOP = {
    "about", "re", "regarding", "that", "saying", "because", "but", "and", "to", "with", "on",
    "at", "in", "for", "from", "by", "of", "the", "who", "which", "today", "yesterday",
    "tomorrow", "tonight", "this", "last", "next", "earlier", "again", "invoice", "quote",
    "contract", "proposal", "deck", "renewal", "payment", "demo", "pricing", "order",
    "please", "pls", "asap", "\u00a6",
    # What a report of what happened puts after the name: "Acme mentioned that ...".
    "mentioned", "said", "says", "told", "tells", "asked", "asks", "wants", "confirmed", "confirms",
    "complained", "complains", "agreed", "agrees", "needs", "is", "was", "are", "were", "has",
    "had", "will", "would", "called", "emailed", "replied", "reported", "reports", "wrote",
    "prefers", "loved", "liked", "hates", "became", "churned", "can't", "cannot", "signed",
}  # fmt: skip


def _words(text: str) -> list[str]:
    return text.split()


def _bare(word: str) -> str:
    return canonical(word.strip(_STRIP_CHARS))


def _tidy(text: str) -> str:
    text = text.replace("\u00a6", " ")
    return " ".join(text.split()).strip(_STRIP_CHARS + " ")


def _clean_customer(words: list[str]) -> str:
    """Drop leading articles and trailing filler ('the acme account please' -> 'acme')."""
    while words and _bare(words[0]) in _ARTICLES:
        words = words[1:]
    while words and (_bare(words[-1]) in _TRAILING_NOISE or not _bare(words[-1])):
        words = words[:-1]
    name = _tidy(" ".join(words))
    for suffix in ("'s", "’s", "s'"):
        if name.lower().endswith(suffix) and len(name) > len(suffix) + 1:
            name = name[: -len(suffix)] if suffix != "s'" else name[:-1]
            break
    return name


def _between(text: str, left: set[str], right: set[str]) -> str:
    """What is left of text after request words are peeled off both ends."""
    words = _words(text)
    while words and (_bare(words[0]) in left or not _bare(words[0])):
        if words[0].rstrip().endswith(("?", "!")) and len(words) > 1:
            break
        words = words[1:]
    # A boundary ("?", ":", ",") ends the customer part.
    for k, w in enumerate(words):
        if w[-1:] in ",;:?!" or w == "\u00a6":
            words = words[: k + 1]
            break
    while words and (_bare(words[-1]) in right or not _bare(words[-1])):
        words = words[:-1]
    return _clean_customer(words)


def _span_until_stop(words: list[str]) -> list[str]:
    taken: list[str] = []
    for w in words:
        if w == "\u00a6" or (taken and _bare(w) in _CUSTOMER_STOP):
            break
        if _bare(w) in _ARTICLES and not taken:
            continue
        taken.append(w)
        if w[-1:] in ",;:?!.":
            break
        if EMAIL.fullmatch(_bare(w)) or MENTION.fullmatch(w):
            taken.pop()
            break
    return taken


def _after_trigger(text: str, triggers: str) -> str:
    """The customer named right after the first trigger phrase ('with Acme, ...' -> 'Acme')."""
    m = re.search(rf"(?:^|\s)(?:{triggers})\s+(.+)", text, re.IGNORECASE)
    if m is None:
        return ""
    return _clean_customer(_span_until_stop(_words(m.group(1))))


def _cut_time(text: str, *, now: datetime, tz: ZoneInfo) -> tuple[str, datetime | None]:
    found = find_when(text, now=now, tz=tz)
    if found is None:
        return text, None
    start, end, when = found
    rest = f"{text[:start]}{_TIME_MARK}{text[end:]}"
    if when < now - _PAST_SLACK:
        return rest, None
    return rest, when


def _local(when: datetime, tz: ZoneInfo) -> str:
    return when.astimezone(tz).strftime("%Y-%m-%d %H:%M")


_ID = re.compile(r"(?:#\s?|\b(?:no\.?|number)\s*)?\b(\d{1,9})\b(?![:.,]\d|\s?(?:am|pm)\b)", re.I)


def _first_id(text: str) -> tuple[str, str]:
    """The first ticket/reminder number and the text after it."""
    m = _ID.search(text)
    if m is None:
        return "", text
    return m.group(1), text[m.end() :]


# ---------------------------------------------------------------------------
# Per-intent slot rules: each returns (slots, command)

_Slots = dict[str, str]
_Rule = Callable[[str, datetime, ZoneInfo], tuple[_Slots, str]]

_ASK = {
    "can", "could", "would", "you", "please", "pls", "plz", "me", "i", "i'd", "id", "like", "to",
    "want", "need", "let", "quickly", "just", "hey", "bot", "crm", "kindly", "give", "get", "a",
    "an", "the", "some", "all", "any", "our", "my", "show", "see", "tell", "us", "u", "ya",
}  # fmt: skip
# Nouns a request wraps around a name: "the phone number for X", "full record of X".
_ABOUT = {
    "phone", "number", "email", "address", "full", "record", "records", "file", "data",
    "details", "notes", "status", "stuff", "everything", "anything", "info", "information",
}  # fmt: skip
_FIND_LEFT = _ASK | _ABOUT | {
    "find", "search", "serch", "srch", "seach", "fnd", "look", "lookup", "look-up", "up", "for",
    "do", "we", "have", "anyone", "anybody", "is", "are", "there", "customer", "customers",
    "client", "clients", "company", "companies", "contact", "contacts", "account", "named",
    "called", "at", "from", "who", "in", "database", "system", "matching", "with", "records",
}  # fmt: skip
_FIND_RIGHT = {
    "in", "the", "crm", "system", "database", "on", "file", "please", "pls", "up", "account",
    "for", "me", "us", "there",
}  # fmt: skip
_SHOW_LEFT = _ASK | _ABOUT | {
    "show", "sho", "shwo", "open", "pull", "up", "display", "bring", "view", "details", "detail",
    "for", "of", "on", "about", "info", "information", "who", "is", "what", "what's", "whats",
    "do", "we", "know", "everything", "profile", "card", "customer", "contact", "record", "the",
    "overview", "page", "can", "look", "at", "summary", "how", "how's", "hows", "are", "things",
    "going", "doing", "have", "owner", "owns", "owned", "account", "manager", "rundown", "where",
    "with", "latest", "status", "whose", "whos", "who's", "looks", "after", "manages", "phone",
    "email", "address", "anything", "should", "i", "before", "my", "quick", "in",
}  # fmt: skip
_SHOW_RIGHT = {
    "record", "profile", "card", "details", "info", "please", "page", "overview", "doing",
    "going", "lately", "email", "phone", "address", "number", "owner", "status", "account",
    "is", "a", "lead", "or", "customer", "in", "before", "my", "call",
}  # fmt: skip
_TIMELINE_LEFT = _ASK | _ABOUT | {
    "timeline", "timline", "timelime", "history", "of", "for", "with", "on", "what", "what's",
    "whats", "did", "we", "do", "last", "when", "was", "were", "our", "contact", "talk", "talked",
    "speak", "spoke", "to", "happened", "has", "have", "been", "recent", "activity", "activities",
    "interaction", "interactions", "calls", "emails", "meetings", "notes", "and", "all", "latest",
    "catch", "up", "bring", "speed", "past", "log", "who", "new", "story", "so", "far",
    "touchpoint", "touchpoints", "discuss", "discussed", "time", "contacted", "is", "done",
    "anyone", "anybody", "call", "called", "email", "emailed", "met", "meet", "heard", "from",
}  # fmt: skip
_TIMELINE_RIGHT = {
    "last", "lately", "recently", "history", "timeline", "so", "far", "activity", "please",
    "time", "contacted", "was", "when",
}  # fmt: skip
_LOYALTY_LEFT = _ASK | {
    "loyalty", "loyality", "loyal", "score", "scor", "for", "of", "how", "is", "are", "we", "at",
    "risk", "losing", "lose", "churn", "check", "what's", "whats", "what", "healthy", "health",
    "likely", "happy", "engaged", "will", "account",
}  # fmt: skip
_LOYALTY_RIGHT = {
    "loyalty", "score", "health", "churn", "going", "to", "likely", "leave", "stay", "happy",
    "with", "us", "a", "risk", "at", "doing", "as", "customer", "please", "account", "will",
    "check", "status",
}  # fmt: skip
_INVITE_LEFT = _ASK | {
    "invite", "invte", "invit", "send", "an", "invitation", "link", "for", "to", "create",
    "generate", "connect", "onboard", "share", "telegram", "how", "do", "i", "get", "make",
}  # fmt: skip
_INVITE_RIGHT = {
    "invite", "invitation", "link", "telegram", "to", "the", "bot", "support", "join", "on",
    "onto", "a", "contact", "please", "via", "needs", "an", "access", "our", "us", "with",
    "in", "chat", "channel",
}  # fmt: skip
_TICKETS_LEFT = _ASK | {
    "tickets", "ticket", "tikets", "tickts", "tix", "open", "for", "from", "what's", "whats",
    "what", "is", "are", "any", "support", "issues", "issue", "cases", "case", "requests",
    "complaints", "problems", "list", "by", "raised", "reported", "does", "do", "which", "still",
    "unresolved", "of", "assigned", "every", "everything", "mine", "unassigned", "there",
}  # fmt: skip
_TICKETS_RIGHT = {
    "tickets", "ticket", "have", "has", "any", "open", "issues", "cases", "complaining",
    "about", "problems", "requests", "support", "still", "got",
}  # fmt: skip


def _customer_rule(left: set[str], right: set[str], intent: str) -> _Rule:
    def rule(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
        customer = _between(text, left, right)
        slots = {"customer": customer} if customer else {}
        return slots, f"{intent} {customer}".strip()

    return rule


def _find(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    query = _between(text, _FIND_LEFT, _FIND_RIGHT)
    return ({"text": query} if query else {}), f"find {query}".strip()


_KIND_WORDS = (
    ("email", r"e-?mail(?:ed|s)?|mailed|wrote|written"),
    ("meeting", r"meeting|meet|met|demo|visit(?:ed)?|lunch|on[- ]site|workshop"),
    ("call", r"call(?:ed|s)?|phone(?:d)?|rang|ring|spoke|spoken|talked|chat(?:ted)?|lg call"),
    ("note", r"note(?:s|d)?|jot(?:ted|ting)?"),
)
_LOG_LEFT = _ASK | {
    "log", "lgo", "lg", "a", "an", "call", "called", "email", "emailed", "e-mail", "mailed",
    "meeting", "met", "meet", "note", "notes", "with", "w/", "to", "for", "on", "about", "had",
    "have", "just", "spoke", "spoken", "talked", "quick", "chat", "chatted", "phone", "phoned",
    "rang", "add", "record", "jot", "down", "i", "we", "got", "off", "sent", "wrote", "visited",
    "visit", "lunch", "demo", "that", "log:", "put", "write", "new", "the",
}  # fmt: skip
_LOG_RIGHT = {"meeting", "notes", "note", "call", "email", "today", "demo", "visit"}
_SEPARATORS = re.compile(r"\s*(?::|;|,|\s[-–—]\s|\bthat\b|\bsaying\b)\s*", re.IGNORECASE)


def _log(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    sep = _SEPARATORS.search(text)
    head, body = (text[: sep.start()], text[sep.end() :]) if sep else (text, "")
    kind = "note"
    first = len(head) + 1
    for name, pattern in _KIND_WORDS:
        m = re.search(rf"\b(?:{pattern})\b", head, re.IGNORECASE)
        if m is not None and m.start() < first:
            kind, first = name, m.start()
    words = _words(head)
    while words and (_bare(words[0]) in _LOG_LEFT or not _bare(words[0])):
        words = words[1:]
    taken = _span_until_stop(words)
    rest = words[len(taken) :]
    whole = False
    for k, w in enumerate(taken[:-1]):
        if re.search(r"['’]s$", w):
            # "met with Globex's CFO today": the customer is Globex; the note is the sentence.
            taken, rest, whole = taken[: k + 1], taken[k + 1 :] + rest, True
            break
    while taken and _bare(taken[-1]) in _LOG_RIGHT:
        taken = taken[:-1]
    customer = _clean_customer(taken)
    if whole and not body:
        body = text
    elif not body and rest:
        # No separator: what follows the name is the note ("emailed X the proposal").
        body = " ".join(rest)
    note = _tidy(body)
    if not note and customer and kind != "note":
        # "had a call with Acme": the sentence is the record of what happened.
        note = _tidy(re.sub(r"^\s*(?:please\s+)?(?:log|record|add)\s+", "", text, flags=re.IGNORECASE))
    slots = {"kind": kind}
    if customer:
        slots["customer"] = customer
    if note:
        slots["text"] = note
    return slots, f"log {customer} {kind}: {note}"


_AMOUNT = re.compile(
    r"(?<![\w@#/.:-])([$€£]\s?)?(\d{1,3}(?:,\d{3})+|\d+)(\.\d+)?\s?([kK]\b)?"
    r"(?:\s?(usd|eur|euros?|gbp|chf|jpy|cad|aud|sek|nok|dkk|dollars|bucks|pounds)\b)?",
    re.IGNORECASE,
)
_CURRENCY_CODES = {"$": "USD", "€": "EUR", "£": "GBP", "euro": "EUR", "euros": "EUR", "dollars": "USD",
                   "bucks": "USD", "pounds": "GBP"}  # fmt: skip
_ORDER_VERBS = r"(?:just\s+)?(?:ordered|bought|purchased|placed|paid|signed|orders?)\b"
_ORDER_LEFT = _ASK | {
    "order", "ordr", "ordder", "orders", "record", "new", "add", "an", "a", "book", "log",
    "register", "enter", "sale", "purchase", "of", "for", "from", "to", "by", "please",
}  # fmt: skip


_COUNT_NOUN = re.compile(
    r"\s*(?:seats?|units?|licen[cs]es?|users?|pcs|pieces?|items?|boxes|cases|pallets?|"
    r"hours?|days?|months?|years?|people|employees|x)\b",
    re.IGNORECASE,
)


def _amount(text: str) -> tuple[str, str, str]:
    """('2500', 'USD', text without it) for '$2,500', '2.5k', '2500 usd'; currency '' when
    not said; ('', '', text) when there is no amount."""
    best: re.Match[str] | None = None
    for m in _AMOUNT.finditer(text):
        if _COUNT_NOUN.match(text, m.end()) and not (m.group(1) or m.group(4)):
            continue  # "40 seats": a quantity, not the amount
        # Prefer a figure with a currency mark or k; otherwise the first one.
        if best is None or ((m.group(1) or m.group(4)) and not (best.group(1) or best.group(4))):
            best = m
    if best is None:
        return "", "", text
    mark = (best.group(1) or best.group(5) or "").strip().lower()
    currency = _CURRENCY_CODES.get(mark, mark.upper())
    whole = best.group(2).replace(",", "")
    decimals = best.group(3) or ""
    if best.group(4):
        value = round(float(whole + decimals) * 1000, 2)
        amount = str(int(value)) if value == int(value) else str(value)
    else:
        amount = whole + decimals
    return amount, currency, f"{text[: best.start()]} {text[best.end() :]}"


def _order(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    amount, currency, rest = _amount(text)
    customer = note = ""
    words = _words(text)
    figure = _AMOUNT.search(text)
    if words and _bare(words[0]) == "order" and amount and figure is not None:
        # Command form "order <customer> <amount> [note]".
        customer = _clean_customer(_words(text[len(words[0]) : figure.start()]))
        note = _tidy(text[figure.end() :])
    if not customer:
        verb = re.search(_ORDER_VERBS, rest, re.IGNORECASE)
        if verb is not None:
            customer = _between(rest[: verb.start()], _ORDER_LEFT, set())
    if not customer:
        customer = _after_trigger(rest, "for|from|to|by")
    if not customer:
        customer = _clean_customer(_span_until_stop(_between(rest, _ORDER_LEFT, set()).split()))
    slots: _Slots = {}
    if customer:
        slots["customer"] = customer
    if amount:
        slots["amount"] = amount
    if currency:
        slots["currency"] = currency
    if note:
        slots["text"] = note
    # The order handler reads "order <customer> <amount> [currency] [note]".
    return slots, " ".join(p for p in ("order", customer, amount, currency, note) if p)


_REMIND_LEAD = re.compile(
    r"^\s*(?:(?:hey|ok|please|pls|could you|can you|would you|kindly)\s+)*"
    r"(?:set (?:a |up a )?reminder|reminder|remind(?:er)?|remnd|rmind|ping|nudge|alert|"
    r"don'?t let me forget|make sure i|remember|schedule a follow[- ]?up|i need a reminder|"
    r"don'?t forget)\b(?:\s+(?P<me>me|us)\b)?",
    re.IGNORECASE,
)
_DOER_VERBS = (
    r"call|email|e-mail|phone|ring|ping|chase|contact|text|meet|visit|send|follow up with|"
    r"follow-up with|followup with|check in with|check on|reach out to|get back to|talk to|"
    r"speak to|speak with|ask|invite|remind|write to|message|book a demo with|meeting with|"
    r"call with|review with|sync with|catch up with"
)


def _remind(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    rest, when = _cut_time(text, now=now, tz=tz)
    lead = _REMIND_LEAD.match(rest)
    body = rest[lead.end() :] if lead else rest
    customer = ""
    colon = body.find(":")
    if colon >= 0:
        head, todo = body[:colon], body[colon + 1 :]
    else:
        to = re.search(r"(?:^|\s)to\s", body)
        head, todo = (body[: to.start()], body[to.end() :]) if to else ("", body)
    head_words = _words(head.replace("\u00a6", " "))
    if head_words and _bare(head_words[0]) in ("for", "about", "with", "re", "on"):
        customer = _clean_customer(_span_until_stop(head_words[1:]))
    elif lead is not None and lead.group("me") is None and head_words:
        # Command form "remind Acme <when>: call them".
        customer = _clean_customer(_span_until_stop(head_words))
    todo = _tidy(re.sub(r"^\s*(?:to|that)\s+", "", todo))
    if not customer and re.match(r"(?:about|for|with|re)\s", todo, re.IGNORECASE):
        # "remind me about Acme tomorrow": the whole request is the customer.
        customer = _clean_customer(_span_until_stop(todo.split()[1:]))
    if not customer:
        customer = _after_trigger(todo.replace(_TIME_MARK.strip(), " "), _DOER_VERBS)
    slots: _Slots = {}
    if customer:
        slots["customer"] = customer
    if when is not None:
        slots["when"] = when.isoformat()
    if customer and (
        not todo or re.fullmatch(rf"(?:about|for|with|re|regarding|on)\s+{re.escape(customer)}", todo, re.I)
    ):
        # "ping me tomorrow about Acme": what is left names the customer only; the reminder
        # is to follow up with them, not the words "about Acme".
        todo = f"follow up with {customer}"
    if todo:
        slots["text"] = todo
    parts = ["remind", customer, _local(when, tz) if when else ""]
    return slots, " ".join(p for p in parts if p) + f": {todo}"


_RELATIVE_BY = re.compile(
    r"\b(?:for|by)\s+(?=(?:\d+(?:\.\d+)?|an?|one|two|three|half)\s*(?:an\s+)?"
    r"(?:m|mins?|minutes?|h|hrs?|hours?|d|days?|w|wks?|weeks?)\b)",
    re.IGNORECASE,
)


_TICKET_INTENTS = frozenset({"ticket", "assign", "reply", "resolve", "reopen"})
_REMINDER_INTENTS = frozenset({"done", "snooze"})
# Words right before a number that make it the ticket's or reminder's id ("close 12",
# "ticket #4", "reply to 7", "give 8 to"); "the acme deal at 4,500" has none.
_ID_ANCHORS = frozenset(
    [
        "ticket",
        "tickets",
        "case",
        "issue",
        "reminder",
        "reminders",
        "task",
        "number",
        "no",
        "no.",
        "id",
        "close",
        "closed",
        "closing",
        "resolve",
        "resolved",
        "solve",
        "solved",
        "fix",
        "fixed",
        "reopen",
        "re-open",
        "open",
        "assign",
        "assigned",
        "take",
        "took",
        "grab",
        "handle",
        "give",
        "hand",
        "pass",
        "route",
        "move",
        "put",
        "reply",
        "respond",
        "answer",
        "write",
        "to",
        "on",
        "with",
        "for",
        "mark",
        "tick",
        "done",
        "finish",
        "finished",
        "complete",
        "completed",
        "snooze",
        "postpone",
        "push",
        "delay",
        "defer",
        "show",
        "see",
        "view",
        "check",
        "is",
        "about",
    ]
)


_REMIND_WORDS = re.compile(
    r"\b(?:remind(?:er)?|remnd|ping me|nudge me|alert me|don'?t (?:let me )?forget|remember to|follow[- ]?up|"
    r"(?:i|we) (?:need|have|should|must|gotta|got) to|need to|have to|to-?do)\b",
    re.IGNORECASE,
)
_IMPERATIVE = re.compile(
    rf"^\W*(?:(?:please|pls|then|and|also)\s+)*(?:{_DOER_VERBS}|check|chase|circle back|follow|prepare|"
    r"draft|book|schedule|set up|confirm|review|renew|invoice|ship|get|call back|ring)\b",
    re.IGNORECASE,
)


def doubt(intent: str, text: str) -> bool:
    """Whether a reading's slots may not mean what its intent needs. A reminder with no word of
    reminding and no imperative ("acme's contract ends on 2027-01-31" states a date). A ticket or
    reminder id that nothing before it marks as one ("closed the acme deal at 4,500"), or words
    naming the other kind ("done with ticket 10" is no reminder)."""
    if intent == "remind":
        bare = _tidy(find_when_cut(text))
        return _REMIND_WORDS.search(text) is None and _IMPERATIVE.match(bare) is None
    if intent not in _TICKET_INTENTS | _REMINDER_INTENTS:
        return False
    low = text.lower()
    if intent in _REMINDER_INTENTS and re.search(r"\b(?:ticket|case|issue)s?\b", low):
        return True
    if intent in _TICKET_INTENTS and re.search(r"\b(?:reminder|task|follow[- ]?up)s?\b", low):
        return True
    m = _ID.search(text)
    if m is None:
        return False
    if m.group().startswith("#") or not text[: m.start()].strip():
        return False
    before = text[: m.start()].split()
    return before[-1].lower().strip(",.:;!?'\"") not in _ID_ANCHORS


def find_when_cut(text: str) -> str:
    """text without its time expression (any instant: only the words matter here)."""
    from datetime import UTC

    found = find_when(text, now=datetime(2026, 1, 5, 12, 0, tzinfo=UTC), tz=ZoneInfo("UTC"))
    return text if found is None else f"{text[: found[0]]} {text[found[1] :]}"


def _id_rule(intent: str) -> _Rule:
    def rule(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
        ident, _ = _first_id(text)
        return ({"id": ident} if ident else {}), f"{intent} {ident}".strip()

    return rule


def _snooze(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    ident, _ = _first_id(text)
    rest = text
    if ident:
        m = _ID.search(text)
        assert m is not None
        rest = f"{text[: m.start()]} {text[m.end() :]}"
    # "snooze 4 for 30 minutes" / "by a day" mean the same as "in ...".
    rest = _RELATIVE_BY.sub("in ", rest)
    _, when = _cut_time(rest, now=now, tz=tz)
    slots: _Slots = {"id": ident} if ident else {}
    if when is not None:
        slots["when"] = when.isoformat()
    return slots, " ".join(p for p in ("snooze", ident, _local(when, tz) if when else "") if p)


def _after_id(text: str, *, lead: str) -> str:
    _, rest = _first_id(text)
    rest = re.sub(rf"^(?:\s*(?::|-|–|—|,|{lead})\s*)+", "", rest, flags=re.IGNORECASE)
    return _tidy(rest).strip("'\"‘’“”")


def _reply(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    ident, _ = _first_id(text)
    body = _after_id(text, lead=r"with|saying|that|to say|and say|:")
    slots: _Slots = {"id": ident} if ident else {}
    if body:
        slots["text"] = body
    return slots, f"reply {ident} {body}".strip()


def _resolve(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    ident, rest = _first_id(text)
    note = ""
    # "resolve 45: done", "close #88, refund issued", "mark #64 fixed, shipped a new one".
    m = re.match(
        r"\s*(?:(?:is|as|now)\s+)?(?:fixed|resolved|solved|done|closed)?\s*"
        r"(?::|,|;|\s[-–—]\s|with note\b|note\b)\s*(.+)",
        rest,
        re.IGNORECASE,
    )
    if m is not None:
        note = _tidy(m.group(1)).strip("'\"‘’“”")
    slots: _Slots = {"id": ident} if ident else {}
    if note:
        slots["text"] = note
    return slots, f"resolve {ident} {note}".strip()


def _assign(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    ident, _ = _first_id(text)
    mention = MENTION.search(text)
    user = mention.group() if mention else "me"
    slots: _Slots = {"user": user}
    if ident:
        slots["id"] = ident
    return slots, f"assign {ident} {user}".strip()


_NOT_A_CUSTOMER = {
    "i", "me", "my", "mine", "myself", "assigned", "do", "have", "got", "i've", "to", "in",
    "unassigned", "queue", "the", "team", "we", "us", "our", "today", "now", "right",
}  # fmt: skip


def _tickets(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    low = text.lower()
    customer = _between(text, _TICKETS_LEFT, _TICKETS_RIGHT)
    if all(w in _NOT_A_CUSTOMER for w in customer.lower().split()):
        customer = ""
    if customer:
        return {"customer": customer}, f"tickets {customer}"
    if re.search(r"\b(?:my|mine|me|i have|do i|i've|i got)\b", low):
        kind = "mine"
    elif re.search(r"\b(?:all|every|everything)\b", low):
        kind = "all"
    elif re.search(r"\b(?:open|unresolved|still|pending|queue)\b", low):
        kind = "open"
    else:
        return {}, "tickets"
    return {"kind": kind}, f"tickets {kind}"


_FIELD_WORDS = (
    ("email", r"e-?mail(?: address)?|mail"),
    ("phone", r"phone(?: number)?|mobile|tel|telephone|number"),
    ("status", r"status|stage"),
    ("owner", r"owner|account manager|rep"),
    ("company", r"company|employer|organisation|organization"),
    ("tags", r"tags?"),
    ("name", r"name"),
)
_KEY = re.compile(r"(?:^|\s)([a-z_][\w-]*)=", re.IGNORECASE)
_PHONE = re.compile(r"\+?\d[\d\s().-]{4,}\d")
_UPDATE_LEFT = _ASK | {
    "update", "updte", "updat", "change", "set", "edit", "modify", "correct", "fix", "replace",
    "the", "of", "for", "on", "mark", "tag", "rename", "move", "make",
}  # fmt: skip


def _key_values(text: str) -> dict[str, str]:
    """key=value pairs; an unquoted value runs to the next key= ("phone=+49 30 1234 tags=x")."""
    keys = list(_KEY.finditer(text))
    found: dict[str, str] = {}
    for k, m in enumerate(keys):
        end = keys[k + 1].start() if k + 1 < len(keys) else len(text)
        value = text[m.end() : end].strip().rstrip(",;")
        if value[:1] in "\"'" and value[-1:] == value[:1] and len(value) > 1:
            value = value[1:-1]
        found[m.group(1).lower()] = value
    return found


def _fields_text(fields: dict[str, str]) -> str:
    return " ".join(f"{k}={v}" for k, v in sorted(fields.items()))


def _fields_command(fields: dict[str, str]) -> str:
    # Values with spaces are quoted so "phone=+49 30 1234" stays one key=value.
    return " ".join(f'{k}="{v}"' if " " in v else f"{k}={v}" for k, v in sorted(fields.items()))


def _update(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    fields = _key_values(text)
    customer = ""
    kv = _KEY.search(text)
    if kv is not None:
        customer = _between(text[: kv.start()], _UPDATE_LEFT, set())
    else:
        customer, fields = _update_from_words(text)
    slots: _Slots = {}
    if customer:
        slots["customer"] = customer
    if fields:
        slots["fields"] = _fields_text(fields)
    return slots, f"update {customer} {_fields_command(fields)}".strip()


_STATUS_WORDS = {
    "lead": "lead", "prospect": "prospect", "customer": "active", "client": "active",
    "active": "active", "inactive": "inactive", "dormant": "inactive", "churned": "churned",
    "lost": "churned", "gone": "churned",
}  # fmt: skip
_STATUS_SENTENCE = re.compile(
    r"^\s*(?P<who>.+?)\s+(?:is|'s|’s|became|has become|turned(?: into)?|converted to|has)\s+"
    r"(?:now\s+|officially\s+|finally\s+)?(?:a\s+|an\s+)?(?:paying\s+|new\s+)?"
    r"(?P<status>lead|prospect|customer|client|active|inactive|dormant|churned|lost|gone)"
    r"(?:\s+(?:now|again|customer|account))?\s*[.!]*$",
    re.IGNORECASE,
)
_CHURNED = re.compile(r"^\s*(?P<who>.+?)\s+(?:churned|has churned|left us|cancelled|canceled)\s*[.!]*$", re.I)
_HANDOVER = re.compile(
    r"^\s*(?:please\s+)?(?:hand|pass|give|transfer|reassign|move|assign)\s+(?:the\s+)?(?P<who>.+?)"
    r"(?:\s+account)?\s+(?:over\s+)?to\s+(?P<owner>@?[\w.-]+(?:\s+[\w.-]+)??)(?:'s book|’s book)?\s*[.!]*$",
    re.IGNORECASE,
)
_OWNED_BY = re.compile(
    r"^\s*(?P<who>.+?)(?:'s|’s)?\s+(?:should be owned by|is now owned by|owner is now|owner should be|"
    r"now belongs to|belongs to)\s+(?P<owner>@?[\w.-]+)\s*[.!]*$",
    re.IGNORECASE,
)


def _update_from_words(text: str) -> tuple[str, dict[str, str]]:
    for sentence in (_HANDOVER, _OWNED_BY):
        handed = sentence.match(text)
        if handed is not None:
            owner = handed.group("owner").strip()
            owner = "me" if owner.lower() == "me" else owner
            return _clean_customer(handed.group("who").split()), {"owner": owner}
    status = _STATUS_SENTENCE.match(text)
    if status is not None:
        word = status.group("status").lower()
        return _clean_customer(status.group("who").split()), {"status": _STATUS_WORDS[word]}
    churned = _CHURNED.match(text)
    if churned is not None:
        return _clean_customer(churned.group("who").split()), {"status": "churned"}
    special = re.match(r"\s*(?:please\s+)?(rename|tag|mark)\s+(.+?)\s+(?:to|as|with)\s+(.+)$", text, re.I)
    if special is not None:
        key = {"rename": "name", "tag": "tags", "mark": "status"}[special.group(1).lower()]
        return _clean_customer(special.group(2).split()), {key: _tidy(special.group(3))}
    for key, pattern in _FIELD_WORDS:
        m = re.search(rf"\b(?:{pattern})\b", text, re.IGNORECASE)
        if m is None:
            continue
        before, after = text[: m.start()], text[m.end() :]
        value_m = re.search(r"(?:\bto\b|\bis now\b|\bis\b|\bshould be\b|:|=)\s*(.+)$", after, re.I)
        value = _tidy(value_m.group(1)) if value_m else ""
        if key == "email":
            found = EMAIL.search(after)
            value = found.group() if found else value
        if key == "phone":
            found_phone = _PHONE.search(after)
            value = found_phone.group().strip() if found_phone else value
        owner = re.search(r"(?:^|\s)(?:of|for|on)\s+(.+?)(?:\s+(?:to|is|should)\b|[,:]|$)", after)
        # "Acme's new number is …": the possessive may stand before "new", "current", "main".
        before = re.sub(
            r"(?:\s+(?:new|current|main|updated|correct|other|has|have|got|a|an|the))+\s*$",
            " ",
            before,
            flags=re.I,
        )
        if re.search(r"['’]s\s*$", before.strip()) or not owner:
            customer = _between(before, _UPDATE_LEFT, set())
        else:
            customer = _clean_customer(owner.group(1).split())
        return customer, ({key: value} if value else {})
    return _between(text, _UPDATE_LEFT, set()), {}


_ADD_LEAD = re.compile(
    r"^\s*(?:(?:please|pls|can you|could you|i'?d like to|i want to|let'?s|we have)\s+)*"
    r"(?:add|ad|create|new|register|onboard|sign up|set up|save|enter|make)?\s*"
    r"(?:(?:a|an)\s+)?(?:new\s+)?"
    r"(?:(?:customer|client|contact|account|lead|company|record|person)s?\s*(?:record\s*)?)?"
    r"(?:\s*(?:for|called|named|:))*\s*",
    re.IGNORECASE,
)
_ADD_END = re.compile(
    r"\s*(?:,|;|\bwith\b|\bas (?:a |an )?(?:new )?(?:customer|client|contact|lead|account)\b|"
    r"\bto the (?:crm|list|customer list|system)\b|\b(?:e-?mail|phone|tel|mobile)\b|"
    r"[a-z_][\w-]*=)",
    re.IGNORECASE,
)


# "Jane Doe from Contoso", "Jane Doe at Contoso": a person and their company.
_PERSON_AT_COMPANY = re.compile(r"^(\S+(?:\s+\S+){0,3})\s+(?:from|at)\s+(\S+(?:\s+\S+){0,4})$", re.IGNORECASE)


def _add(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    called = re.search(r"\b(?:called|named)\s+(.+)$", text, re.IGNORECASE)
    lead = _ADD_LEAD.match(text)  # every part is optional: it always matches
    rest = called.group(1) if called else text[lead.end() if lead else 0 :]
    end = _ADD_END.search(rest)
    name = _tidy(rest[: end.start()] if end else rest)
    fields = _key_values(text)
    person = _PERSON_AT_COMPANY.match(name) if called is None and "company" not in fields else None
    if person is not None:
        name, fields["company"] = person.group(1), _tidy(person.group(2))
    email = EMAIL.search(text)
    if email and "email" not in fields:
        fields["email"] = email.group()
    phone = re.search(r"\b(?:phone|tel|mobile|number)\b\s*(?:is|:)?\s*(\+?\d[\d\s().-]{4,}\d)", text, re.I)
    if phone and "phone" not in fields:
        fields["phone"] = phone.group(1).strip()
    slots: _Slots = {"customer": name} if name else {}
    if fields:
        slots["fields"] = _fields_text(fields)
    return slots, f"add {name} {_fields_command(fields)}".strip()


_REPORT_KINDS = (
    ("satisfaction", r"satisf\w*|csat|nps|happy|happiness"),
    ("loyalty", r"loyal\w*|churn\w*"),
    ("tickets", r"tickets?|support|cases?|tix"),
    ("activity", r"activit\w*|rep|reps|team"),
    ("needs", r"needs|topics?|complain\w*|asking for|come up|raise"),
    ("correlation", r"correlat\w*|move together|relat\w+ between"),
    ("segments", r"segments?|moved segment"),
    ("revenue", r"revenue|sales"),
)
_PERIODS = {"week": 7, "fortnight": 14, "month": 30, "quarter": 90, "year": 365}


def _report(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    kind = ""
    first = len(text) + 1
    for name, pattern in _REPORT_KINDS:
        m = re.search(rf"\b(?:{pattern})\b", text, re.IGNORECASE)
        if m is not None and m.start() < first:
            kind, first = name, m.start()
    days = ""
    m_days = re.search(r"\b(\d{1,4})\s*(?:days?|d)?\b", text)
    if m_days is not None:
        days = m_days.group(1)
    else:
        for word, count in _PERIODS.items():
            if re.search(rf"\b{word}\b", text, re.IGNORECASE):
                days = str(count)
                break
    slots: _Slots = {}
    if kind:
        slots["kind"] = kind
    if days:
        slots["days"] = days
    return slots, " ".join(p for p in ("report", kind, days) if p)


_HELP_TOPICS = (
    ("reopen", r"re-?open"),
    ("snooze", r"snooze"),
    ("done", r"done|complete"),
    ("resolve", r"resolve|close"),
    ("assign", r"assign"),
    ("reply", r"reply|respond"),
    ("log", r"log|call|note|meeting|interaction"),
    ("remind", r"remind\w*|follow[- ]?ups?"),
    ("add", r"add|create"),
    ("update", r"update|edit|change"),
    ("find", r"find|search|look up"),
    ("order", r"orders?|sales?"),
    ("tickets", r"tickets?"),
    ("invite", r"invite"),
    ("loyalty", r"loyalty"),
    ("at-risk", r"at-?risk|churn"),
    ("digest", r"digest"),
    ("report", r"reports?"),
    ("timeline", r"timeline|history"),
)


def _help(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    for topic, pattern in _HELP_TOPICS:
        if re.search(rf"\b(?:{pattern})\b", text, re.IGNORECASE):
            return {"topic": topic}, f"help {topic}"
    return {}, "help"


def _bare_rule(intent: str) -> _Rule:
    def rule(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
        return {}, intent

    return rule


RULES: dict[str, _Rule] = {
    "help": _help,
    "find": _find,
    "show": _customer_rule(_SHOW_LEFT, _SHOW_RIGHT, "show"),
    "add": _add,
    "update": _update,
    "log": _log,
    "timeline": _customer_rule(_TIMELINE_LEFT, _TIMELINE_RIGHT, "timeline"),
    "order": _order,
    "remind": _remind,
    "reminders": _bare_rule("reminders"),
    "done": _id_rule("done"),
    "snooze": _snooze,
    "tickets": _tickets,
    "ticket": _id_rule("ticket"),
    "assign": _assign,
    "reply": _reply,
    "resolve": _resolve,
    "reopen": _id_rule("reopen"),
    "invite": _customer_rule(_INVITE_LEFT, _INVITE_RIGHT, "invite"),
    "loyalty": _customer_rule(_LOYALTY_LEFT, _LOYALTY_RIGHT, "loyalty"),
    "at-risk": _bare_rule("at-risk"),
    "digest": _bare_rule("digest"),
    "report": _report,
}


_NOT_NAME_START = {
    "and", "or", "but", "with", "on", "up", "to", "of", "for", "in", "at", "by", "about", "the",
    "a", "an", "is", "are", "was", "what", "how", "when", "why", "who", "which",
}  # fmt: skip
_PRONOUNS = {"i", "me", "my", "we", "us", "our", "you", "your", "i'm", "i've", "i'll"}
NAME_SLOTS = ("customer",)


def plausible_name(value: str) -> bool:
    """False for what a failed rule leaves behind ("and", "catch me up on acme")."""
    words = value.lower().split()
    return 0 < len(words) <= 6 and words[0] not in _NOT_NAME_START and not any(w in _PRONOUNS for w in words)
