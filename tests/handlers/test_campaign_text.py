"""A campaign's text: placeholders and their fallbacks (never an empty hole), Telegram's HTML
subset checked with a clear answer, the length limit, escaping, buttons."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from crm_store.campaigns import CampaignRecord
from crm_store.records import CustomerRecord
from handlers import actions
from handlers.campaign_text import (
    MAX_VISIBLE,
    Placeholder,
    campaign_buttons,
    campaign_message,
    check_body,
    plain_text,
    render_campaign,
)
from handlers.errors import UserError
from handlers.messages import reply_from_dict, reply_to_dict

T = datetime(2026, 11, 23, tzinfo=UTC)
CAMPAIGN = CampaignRecord(
    id=7,
    name="Spring",
    audience="tag:vip",
    body="Hi {first_name|there}, news for {company|your team} in {industry|your field}.",
    button_kind=None,
    button_text=None,
    button_url=None,
    control_pct=0,
    state="draft",
    created_by_rep_id=None,
    send_at=None,
    created_at=T,
    started_at=None,
    finished_at=None,
    cancelled_at=None,
)


def customer(name: str = "Ada Lovelace", company: str = "", **custom: str) -> CustomerRecord:
    return CustomerRecord(
        id=1,
        name=name,
        company=company,
        email="",
        phone="",
        owner_rep_id=None,
        status="active",
        source="manual",
        tags=(),
        custom=dict(custom),
        timezone=None,
        created_at=T,
        updated_at=T,
    )


def test_placeholders_take_the_customers_values_or_their_fallbacks() -> None:
    assert render_campaign(CAMPAIGN, customer(company="Acme", industry="retail")) == (
        "Hi Ada, news for Acme in retail."
    )
    assert render_campaign(CAMPAIGN, customer(name="  ", industry=" ")) == (
        "Hi there, news for your team in your field."
    )
    assert render_campaign(CAMPAIGN, None) == "Hi there, news for your team in your field."
    # custom.<field> and <field> are the same placeholder; extra fields override the record
    body = replace(CAMPAIGN, body="{custom.industry|x} {industry|y}")
    assert render_campaign(body, customer(industry="media"), {"industry": "food"}) == "food food"


def test_values_are_escaped_and_braces_can_be_written() -> None:
    body = replace(CAMPAIGN, body="<b>{company|you}</b> {{literal}}")
    assert render_campaign(body, customer(company="A<b>&Co")) == "<b>A&lt;b&gt;&amp;Co</b> {literal}"


def test_every_placeholder_needs_a_fallback() -> None:
    with pytest.raises(UserError, match=r"\{first_name\} needs a fallback.*\{first_name\|there\}"):
        check_body("Hi {first_name}!")
    with pytest.raises(UserError, match="needs a fallback"):
        check_body("Hi {company| }!")
    with pytest.raises(UserError, match="is not a placeholder"):
        check_body("Hi {two words|x}")
    with pytest.raises(UserError, match="lone"):
        check_body("Hi } there")
    assert check_body("Hi {first_name|there} {custom.size|any}") == [
        Placeholder("first_name", "there"),
        Placeholder("size", "any"),
    ]


@pytest.mark.parametrize(
    "body",
    [
        "<b>bold</b> <i>i</i> <u>u</u> <s>s</s> <strong>x</strong> <em>x</em> <ins>x</ins> <del>x</del>",
        '<a href="https://shop.example/spring?a=1&amp;b=2">Shop</a> <code>x</code>',
        '<pre><code class="language-python">x = 1</code></pre> <tg-spoiler>s</tg-spoiler>',
        '<span class="tg-spoiler">s</span> <blockquote>q</blockquote> <blockquote expandable>q</blockquote>',
        "1 &lt; 2 &amp;&amp; 3 &gt; 2 &quot;ok&quot; &#169;",
    ],
)
def test_telegrams_html_subset_is_accepted(body: str) -> None:
    check_body(body)


@pytest.mark.parametrize(
    ("body", "answer"),
    [
        ("<script>alert(1)</script>", "is not allowed"),
        ("<div>x</div>", "is not allowed"),
        ("<b>never closed", "never closed"),
        ("<b>x</i>", "not open here"),
        ("a < b", "bare '<'"),
        ("fish & chips", "bare '&'"),
        ("&nbsp;", "not an entity"),
        ('<a href="javascript:alert(1)">x</a>', "a link needs"),
        ('<a href="https://x.example" onclick="y">x</a>', "takes no onclick"),
        ('<span class="red">x</span>', "only <span"),
        ('<a href="https://x.example/{company|c}">x</a>', "inside a tag"),
        ("<br/>", "is not allowed"),
        ("   ", "empty"),
    ],
)
def test_anything_else_is_refused_saying_what(body: str, answer: str) -> None:
    with pytest.raises(UserError, match=answer.replace("(", r"\(").replace("[", r"\[")):
        check_body(body)


def test_the_length_is_counted_as_telegram_does() -> None:
    check_body("x" * MAX_VISIBLE)
    check_body("<b>" + "x" * MAX_VISIBLE + "</b>")  # tags are not counted
    with pytest.raises(UserError, match="4,097 characters"):
        check_body("x" * (MAX_VISIBLE + 1))
    with pytest.raises(UserError, match="limit"):
        check_body("😀" * (MAX_VISIBLE // 2 + 1))  # an emoji is two units
    # values that would push it over fall back, so a message is never refused at send time
    long = replace(CAMPAIGN, body="x" * 4000 + "{industry|field}")
    assert render_campaign(long, customer(industry="y" * 500)).endswith("field")


def test_buttons_always_carry_stop_and_the_campaigns_own() -> None:
    stop = actions.encode("campaign-stop", 7)
    assert [b.action for b in campaign_buttons(CAMPAIGN, 7)] == [stop]
    talk = replace(CAMPAIGN, button_kind="talk", button_text="Talk to us")
    assert [(b.label, b.action) for b in campaign_buttons(talk, 7)] == [
        ("Talk to us", actions.encode("campaign-talk", 7)),
        ("Stop these messages", stop),
    ]
    link = replace(CAMPAIGN, button_kind="link", button_text="Shop now", button_url="https://shop.example")
    first = campaign_buttons(link, 7)[0]
    assert (first.label, first.url) == ("Shop now", "https://shop.example")
    assert all(len(b.action.encode()) <= actions.MAX_BYTES for b in campaign_buttons(link, 10**12))


def test_the_message_carries_html_for_telegram_and_plain_text_elsewhere() -> None:
    body = replace(CAMPAIGN, body='<b>Hi</b> {first_name|there} &amp; <a href="https://x.example">shop</a>')
    message = campaign_message(body, customer())
    assert message.markup == '<b>Hi</b> Ada &amp; <a href="https://x.example">shop</a>'
    assert message.text == "Hi Ada & shop (https://x.example)"
    assert plain_text("<i>a</i> &lt;b&gt;") == "a <b>"


def test_the_message_survives_the_outbox_round_trip() -> None:
    link = replace(CAMPAIGN, button_kind="link", button_text="Shop", button_url="https://shop.example")
    message = campaign_message(link, customer())
    assert reply_from_dict(reply_to_dict(message)) == message
