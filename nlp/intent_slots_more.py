"""Slot rules for plain-words tickets, relations, recommendations, forecasts, segments, products."""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

from nlp.intent_slots import _ASK, _between, _clean_customer, _tidy, _words

_Slots = dict[str, str]

# "Acme reports the app crashes on login, please log a ticket": the customer, then what is wrong.
_PROBLEM_VERB = re.compile(
    r"\s+(?:reports?|reported|says?|said|has|have|had|is having|are having|can'?t|cannot|"
    r"couldn'?t|complains?|complained|is seeing|sees|got|gets)\b\s*(?:that\s+)?",
    re.IGNORECASE,
)
_TICKET_ASK = re.compile(
    r"[,;.]?\s*(?:-\s*)?(?:(?:please|pls|can you|could you)\s+)?"
    r"(?:log|open|raise|file|create|make|start)\s+(?:a\s+|an\s+)?(?:new\s+)?(?:support\s+)?"
    r"(?:ticket|case|issue)\b(?:\s+(?:for|about)\s+(?:it|this|that|them))?\s*(?:please)?[.!]?\s*",
    re.IGNORECASE,
)
_TICKET_FOR = re.compile(
    r"^\s*(?:(?:please|pls|can you|could you)\s+)?(?:(?:log|open|raise|file|create|make|start|new)\s+)?"
    r"(?:a\s+|an\s+)?(?:new\s+)?(?:support\s+)?(?:ticket|case|issue)\s+(?:for|on behalf of)\s+",
    re.IGNORECASE,
)
_SUBJECT_LEAD = re.compile(r"^\s*(?::|-|–|—|,|about|regarding|re:?|saying|that)\s*", re.IGNORECASE)
_TICKET_STOP = {"about", "regarding", "re", "re:", "saying", "that", "-", "–", "—"}


