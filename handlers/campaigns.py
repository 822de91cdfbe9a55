"""`campaign …`: a manager drafts a message to an audience (the `find` filter words), previews and
tests it, sends or schedules it, cancels it, and reads what came of it."""

from __future__ import annotations

import re
import shlex
from dataclasses import replace
from typing import Any

from crm_store.campaigns import EDITABLE, CampaignRecord
from crm_store.store import Store
from handlers import campaign_outcomes, choices
from handlers.audience_filter import HELP as FILTERS
from handlers.audience_filter import audience_query, describe_audience, parse_audience
from handlers.campaign_report import campaign_report
from handlers.campaign_start import EVERYONE, audience_ids, plan, start_campaign
from handlers.campaign_text import (
    LINK_VERB,
    PLACEHOLDER_HELP,
    TAGS_HELP,
    TALK_LABEL,
    campaign_message,
    check_body,
    plain_text,
    render_campaign,
)
from handlers.common import acting_rep, describe
from handlers.context import Context
from handlers.errors import NotFound, UsageError, UserError
from handlers.messages import Field, ListItem, Reply, reply_to_dict
from handlers.notify import once
from handlers.parsing import id_in, one_line
from handlers.registry import Area, ButtonVerb, Command
from nlp.when import WhenError, format_local, parse_when

USAGE = (
    "campaign new <name> | audience <id> <filters>|all | text <id> <message> | "
    'button <id> link "<label>" <https://…>|talk ["<label>"]|none | control <id> <0-50>% | '
    "preview <id> | test <id> | send <id> [at <when>] | cancel <id> | list | show <id> | report <id>"
)
MAX_NAME = 100
MAX_LABEL = 64
MAX_CONTROL = 50
DRAFT_KEYS = ("audience", "control", "button", "text")
# A send to more people than this asks for a confirmation first.
CONFIRM_ABOVE = 100
CONFIRM_WORD = "confirm"
PREVIEW_SAMPLES = 2
_URL = re.compile(r"^https://[^\s<>\"']{1,490}$", re.IGNORECASE)


def _usage(sub: str) -> str:
    forms = {
        "new": "campaign new <name> [then lines: audience: …, control: …, button: …, text: …]",
        "audience": f"campaign audience <id> <filters> (or {EVERYONE}); filters: {FILTERS}",
        "text": "campaign text <id> <message>",
        "button": 'campaign button <id> link "<label>" https://… | talk ["<label>"] | none',
        "control": "campaign control <id> <0-50>%",
        "send": "campaign send <id> [at <when>]",
    }
    return forms.get(sub, f"campaign {sub} <id>")


def _split_id(sub: str, args: str) -> tuple[int, str]:
    head, rest = [*re.split(r"\s", args.strip(), maxsplit=1), ""][:2]
    number = id_in(head, kind="campaign")
    if number is None:
        shown = one_line(head, 30) or "nothing"
        raise UsageError(f"Which campaign? Give its number, not {shown!r}.", usage=_usage(sub))
    return number, rest.strip()


async def _get(store: Store, campaign_id: int) -> CampaignRecord:
    async with store.read() as tx:
        found = await tx.campaigns.get(campaign_id)
    if found is None:
        raise NotFound(f"There is no campaign #{campaign_id}. `campaign list` shows them.")
    return found


def _editable(campaign: CampaignRecord) -> None:
    if campaign.state not in EDITABLE:
        raise UserError(
            f"Campaign #{campaign.id} is {campaign.state}: it can no longer be changed. "
            f"Start a new one with `campaign new <name>`."
        )


def _missing(campaign: CampaignRecord) -> list[str]:
    missing = []
    if not campaign.audience.strip():
        missing.append(f"the audience: `campaign audience {campaign.id} segment:<name> country:<country> …`")
    if not campaign.body.strip():
        missing.append(f"the text: `campaign text {campaign.id} Hi {{first_name|there}}, …`")
    return missing


def _ready(campaign: CampaignRecord) -> None:
    missing = _missing(campaign)
    if missing:
        raise UserError(f"Campaign #{campaign.id} still needs " + " and ".join(missing) + ".")


def _button_words(campaign: CampaignRecord) -> str:
    if campaign.button_kind == "link":
        return f'link "{campaign.button_text}" {campaign.button_url}'
    if campaign.button_kind == "talk":
        return f'"{campaign.button_text or "Talk to us"}" (opens a ticket)'
    return "none (only “Stop these messages”)"


