"""Reply -> Telegram HTML and keyboards (pure): escaping, the 4,096 limit, 64-byte callback data."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.telegram.render import MAX_TEXT, render, toast, visible_length
from crm_store.records import CustomerRecord, TicketRecord
from handlers import notify
from handlers.messages import Button, Field, ListItem, Reply


def test_user_text_is_escaped_and_parts_are_marked_up() -> None:
    reply = Reply(
        title="Ticket <#1>",
        text="a <b>bold</b> & <script>",
        fields=(Field("Status", "open"),),
        context="from <me>",
    )
    (message,) = render(reply)
    assert message.text == (
        "<b>Ticket &lt;#1&gt;</b>\n\na &lt;b&gt;bold&lt;/b&gt; &amp; &lt;script&gt;"
        "\n\nStatus: open\n\n<i>from &lt;me&gt;</i>"
    )
    assert message.reply_markup is None


def test_a_long_text_is_split_under_4096_and_joins_back() -> None:
    text = "".join(f"Line {n}: customer feedback summary 😀 & <ok>\n" for n in range(250))
    assert len(text) > 10_000
    messages = render(Reply(text=text, buttons=(Button("Open", "crm:ticket:1"),)))
    assert len(messages) >= 3
    import html

    plain = [html.unescape(m.text) for m in messages]
    assert all(1 <= visible_length(p) <= MAX_TEXT for p in plain)
    assert "".join(plain) == text
    assert [m.reply_markup is not None for m in messages] == [False] * (len(messages) - 1) + [True]


def test_callback_data_is_an_opaque_id_within_64_bytes_for_any_customer() -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    name = "Ёлкина-Щукина Анастасия Вячеславовна 🎄🎁✨" * 3
    customer = CustomerRecord(
        id=987654321,
        name=name,
        company="ООО «Рога и копыта» 🦌",
        email="anastasia@example.ru",
        phone="+7 999 123 45 67",
        owner_rep_id=None,
        status="active",
        source="telegram",
        tags=(),
        custom={},
        timezone=None,
        created_at=now,
        updated_at=now,
    )
    ticket = TicketRecord(
        id=123456789012,
        customer_id=customer.id,
        customer_name=name,
        subject="Не работает 📱",
        status="open",
        priority="normal",
        assignee_rep_id=None,
        assignee_name=None,
        source="telegram",
        csat_rating=None,
        created_at=now,
        updated_at=now,
        first_response_at=None,
        resolved_at=None,
    )
    replies = [notify.new_ticket_post(ticket, customer, "text", ()), notify.csat_request(ticket, "")]
    replies.append(
        Reply(text="pick", items=(ListItem(name, buttons=(Button("Choose", "crm:show:987654321"),)),))
    )
    data = [
        b.callback_data
        for r in replies
        for m in render(r)
        if m.reply_markup
        for row in m.reply_markup.inline_keyboard
        for b in row
    ]
    assert len(data) == 9
    for value in data:
        assert isinstance(value, str) and 1 <= len(value.encode()) <= 64
        assert value.startswith("crm:")
        for secret in ("Ёлкина", "🎄", "anastasia", "999", "Рога"):
            assert secret not in value


def test_a_toast_is_plain_and_within_telegrams_200_characters() -> None:
    assert toast(Reply(text="This button is\nnot for you.", is_error=True, toast=True)) == (
        "This button is not for you."
    )
    long = toast(Reply(text="x" * 500, toast=True))
    assert len(long) == 200 and long.endswith("…")


def test_checked_markup_goes_as_it_is_and_link_buttons_open_their_address() -> None:
    reply = Reply(
        text="Hi Ada & shop",
        markup='<b>Hi</b> Ada &amp; <a href="https://shop.example">shop</a>',
        buttons=(
            Button("Shop now", "crm:campaign-link:3", url="https://shop.example"),
            Button("Stop these messages", "crm:campaign-stop:3"),
        ),
    )
    (message,) = render(reply)
    assert message.text == reply.markup
    assert message.reply_markup is not None
    (row,) = message.reply_markup.inline_keyboard
    assert (row[0].url, row[0].callback_data) == ("https://shop.example", None)
    assert (row[1].url, row[1].callback_data) == (None, "crm:campaign-stop:3")
