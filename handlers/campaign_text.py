"""A campaign's message: its Telegram HTML checked, its placeholders filled per customer (each
with a fallback, never an empty hole), its buttons, and the Reply the outbox carries."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from crm_store.campaigns import CampaignRecord
from crm_store.records import CustomerRecord
from handlers import actions
from handlers.errors import UserError
from handlers.messages import Button, Reply
from handlers.parsing import one_line

MAX_VISIBLE = 4_096  # Telegram's limit on a message's text after its tags are read
# The verbs of crm:<verb>:<campaign id> on every campaign message; the reach side (handlers.consent)
# handles stop and talk presses, this module the link's.
STOP_VERB, TALK_VERB, LINK_VERB = "campaign-stop", "campaign-talk", "campaign-link"
STOP_LABEL, TALK_LABEL = "Stop these messages", "Talk to us"
BUILTIN_PLACEHOLDERS = ("first_name", "company")
PLACEHOLDER_HELP = (
    "Placeholders: {first_name|there}, {company|your team} and any custom field ({industry|…} or "
    "{custom.industry|…}); each needs a fallback after | used when the customer has no value. "
    "Write {{ and }} for literal braces."
)
TAGS_HELP = (
    'Telegram HTML: <b>, <i>, <u>, <s>, <a href="https://…">, <code>, <pre>, <tg-spoiler>, '
    "<blockquote> (and their aliases strong, em, ins, strike, del); write &lt; &gt; &amp; for < > &"
)
# Tag -> the attributes it may carry (Telegram's Bot API "HTML style").
_TAGS: dict[str, frozenset[str]] = {
    "b": frozenset(),
    "strong": frozenset(),
    "i": frozenset(),
    "em": frozenset(),
    "u": frozenset(),
    "ins": frozenset(),
    "s": frozenset(),
    "strike": frozenset(),
    "del": frozenset(),
    "a": frozenset({"href"}),
    "code": frozenset({"class"}),
    "pre": frozenset(),
    "tg-spoiler": frozenset(),
    "span": frozenset({"class"}),  # only class="tg-spoiler"
    "blockquote": frozenset({"expandable"}),
}
_TOKEN = re.compile(r"<[^<>]*>|&[^;\s<>&]*;|[<>&]")
_TAG = re.compile(
    r"^<(/?)([a-z][a-z0-9-]*)((?:\s+[a-z-]+(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s\"'=<>`]+))?)*)\s*(/?)>$"
)
_ATTR = re.compile(r"([a-z-]+)(?:\s*=\s*(?:\"([^\"]*)\"|'([^']*)'|([^\s\"'=<>`]+)))?")
_ENTITY = re.compile(r"^&(?:lt|gt|amp|quot|#\d{1,7}|#x[0-9a-fA-F]{1,6});$")
_HREF = re.compile(r"^(?:https?://[^\s]+|tg://[^\s]+|mailto:[^\s]+)$", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([^{}|]*)(?:\|([^{}]*))?\}|[{}]")
_FIELD_NAME = re.compile(r"^(?:custom\.)?[a-z][a-z0-9_]{0,31}$")
_HOLE = "\x00"  # stands for a placeholder while the tags are checked


@dataclass(frozen=True, slots=True)
class Placeholder:
    name: str  # first_name, company, or a custom field's key
    default: str


@dataclass(frozen=True, slots=True)
class _Part:
    literal: str = ""  # template text (HTML), or
    hole: Placeholder | None = None  # a placeholder


def _parts(body: str) -> list[_Part]:
    """The template cut into literal HTML and placeholders; UserError for a bad placeholder."""
    parts: list[_Part] = []
    at = 0
    for found in _PLACEHOLDER.finditer(body):
        parts.append(_Part(literal=body[at : found.start()]))
        at = found.end()
        token = found.group(0)
        if token in ("{{", "}}"):
            parts.append(_Part(literal=token[0]))
            continue
        if token in ("{", "}"):
            raise UserError(f"A lone {token!r} in the text. {PLACEHOLDER_HELP}")
        name = (found.group(1) or "").strip().lower()
        if not _FIELD_NAME.match(name):
            raise UserError(f"{one_line(token, 40)} is not a placeholder. {PLACEHOLDER_HELP}")
        name = name.removeprefix("custom.")
        default = found.group(2)
        if default is None or not default.strip():
            raise UserError(
                f"{{{name}}} needs a fallback for customers without one, like {{{name}|there}}. "
                f"{PLACEHOLDER_HELP}"
            )
        parts.append(_Part(hole=Placeholder(name, default.strip())))
    parts.append(_Part(literal=body[at:]))
    return [p for p in parts if p.hole is not None or p.literal]


def _check_tag(token: str) -> tuple[str, bool]:
    """(tag name, closing) of one tag Telegram accepts; UserError otherwise."""
    if _HOLE in token:
        raise UserError("Placeholders cannot go inside a tag (a link's address is the same for everyone).")
    found = _TAG.match(token)
    if found is None or found.group(2) not in _TAGS or found.group(4):
        raise UserError(f"{one_line(token, 60)} is not allowed. {TAGS_HELP}.")
    name, closing = found.group(2), bool(found.group(1))
    attrs = {
        m.group(1): next((g for g in m.groups()[1:] if g is not None), "")
        for m in _ATTR.finditer(found.group(3))
    }
    if closing and attrs:
        raise UserError(f"{one_line(token, 60)}: a closing tag has no attributes.")
    extra = set(attrs) - _TAGS[name]
    if extra:
        raise UserError(f"{one_line(token, 60)}: <{name}> takes no {', '.join(sorted(extra))}. {TAGS_HELP}.")
    if name == "a" and not closing and not _HREF.match(html.unescape(attrs.get("href", ""))):
        raise UserError(f'{one_line(token, 60)}: a link needs href="https://…" (or tg:// or mailto:).')
    if name == "span" and not closing and attrs.get("class") != "tg-spoiler":
        raise UserError(f'{one_line(token, 60)}: only <span class="tg-spoiler"> is allowed. {TAGS_HELP}.')
    if name == "code" and "class" in attrs and not attrs["class"].startswith("language-"):
        raise UserError(f'{one_line(token, 60)}: <code> takes only class="language-…".')
    return name, closing


def check_html(markup: str) -> str:
    """``markup`` as Telegram would read it (its visible text) when it is in the accepted subset,
    tags balanced; UserError naming the first problem otherwise."""
    open_tags: list[str] = []
    visible: list[str] = []
    at = 0
    for found in _TOKEN.finditer(markup):
        visible.append(markup[at : found.start()])
        at = found.end()
        token = found.group(0)
        if token in ("<", ">", "&"):
            raise UserError(f"A bare {token!r} in the text: write {html.escape(token)} instead.")
        if token.startswith("&"):
            if not _ENTITY.match(token):
                raise UserError(f"{one_line(token, 30)} is not an entity Telegram reads. {TAGS_HELP}.")
            visible.append(html.unescape(token))
            continue
        name, closing = _check_tag(token)
        if not closing:
            open_tags.append(name)
        elif not open_tags or open_tags[-1] != name:
            expected = f"</{open_tags[-1]}>" if open_tags else "nothing open"
            raise UserError(f"</{name}> closes a tag that is not open here (expected {expected}).")
        else:
            open_tags.pop()
    visible.append(markup[at:])
    if open_tags:
        raise UserError(f"<{open_tags[-1]}> is never closed.")
    return "".join(visible)


def visible_length(text: str) -> int:
    """Telegram counts UTF-16 code units (an emoji is two)."""
    return len(text.encode("utf-16-le")) // 2


def placeholders(body: str) -> list[Placeholder]:
    """The placeholders of a checked body, in order."""
    return [p.hole for p in _parts(body) if p.hole is not None]


def check_body(body: str) -> list[Placeholder]:
    """Check a campaign's text: placeholders each with a fallback, the HTML subset, and its
    length with every fallback in place. Its placeholders; UserError saying what to fix."""
    if not body.strip():
        raise UserError(f"The text is empty. {PLACEHOLDER_HELP}")
    parts = _parts(body)
    skeleton = "".join(_HOLE if p.hole is not None else p.literal for p in parts)
    check_html(skeleton)
    shown = check_html(_fill(parts, {}))
    if visible_length(shown) > MAX_VISIBLE:
        raise UserError(
            f"The text is {visible_length(shown):,} characters as Telegram counts them; "
            f"the limit is {MAX_VISIBLE:,}."
        )
    return [p.hole for p in parts if p.hole is not None]


def customer_values(customer: CustomerRecord, fields: Mapping[str, Any] | None = None) -> dict[str, str]:
    """What each placeholder stands for with this customer (empty values left out)."""
    values: dict[str, str] = {}
    for key, value in {**customer.custom, **(fields or {})}.items():
        if value is not None and str(value).strip():
            values[str(key).lower()] = str(value).strip()
    first = customer.name.split()[0] if customer.name.split() else ""
    if first:
        values["first_name"] = first
    if customer.company.strip():
        values["company"] = customer.company.strip()
    return values


def _fill(parts: list[_Part], values: Mapping[str, str]) -> str:
    out = []
    for part in parts:
        if part.hole is None:
            out.append(part.literal)
        else:
            out.append(html.escape(values.get(part.hole.name) or part.hole.default, quote=False))
    return "".join(out)


def render_campaign(
    campaign: CampaignRecord, customer: CustomerRecord | None, fields: Mapping[str, Any] | None = None
) -> str:
    """The campaign's text for ``customer`` as Telegram HTML: each placeholder their value
    (escaped) or its fallback (every fallback for no customer). Were the values to make it
    longer than Telegram takes, every placeholder gets its fallback (the length ``check_body``
    allowed)."""
    parts = _parts(campaign.body)
    filled = _fill(parts, customer_values(customer, fields) if customer is not None else {})
    if visible_length(check_html(filled)) > MAX_VISIBLE:
        return _fill(parts, {})
    return filled


def plain_text(markup: str) -> str:
    """What a reader sees of checked Telegram HTML, as plain text (links keep their address)."""

    def link(found: re.Match[str]) -> str:
        return f"{found.group(2)} ({html.unescape(found.group(1))})"

    text = re.sub(r"<a\s+href\s*=\s*[\"']([^\"']*)[\"']\s*>(.*?)</a>", link, markup, flags=re.DOTALL)
    return html.unescape(re.sub(r"<[^<>]*>", "", text))


def campaign_buttons(campaign: CampaignRecord, campaign_id: int) -> list[Button]:
    """The link or "Talk to us" button when the campaign has one, and always "Stop these
    messages"."""
    found: list[Button] = []
    if campaign.button_kind == "link" and campaign.button_url:
        label = campaign.button_text or "Open"
        found.append(
            Button(label, actions.encode(LINK_VERB, campaign_id), style="primary", url=campaign.button_url)
        )
    elif campaign.button_kind == "talk":
        found.append(Button(campaign.button_text or TALK_LABEL, actions.encode(TALK_VERB, campaign_id)))
    found.append(Button(STOP_LABEL, actions.encode(STOP_VERB, campaign_id)))
    return found


def campaign_message(
    campaign: CampaignRecord, customer: CustomerRecord | None, fields: Mapping[str, Any] | None = None
) -> Reply:
    """The Reply a recipient gets: the HTML for Telegram, its plain reading elsewhere, the buttons."""
    markup = render_campaign(campaign, customer, fields)
    return Reply(
        text=plain_text(markup),
        markup=markup,
        buttons=tuple(campaign_buttons(campaign, campaign.id)),
        ephemeral=False,
    )
