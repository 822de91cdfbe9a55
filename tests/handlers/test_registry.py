"""The registry: commands and button verbs declared by each area, and the tables the router reads."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from handlers import actions
from handlers.messages import Reply
from handlers.registry import Area, ButtonTable, ButtonVerb, CommandTable, Prompt, Rerun
from handlers.router import AREAS, BUTTONS, CUSTOMER_COMMANDS, STAFF_COMMANDS

HANDLERS = Path(__file__).resolve().parents[2] / "handlers"


def _encoded_verbs() -> set[str]:
    """Every verb the handlers put on a button: the first argument of each ``actions.encode``
    call, a string or a name of the module it is in."""
    found: set[str] = set()
    for path in HANDLERS.glob("*.py"):
        if path.stem == "registry":
            continue  # it checks declared verbs, it makes no buttons
        module = importlib.import_module(f"handlers.{path.stem}")
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            called = node.func.value
            if not (isinstance(called, ast.Name) and called.id == "actions" and node.func.attr == "encode"):
                continue
            verb = node.args[0]
            if isinstance(verb, ast.Constant):
                found.add(str(verb.value))
            else:
                assert isinstance(verb, ast.Name), f"{path.name}:{node.lineno}: a verb the scan can't read"
                found.add(str(getattr(module, verb.id)))
    return found


def test_every_button_the_handlers_make_is_declared() -> None:
    made = _encoded_verbs()
    assert {"show", "run", "csat", "ticket-open", "erase", "snooze-1h"} <= made  # the scan sees them
    assert made <= {verb.verb for verb in BUTTONS.verbs}


def test_the_tables_come_from_the_areas() -> None:
    commands = [c for area in AREAS for c in area.commands]
    assert set(STAFF_COMMANDS.commands) | set(CUSTOMER_COMMANDS.commands) == set(commands)
    assert all(c.audience == "customer" for c in CUSTOMER_COMMANDS.commands)
    assert {"help", "ticket", "status"} <= set(CUSTOMER_COMMANDS.names())
    assert {"help", "ticket", "add", "erase"} <= set(STAFF_COMMANDS.names())
    assert [b.verb for b in BUTTONS.verbs] == [b.verb for area in AREAS for b in area.buttons]


def test_a_button_verb_does_one_thing_and_is_declared_once() -> None:
    async def press(_ctx: object) -> Reply:
        return Reply(text="pressed")

    with pytest.raises(ValueError, match="exactly one"):
        ButtonVerb("both", "staff", command="show #{}", press=press)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="exactly one"):
        ButtonVerb("none", "staff")
    with pytest.raises(ValueError):
        ButtonVerb("Not A Verb", "staff", command="show #{}")
    with pytest.raises(ValueError, match="twice"):
        ButtonTable([ButtonVerb("show", "staff", command="show #{}")] * 2)
    with pytest.raises(ValueError, match="twice"):
        CommandTable([*STAFF_COMMANDS.commands[:1]] * 2)


def test_forms_are_named_by_the_registry() -> None:
    assert BUTTONS.form_for("crm:log:3") == ("log", "3")
    assert BUTTONS.form_for("crm:open-ticket:3") == ("ticket", "3")
    assert BUTTONS.form_for("crm:reply:12") == ("reply", "12")
    for no_form in ("crm:show:3", "crm:nosuch:3", "garbage", ""):
        assert BUTTONS.form_for(no_form) is None
    log = BUTTONS.get("log")
    assert log is not None and log.prompt == Prompt("log #{} call: ", "To log an interaction, type", "log")
    assert log.prompt.reply("3").text == "To log an interaction, type: log #3 call: …"


def test_a_new_area_is_read_like_the_others() -> None:
    async def press(_ctx: object) -> Rerun:
        return Rerun("show #1")

    area = Area(buttons=(ButtonVerb("quote", "staff", press=press),))  # type: ignore[arg-type]
    table = ButtonTable(b for a in (*AREAS, area) for b in a.buttons)
    found = table.get("quote")
    assert found is not None and found.press is press and table.get("show") is BUTTONS.get("show")
    assert len(actions.encode("quote", 12)) <= actions.MAX_BYTES