def _card(ctx: Context, campaign: CampaignRecord, note: str = "") -> Reply:
    fields = [
        Field("State", campaign.state),
        Field("Audience", describe_audience(parse_audience(campaign.audience)) if campaign.audience else "—"),
        Field("Text", one_line(plain_text(campaign.body), 300) if campaign.body else "—"),
        Field("Button", _button_words(campaign)),
        Field("Control group", f"{campaign.control_pct}%"),
    ]
    if campaign.send_at is not None:
        fields.append(Field("Sends at", format_local(campaign.send_at, ctx.tz, now=ctx.now())))
    for label, at in (
        ("Started", campaign.started_at),
        ("Finished", campaign.finished_at),
        ("Cancelled", campaign.cancelled_at),
    ):
        if at is not None:
            fields.append(Field(label, format_local(at, ctx.tz)))
    missing = _missing(campaign)
    nxt = (
        "Still needed: " + "; ".join(missing) + "."
        if missing
        else f"Next: `campaign preview {campaign.id}`, `campaign test {campaign.id}`, "
        f"`campaign send {campaign.id}`."
    )
    if campaign.state not in EDITABLE:
        nxt = f"`campaign report {campaign.id}` shows what came of it."
    return Reply(
        title=f"Campaign #{campaign.id}: {campaign.name}",
        text=" ".join(x for x in (note, nxt) if x),
        fields=tuple(fields),
    )


async def _audience_values(ctx: Context, words_text: str) -> dict[str, Any]:
    """The audience as typed, once every word reads (a segment, an owner): checked now so the
    send does not meet a bad word first."""
    words_text = " ".join(words_text.split())
    if not words_text:
        raise UsageError("Which customers?", usage=_usage("audience"))
    if words_text.lower() == EVERYONE:
        return {"audience": EVERYONE}
    words = parse_audience(words_text)
    if words.rest:
        raise UserError(
            f"{one_line(words.rest, 40)!r} is not a filter. Filters: {FILTERS}; "
            f"or `{EVERYONE}` for every customer."
        )
    await audience_query(ctx.store, words, now=ctx.now(), tz=ctx.tz, me=ctx.actor.rep_id)
    return {"audience": words_text}


def _text_values(body: str) -> dict[str, Any]:
    body = body.strip()
    if not body:
        raise UsageError(f"What should it say? {PLACEHOLDER_HELP}", usage=_usage("text"))
    check_body(body)
    return {"body": body}


def _button_values(rest: str) -> dict[str, Any]:
    try:
        words = shlex.split(rest)
    except ValueError:
        raise UserError("A quote is not closed.", usage=_usage("button")) from None
    kind = words[0].lower() if words else ""
    if kind == "none" and len(words) == 1:
        return {"button_kind": None, "button_text": None, "button_url": None}
    if kind == "talk" and len(words) <= 2:
        label = words[1].strip() if len(words) == 2 else ""
        if len(label) > MAX_LABEL:
            raise UserError(f"A button label is at most {MAX_LABEL} characters.", usage=_usage("button"))
        return {"button_kind": "talk", "button_text": label or TALK_LABEL, "button_url": None}
    if kind == "link" and len(words) == 3:
        label, url = words[1].strip(), words[2].strip()
        if not label:
            raise UserError("The link button needs a label.", usage=_usage("button"))
        if len(label) > MAX_LABEL:
            raise UserError(f"A button label is at most {MAX_LABEL} characters.", usage=_usage("button"))
        if not _URL.match(url):
            raise UserError(f"{one_line(url, 60)!r} is not an https:// address.", usage=_usage("button"))
        return {"button_kind": "link", "button_text": label, "button_url": url}
    raise UsageError("Say link, talk or none.", usage=_usage("button"))


def _control_values(rest: str) -> dict[str, Any]:
    text = rest.strip().removesuffix("%").strip()
    if not text.isdecimal() or not 0 <= int(text) <= MAX_CONTROL:
        raise UserError(
            f"The control group is a share from 0% to {MAX_CONTROL}% of the reachable audience, "
            "held out to measure the effect.",
            usage=_usage("control"),
        )
    return {"control_pct": int(text)}


def _draft_parts(lines: str) -> list[tuple[str, str]]:
    """``audience: …``, ``control: …``, ``button: …`` lines, then ``text:`` and every line after
    it (the message may span lines): the draft `campaign new` takes in one go (the Slack form)."""
    parts: list[tuple[str, str]] = []
    rows = lines.split("\n")
    for n, row in enumerate(rows):
        if not row.strip():
            continue
        key, colon, value = row.partition(":")
        key = key.strip().lower()
        if not colon or key not in DRAFT_KEYS:
            raise UserError(
                f"{one_line(row, 40)!r}: after the name, say `audience: …`, `control: …`, `button: …` "
                "or `text: …` (the text last; it may span lines).",
                usage=_usage("new"),
            )
        if key == "text":
            parts.append((key, "\n".join([value, *rows[n + 1 :]])))
            break
        parts.append((key, value))
    return parts