def open_ticket(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    customer = subject = ""
    lead = _TICKET_FOR.match(text)
    if lead is not None:
        rest = text[lead.end() :]
        taken: list[str] = []
        words = _words(rest)
        for k, w in enumerate(words):
            if w.lower() in _TICKET_STOP:
                subject = " ".join(words[k + 1 :])
                break
            taken.append(w)
            if w[-1:] in ":,;":
                subject = " ".join(words[k + 1 :])
                break
        customer = _clean_customer(taken)
    else:
        body = _TICKET_ASK.sub(" ", text)
        verb = _PROBLEM_VERB.search(body)
        if verb is not None:
            customer = _clean_customer(_words(body[: verb.start()]))
            said = verb.group().strip().lower()
            subject = (
                body[verb.end() :]
                if said.startswith(("report", "say", "said", "complain"))
                else body[verb.start() :]
            )
            if said.startswith(("can", "could", "has", "have", "had", "is ", "are ", "got", "get", "see")):
                subject = body[verb.start() :].strip()
    subject = _tidy(_SUBJECT_LEAD.sub("", _TICKET_ASK.sub(" ", subject)))
    slots: _Slots = {}
    if customer:
        slots["customer"] = customer
    if subject:
        slots["text"] = subject
    return slots, f"open-ticket {customer}: {subject}"


_RECOMMEND_LEFT = _ASK | {
    "what", "what's", "whats", "should", "could", "can", "would", "we", "offer", "pitch", "sell",
    "to", "recommend", "recommendations", "recommendation", "for", "upsell", "up-sell", "cross-sell",
    "crosssell", "ideas", "idea", "options", "else", "next", "best", "product", "products", "which",
    "fit", "fits", "suggest", "suggestions", "something", "any", "might", "likely", "buy", "is",
}  # fmt: skip
_RECOMMEND_RIGHT = {"buy", "next", "likely", "want", "need", "please", "now", "be", "interested", "in"}


def recommend(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    customer = _between(text, _RECOMMEND_LEFT, _RECOMMEND_RIGHT)
    return ({"customer": customer} if customer else {}), f"recommend {customer}".strip()


_PERIOD_DAYS = (
    (r"\b(?:next|this|coming)\s+quarter\b|\b3 months\b|\bthree months\b|\bquarter\b", 90),
    (r"\b(?:next|this|coming)\s+month\b|\bmonth\b|\b30 days\b", 30),
    (r"\b(?:next|this|coming)\s+year\b|\b12 months\b|\byear\b", 365),
    (r"\b(?:next|this|coming)\s+(?:half|6 months|six months)\b", 180),
)
_FORECAST_LEFT = _ASK | {
    "how", "much", "will", "what", "what's", "whats", "forecast", "revenue", "expected", "expect",
    "projected", "sales", "outlook", "for", "from", "of", "is", "likely", "to", "do", "we",
}  # fmt: skip
_FORECAST_RIGHT = {
    "order", "orders", "spend", "buy", "bring", "in", "next", "this", "quarter", "month", "year",
    "again", "soon", "over", "the", "days", "forecast", "revenue", "likely", "to", "be", "please",
}  # fmt: skip
_TEAM = re.compile(r"\b(?:team|book|we|us|our|overall|total|everyone|whole|all customers)\b", re.IGNORECASE)


def forecast(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    days = ""
    explicit = re.search(r"\b(\d{1,4})\s*(?:days?|d)\b", text, re.IGNORECASE)
    if explicit is not None:
        days = explicit.group(1)
    else:
        for pattern, count in _PERIOD_DAYS:
            if re.search(pattern, text, re.IGNORECASE):
                days = str(count)
                break
    bare = re.sub(r"\b\d{1,4}\s*(?:days?|d)\b", " ", text, flags=re.IGNORECASE)
    customer = _between(bare, _FORECAST_LEFT, _FORECAST_RIGHT)
    if not customer or _TEAM.search(customer) or (_TEAM.search(text) and not _capitalised(customer)):
        customer = ""
    target = customer or "team"
    slots: _Slots = {"customer": customer} if customer else {"target": "team"}
    if days:
        slots["days"] = days
    return slots, " ".join(p for p in ("forecast", target, days) if p)


def _capitalised(name: str) -> bool:
    return any(w[:1].isupper() for w in name.split())


# Relations, read as "the first is <kind> of the second" like the relate command.
_RELATIONS = (
    (r"(.+?)\s+(?:works|worked|is working)\s+(?:at|for|in)\s+(.+)", "works-at", False),
    (r"(.+?)\s+(?:joined|is employed by|is an employee of|is a contact at)\s+(.+)", "works-at", False),
    (r"link\s+(.+?)\s+to\s+(.+?)\s+as\s+(?:an?\s+)?(?:employee|contact)", "works-at", False),
    (r"(.+?)\s+(?:is|was)\s+referred\s+by\s+(.+)", "referred-by", False),
    (r"(.+?)\s+referred\s+(.+)", "referred-by", True),
    (r"(.+?)\s+(?:resells|is a reseller)\s+(?:for|of)\s+(.+)", "reseller", False),
    (r"(.+?)\s+is\s+(?:a|an|the)?\s*parent(?:\s+company)?\s+of\s+(.+)", "parent", False),
    (r"(.+?)\s+is\s+(?:a|an|the)?\s*subsidiary\s+of\s+(.+)", "subsidiary", False),
    (r"(.+?)\s+is\s+(?:a|an|the)?\s*partner\s+(?:of|to|with)\s+(.+)", "partner", False),
    (r"(.+?)\s+(?:is|are)\s+(?:a|an|the)?\s*competitors?\s+(?:of|to)\s+(.+)", "competitor", False),
)


def relate(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    plain = _tidy(text)
    for pattern, kind, reverse in _RELATIONS:
        m = re.fullmatch(pattern, plain, re.IGNORECASE)
        if m is None:
            continue
        first, second = _clean_customer(_words(m.group(1))), _clean_customer(_words(m.group(2)))
        if reverse:
            first, second = second, first
        if first and second:
            return (
                {"customer": first, "kind": kind, "other": second},
                f"relate {_quoted(first)} {kind} {_quoted(second)}",
            )
    return {}, "relate"


def _quoted(name: str) -> str:
    return f'"{name}"' if " " in name else name


_RELATIONS_LEFT = _ASK | {
    "who", "works", "work", "do", "we", "know", "at", "how", "is", "related", "relations", "of",
    "contacts", "people", "for", "what", "companies", "company", "linked", "to", "in", "relationships",
    "employees", "the", "are", "there",
}  # fmt: skip
_RELATIONS_RIGHT = {
    "related", "to", "other", "accounts", "partners", "and", "subsidiaries", "linked", "relations",
    "please", "is", "contacts", "people",
}  # fmt: skip


def relations(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    customer = _between(text, _RELATIONS_LEFT, _RELATIONS_RIGHT)
    return ({"customer": customer} if customer else {}), f"relations {customer}".strip()


_SEGMENT = re.compile(
    r"(?:segment\s+(?:called\s+|named\s+)?(?P<after>[\w -]+?)|(?:the\s+)?(?P<before>[\w -]+?)\s+segment)"
    r"\s*[?.!]*$",
    re.IGNORECASE,
)
_SEGMENT_FILLER = re.compile(
    r"^(?:.*\b(?:in|of|list|show|members)\s+)?(?:the\s+|me\s+the\s+|our\s+)?", re.IGNORECASE
)


def segment(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    m = _SEGMENT.search(text)
    name = ""
    if m is not None:
        name = m.group("after") or _SEGMENT_FILLER.sub("", m.group("before") or "")
    name = _tidy(name)
    return ({"name": name} if name else {}), f"segment {name}".strip()


_PRODUCT_LEFT = _ASK | {
    "do", "we", "sell", "look", "up", "the", "product", "products", "find", "what", "have", "with",
    "in", "name", "price", "of", "for", "is", "there", "a", "an", "any", "catalog", "catalogue",
    "item", "sku", "search", "how", "much", "does", "cost",
}  # fmt: skip
_PRODUCT_RIGHT = {"in", "the", "name", "catalog", "catalogue", "product", "please", "cost", "stock"}


def product(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    query = _between(text, _PRODUCT_LEFT, _PRODUCT_RIGHT)
    return ({"text": query} if query else {}), f"product find {query}".strip()


def segments(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    return {}, "segments"


_PRODUCT_SHOW = re.compile(
    r"\b(?:sell|sells|selling|sold|sales|buyers?|buys?|bought|show|card|revenue|top)\b", re.I
)


def product_either(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    """`product show` for how one product does ("top buyers of 85123A"), else `product find`."""
    slots, command = product(text, now, tz)
    query = _between(text, _PRODUCT_LEFT | _PRODUCT_SHOW_WORDS, _PRODUCT_RIGHT | {"sell", "sells"})
    if _PRODUCT_SHOW.search(text) and query:
        return {"text": query, "view": "show"}, f"product show {query}"
    return slots, command


_PRODUCT_SHOW_WORDS = {
    "how", "well", "does", "sell", "sells", "who", "buys", "buy", "bought", "sales", "of", "top",
    "buyers", "buyer", "show", "revenue", "card",
}  # fmt: skip


def digest(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    weekly = re.search(r"\bweek(?:ly)?\b|\bweek's\b", text, re.IGNORECASE)
    return ({"period": "weekly"}, "digest weekly") if weekly else ({}, "digest")


def subscribe(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    period = "weekly" if re.search(r"\bweek(?:ly)?\b|\bmonday", text, re.IGNORECASE) else "daily"
    at = ""
    clock = re.search(r"\b(?:at\s+)?(\d{1,2})(?::(\d{2}))?\s*(am|pm)?\b", text, re.IGNORECASE)
    if clock is not None and (clock.group(2) or clock.group(3) or re.search(r"\bat\s+\d", text)):
        hour, minute = int(clock.group(1)), int(clock.group(2) or 0)
        if (clock.group(3) or "").lower() == "pm" and hour < 12:
            hour += 12
        if hour < 24 and minute < 60:
            at = f"{hour:02d}:{minute:02d}"
    slots: _Slots = {"period": period}
    if at:
        slots["at"] = at
    return slots, " ".join(p for p in ("subscribe digest", period, at) if p)


def unsubscribe(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    return {}, "unsubscribe digest"


_ROLE = re.compile(r"\b(rep|manager|admin)\b", re.IGNORECASE)
_ROLE_WHO = re.compile(
    r"^\s*(?:(?:please|pls)\s+)?(?:make|set|promote|demote|change)?\s*(?P<who>@?[\w.-]+)(?:'s|’s)?\b",
    re.IGNORECASE,
)


def role(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    found = _ROLE.search(text)
    who = _ROLE_WHO.match(text)
    name = who.group("who") if who is not None else ""
    if name.lower() in {"make", "set", "promote", "demote", "change", "role", "the"}:
        name = ""
    slots: _Slots = {}
    if name:
        slots["user"] = name
    if found is not None:
        slots["role"] = found.group(1).lower()
    user = name if name.startswith("@") or not name else f"@{name}"
    return slots, " ".join(p for p in ("role", user, slots.get("role", "")) if p)


_ENDED = (
    (r"(.+?)\s+(?:no longer|doesn'?t|does not|don'?t|isn'?t|is not)\s+(?:works?|working)\s+(?:at|for)\s+(.+?)"
     r"(?:\s+(?:anymore|any more|now))?", "works-at"),
    (r"(.+?)\s+(?:left|quit|has left)\s+(.+)", "works-at"),
    (r"end\s+(.+?)(?:'s|’s|')?\s+relation(?:ship)?\s+(?:to|with)\s+(.+)", "works-at"),
    (r"(.+?)\s+(?:is|are)\s+no longer\s+(?:a|an|the)?\s*(partner|reseller|competitor|parent|subsidiary)"
     r"\s+(?:of|to|for)\s+(.+)", ""),
)  # fmt: skip


def unrelate(text: str, now: datetime, tz: ZoneInfo) -> tuple[_Slots, str]:
    plain = _tidy(text)
    for pattern, kind in _ENDED:
        m = re.fullmatch(pattern, plain, re.IGNORECASE)
        if m is None:
            continue
        groups = m.groups()
        first, second = groups[0], groups[-1]
        named = kind or groups[1].lower()
        a, b = _clean_customer(_words(first)), _clean_customer(_words(second))
        if a and b:
            return (
                {"customer": a, "kind": named, "other": b},
                f"unrelate {_quoted(a)} {named} {_quoted(b)}",
            )
    return {}, "unrelate"


MORE_RULES = {
    "open-ticket": open_ticket,
    "recommend": recommend,
    "forecast": forecast,
    "relate": relate,
    "relations": relations,
    "segment": segment,
    "segments": segments,
    "product": product_either,
    "digest": digest,
    "subscribe": subscribe,
    "unsubscribe": unsubscribe,
    "role": role,
    "unrelate": unrelate,
}
