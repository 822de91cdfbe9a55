"""Reply -> Block Kit: golden files for the common shapes, and Slack's limits on long answers."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from bot.slack.render import MAX_BLOCKS, MAX_TEXT, render, split_text, unescape
from handlers import actions
from handlers.messages import Button, Field, ListItem, Reply

GOLDEN = Path(__file__).with_name("golden")

CARD = Reply(
    title="Acme Corp (#1)",
    text="Customer Acme Corp (#1)",
    fields=(
        Field("Company", "Acme & Sons <Ltd>"),
        Field("Email", "ops@acme.example"),
        Field("Status", "active"),
    ),
    context="Last contact 3 days ago · 2 orders ($1,200.00) · 0 open tickets · 1 reminder",
    buttons=(
        Button("Log call", actions.encode("log", 1)),
        Button("Remind me", actions.encode("remind", 1)),
        Button("Open ticket", actions.encode("open-ticket", 1)),
        Button("Show timeline", actions.encode("timeline", 1)),
    ),
)
PICK_LIST = Reply(
    title="Which customer?",
    text="'acme' matches more than one customer; pick one:",
    items=(
        ListItem(
            "Acme Corp (#1)",
            "ops@acme.example",
            (Button("Choose", actions.encode("run", "tok1"), "primary"),),
        ),
        ListItem("Acme Labs (#2)", "", (Button("Choose", actions.encode("run", "tok2"), "primary"),)),
    ),
)
ERROR = Reply(text="No customer matches '<!channel>'.", is_error=True)


@pytest.mark.parametrize(("name", "reply"), [("card", CARD), ("pick_list", PICK_LIST), ("error", ERROR)])
def test_golden(name: str, reply: Reply) -> None:
    path = GOLDEN / f"{name}.json"
    rendered = render(reply)
    if os.environ.get("CRM_UPDATE_GOLDEN"):  # regenerate after a deliberate change, then review the diff
        path.write_text(json.dumps(rendered, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    assert rendered == json.loads(path.read_text(encoding="utf-8"))


def test_user_text_cannot_ping_or_link() -> None:
    text = json.dumps(render(ERROR))
    assert "<!channel>" not in text and "&lt;!channel&gt;" in text


def _sections(messages: list[dict[str, Any]]) -> list[str]:
    return [
        b["text"]["text"] for m in messages for b in m["blocks"] if b["type"] == "section" and "text" in b
    ]


def test_a_10000_character_answer_splits_into_pieces_that_join_back() -> None:
    line = "Digest: Acme & Co <renewal> due; call back at 10:00 & send the quote.\n"
    original = (line * 200)[:10_000]
    messages = render(Reply(text=original))
    pieces = _sections(messages)
    assert len(pieces) >= 4
    assert all(1 <= len(p) <= MAX_TEXT for p in pieces)
    assert "".join(unescape(p) for p in pieces) == original


def test_split_without_spaces_still_joins_back() -> None:
    original = "x" * 7_001 + "&" * 1_000
    pieces = split_text(original)
    assert "".join(pieces) == original
    assert all(len(p.replace("&", "&amp;")) <= MAX_TEXT for p in pieces)


def test_long_lists_page_at_50_blocks_and_keep_every_item_in_order() -> None:
    items = tuple(
        ListItem(f"Customer {n}", f"row {n}", (Button("Show", actions.encode("show", n)),))
        for n in range(300)
    )
    messages = render(Reply(title="At risk", text="300 customers", items=items, buttons=CARD.buttons))
    assert len(messages) == 7
    assert all(1 <= len(m["blocks"]) <= MAX_BLOCKS for m in messages)
    shown = [b["text"]["text"].split("\n")[0] for m in messages for b in m["blocks"] if "accessory" in b]
    assert shown == [f"Customer {n}" for n in range(300)]
    assert messages[0]["blocks"][0]["type"] == "header"
    assert messages[-1]["blocks"][-1]["type"] == "actions"
    assert "part 7 of 7" in messages[-1]["text"]


def test_many_buttons_fold_into_overflow_menus_with_crm_ids() -> None:
    buttons = tuple(Button(f"Reminder {n}", actions.encode("done", n)) for n in range(12))
    (message,) = render(Reply(text="Your reminders", buttons=buttons))
    (block,) = [b for b in message["blocks"] if b["type"] == "actions"]
    kinds = [e["type"] for e in block["elements"]]
    assert kinds == ["button"] * 4 + ["overflow", "overflow"]
    values = [e["value"] for e in block["elements"] if e["type"] == "button"]
    values += [o["value"] for e in block["elements"] if e["type"] == "overflow" for o in e["options"]]
    assert values == [b.action for b in buttons]
    assert all(len(e.get("options", [])) <= 5 for e in block["elements"])


def test_item_with_several_buttons_gets_an_overflow_accessory() -> None:
    item = ListItem("Ticket #3", "open", (Button("Open", "crm:ticket:3"), Button("Resolve", "crm:resolve:3")))
    (message,) = render(Reply(text="Tickets", items=(item,)))
    accessory = message["blocks"][-1]["accessory"]
    assert accessory["type"] == "overflow"
    assert [o["value"] for o in accessory["options"]] == ["crm:ticket:3", "crm:resolve:3"]


def test_link_buttons_carry_their_address_and_markup_is_not_slacks() -> None:
    reply = Reply(
        text="Hi Ada & shop (https://shop.example)",
        markup="<b>Hi</b> Ada &amp; shop",
        buttons=(Button("Shop now", actions.encode("campaign-link", 3), url="https://shop.example"),),
    )
    blocks = [b for message in render(reply) for b in message["blocks"]]
    [button] = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    assert button["url"] == "https://shop.example"
    assert "<b>" not in json.dumps(blocks)