async def new(ctx: Context, args: str) -> Reply:
    first, _, more = args.strip().partition("\n")
    name = " ".join(first.split())
    if not name:
        raise UsageError("Name the campaign.", usage=_usage("new"))
    if len(name) > MAX_NAME:
        raise UserError(f"A campaign name is at most {MAX_NAME} characters.", usage=_usage("new"))
    values: dict[str, Any] = {}
    for key, value in _draft_parts(more):  # every part checked before anything is stored
        if key == "audience":
            values.update(await _audience_values(ctx, value))
        elif key == "text":
            values.update(_text_values(value))
        elif key == "button":
            values.update(_button_values(value))
        else:
            values.update(_control_values(value))
    rep = await acting_rep(ctx)
    async with ctx.store.write(ctx.actor.key) as tx:
        made = await tx.campaigns.create(name, created_by_rep_id=rep.id)
        if values:
            await tx.campaigns.edit(made.id, **values)
            found = await tx.campaigns.get(made.id)
            assert found is not None
            made = found
    return _card(ctx, made, note=f"Draft campaign #{made.id} created.")


async def _apply(ctx: Context, campaign_id: int, values: dict[str, Any], note: str) -> Reply:
    async with ctx.store.write(ctx.actor.key) as tx:
        if not await tx.campaigns.edit(campaign_id, **values):
            raise UserError(
                f"Campaign #{campaign_id} changed state meanwhile; `campaign show {campaign_id}`."
            )
        updated = await tx.campaigns.get(campaign_id)
    assert updated is not None
    return _card(ctx, updated, note=note)


async def _editable_by_id(ctx: Context, sub: str, args: str) -> tuple[CampaignRecord, str]:
    campaign_id, rest = _split_id(sub, args)
    campaign = await _get(ctx.store, campaign_id)
    _editable(campaign)
    return campaign, rest


async def set_audience(ctx: Context, args: str) -> Reply:
    campaign, words_text = await _editable_by_id(ctx, "audience", args)
    values = await _audience_values(ctx, words_text)
    reply = await _apply(ctx, campaign.id, values, "")
    async with ctx.store.read() as tx:
        updated = await tx.campaigns.get(campaign.id)
    assert updated is not None
    count = len(await audience_ids(ctx.store, updated, ctx.now()))
    return replace(
        reply, text=f"Audience set: {count:,} customer{'s' if count != 1 else ''} fit it today. {reply.text}"
    )


async def set_text(ctx: Context, args: str) -> Reply:
    campaign, body = await _editable_by_id(ctx, "text", args)
    return await _apply(ctx, campaign.id, _text_values(body), "Text set.")


async def set_button(ctx: Context, args: str) -> Reply:
    campaign, rest = await _editable_by_id(ctx, "button", args)
    return await _apply(ctx, campaign.id, _button_values(rest), "Button set.")


async def set_control(ctx: Context, args: str) -> Reply:
    campaign, rest = await _editable_by_id(ctx, "control", args)
    values = _control_values(rest)
    note = f"Control group: {values['control_pct']}% of the reachable receive nothing."
    return await _apply(ctx, campaign.id, values, note)


async def preview(ctx: Context, args: str) -> Reply:
    campaign_id, _ = _split_id("preview", args)
    campaign = await _get(ctx.store, campaign_id)
    _ready(campaign)
    if campaign.state not in EDITABLE:
        raise UserError(
            f"Campaign #{campaign_id} is {campaign.state}; `campaign report {campaign_id}` shows its figures."
        )
    planned = await plan(ctx.store, campaign, ctx.now())
    reasons: dict[str, int] = {}
    for why in planned.unreachable.values():
        reasons[why] = reasons.get(why, 0) + 1
    samples = planned.send[:PREVIEW_SAMPLES]
    async with ctx.store.read() as tx:
        people = await tx.customers.get_many(samples)
    fields = [
        Field("Audience", f"{planned.size:,} customers"),
        Field(
            "Reachable",
            f"{len(planned.send) + len(planned.control):,} (linked Telegram, consent, not blocked)",
        ),
        Field("Will receive it", f"{len(planned.send):,}"),
        Field("Control group", f"{len(planned.control):,} ({campaign.control_pct}%) receive nothing"),
    ]
    fields += [Field(f"Unreachable: {why}", f"{n:,}") for why, n in sorted(reasons.items())]
    items = tuple(
        ListItem(f"As {describe(people[c])} sees it", plain_text(render_campaign(campaign, people[c])))
        for c in samples
        if c in people
    )
    note = "" if samples else "Nobody in the audience can be reached now, so there is nothing to render."
    return Reply(
        title=f"Preview of campaign #{campaign.id}: {campaign.name}",
        text=" ".join(
            x
            for x in (
                note,
                f"Buttons: {_button_words(campaign)}; every message also carries “Stop these messages”.",
            )
            if x
        ),
        fields=tuple(fields),
        items=items,
    )


async def test(ctx: Context, args: str) -> Reply:
    campaign_id, _ = _split_id("test", args)
    campaign = await _get(ctx.store, campaign_id)
    if not campaign.body.strip():
        raise UserError(f"Campaign #{campaign_id} has no text yet: `campaign text {campaign_id} …`.")
    ids = await audience_ids(ctx.store, campaign, ctx.now()) if campaign.audience.strip() else []
    async with ctx.store.read() as tx:
        found = await tx.customers.get_many(ids[:1])
    # Nobody to stand for: every placeholder shows its fallback.
    message = campaign_message(campaign, found[ids[0]] if found else None)
    as_whom = f"as {describe(found[ids[0]])} would see it" if found else "with every fallback"
    tested = Reply(
        title=f"TEST of campaign #{campaign.id}: {campaign.name}",
        text=message.text,
        markup=f"<b>TEST of campaign #{campaign.id}</b>\n\n{message.markup}",
        buttons=message.buttons,
        context=f"Only you got this, {as_whom}.",
        ephemeral=False,
    )
    async with ctx.store.write(ctx.actor.key) as tx:
        await tx.outbox.enqueue(
            platform=ctx.actor.platform,
            target=ctx.actor.user_id,
            payload=reply_to_dict(tested),
            key=once("campaign-test", campaign.id),
        )
        await tx.audit.record("test", "campaign", campaign.id, to=ctx.actor.key)
    return Reply(text=f"Test of campaign #{campaign.id} sent to you ({as_whom}); it arrives in a moment.")


async def send(ctx: Context, args: str) -> Reply:
    campaign_id, rest = _split_id("send", args)
    campaign = await _get(ctx.store, campaign_id)
    if campaign.state not in EDITABLE:
        raise UserError(f"Campaign #{campaign_id} is {campaign.state} already; nothing was sent twice.")
    _ready(campaign)
    words = rest.split()
    confirmed = bool(words) and words[-1].lower() == CONFIRM_WORD
    if confirmed:
        words = words[:-1]
    when = None
    if words:
        if words[0].lower() != "at" or len(words) < 2:
            raise UsageError("Send now, or `at <when>`.", usage=_usage("send"))
        try:
            when = parse_when(" ".join(words[1:]), now=ctx.now(), tz=ctx.tz)
        except WhenError as exc:
            raise UserError(str(exc), usage=_usage("send")) from None
    if when is not None:
        async with ctx.store.write(ctx.actor.key) as tx:
            if not await tx.campaigns.schedule(campaign_id, when):
                raise UserError(
                    f"Campaign #{campaign_id} changed state meanwhile; `campaign show {campaign_id}`."
                )
        shown = format_local(when, ctx.tz, now=ctx.now())
        return Reply(
            text=f"Campaign #{campaign_id} is scheduled for {shown}. Its audience is fixed then; "
            f"`campaign cancel {campaign_id}` stops it."
        )
    planned = await plan(ctx.store, campaign, ctx.now())
    if not planned.send:
        raise UserError(
            f"Nobody campaign #{campaign_id} selects can be reached now ({planned.size:,} in the "
            f"audience, {len(planned.control):,} held out): nothing was sent. "
            f"`campaign preview {campaign_id}` says why."
        )
    if len(planned.send) > CONFIRM_ABOVE and not confirmed:
        async with ctx.store.write(ctx.actor.key) as tx:
            button = await choices.offer(
                tx,
                actor_key=ctx.actor.key,
                command=f"campaign send {campaign_id} {CONFIRM_WORD}",
                label=f"Send campaign #{campaign_id}",
            )
        return Reply(
            title=f"Send campaign #{campaign_id} to {len(planned.send):,} customers?",
            text=f"{len(planned.send):,} will get it, {len(planned.control):,} are held out as the "
            f"control group, {len(planned.unreachable):,} cannot be reached. Press to send "
            f"(or `campaign preview {campaign_id}` first).",
            buttons=(button,),
        )
    started = await start_campaign(ctx.store, campaign_id, ctx.now(), actor=ctx.actor.key)
    if not started.started or started.plan is None:
        raise UserError(f"Campaign #{campaign_id} changed state meanwhile; `campaign show {campaign_id}`.")
    got = started.plan
    return Reply(
        title=f"Campaign #{campaign_id} is sending",
        text=f"{len(got.send):,} customers will get it (each once, never in their quiet hours); "
        f"{len(got.control):,} held out; {len(got.unreachable):,} skipped as unreachable. "
        f"`campaign report {campaign_id}` follows it; "
        f"`campaign cancel {campaign_id}` stops what has not gone out.",
    )


async def cancel(ctx: Context, args: str) -> Reply:
    campaign_id, _ = _split_id("cancel", args)
    campaign = await _get(ctx.store, campaign_id)
    if campaign.state in ("sent", "cancelled"):
        raise UserError(f"Campaign #{campaign_id} is {campaign.state} already; nothing to cancel.")
    async with ctx.store.write(ctx.actor.key) as tx:
        stopped = await tx.campaigns.cancel(campaign_id)
        if stopped is not None:  # and what the pump had queued but no dispatcher has taken yet
            stopped += await campaign_outcomes.withdraw(tx, campaign_id)
    if stopped is None:
        raise UserError(f"Campaign #{campaign_id} changed state meanwhile; `campaign show {campaign_id}`.")
    if campaign.state == "sending":
        return Reply(
            text=f"Campaign #{campaign_id} is cancelled: {stopped:,} messages not yet sent will not go out."
        )
    return Reply(text=f"Campaign #{campaign_id} is cancelled; nothing was sent.")


async def listing(ctx: Context, args: str) -> Reply:
    if args.strip():
        raise UsageError("`campaign list` takes nothing more.", usage="campaign list")
    async with ctx.store.read() as tx:
        found = await tx.campaigns.listing()
    if not found:
        return Reply(text="No campaigns yet. Start one with `campaign new <name>`.")
    return Reply(
        title="Campaigns",
        text=f"{len(found)} campaign{'s' if len(found) != 1 else ''}, newest first.",
        items=tuple(
            ListItem(
                f"#{c.id} {c.name} · {c.state}",
                describe_audience(parse_audience(c.audience)) if c.audience else "no audience yet",
            )
            for c in found
        ),
    )


async def show(ctx: Context, args: str) -> Reply:
    campaign_id, _ = _split_id("show", args)
    return _card(ctx, await _get(ctx.store, campaign_id))


async def report(ctx: Context, args: str) -> Reply:
    campaign_id, _ = _split_id("report", args)
    return await campaign_report(ctx.store, await _get(ctx.store, campaign_id), now=ctx.now(), tz=ctx.tz)


_SUBS = {
    "new": new,
    "audience": set_audience,
    "text": set_text,
    "button": set_button,
    "control": set_control,
    "preview": preview,
    "test": test,
    "send": send,
    "cancel": cancel,
    "list": listing,
    "show": show,
    "report": report,
}


async def campaign(ctx: Context) -> Reply:
    sub, rest = [*re.split(r"\s", ctx.args.strip(), maxsplit=1), ""][:2]
    run = _SUBS.get(sub.lower())
    if run is None:
        raise UsageError(f"{one_line(sub, 20)!r} is not something `campaign` does.", usage=USAGE)
    return await run(ctx, rest)


async def link_pressed(ctx: Context) -> Reply:
    """Slack reports a press of a link button too (Telegram does not): the link opened already."""
    number = id_in(ctx.args, kind="campaign")
    found = await _get(ctx.store, number) if number is not None else None
    if found is None or not found.button_url:
        raise UserError("That link is no longer there.")
    return Reply(text=f"Opening {found.button_url}", toast=True)


COMMANDS = (
    Command(
        "campaign",
        campaign,
        USAGE,
        "Campaigns to customers on Telegram: draft (name, audience in `find`'s filter words, text in "
        "Telegram HTML with placeholders that each carry a fallback, an optional link or “Talk to us” "
        "button, a control group), preview, test to yourself, send now or at a time, cancel, report. "
        f"{PLACEHOLDER_HELP} {TAGS_HELP}.",
        "campaign new Spring promo",
        audience="manager",
        needs_args=True,
    ),
)
BUTTONS = (ButtonVerb(LINK_VERB, "anyone", press=link_pressed),)
AREA = Area(COMMANDS, BUTTONS)
