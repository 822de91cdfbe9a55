"""Naming a team member in role, assign and owner=: a Slack mention, @handle or part of a name."""

from __future__ import annotations

import pytest

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat


@pytest.fixture
async def team(store: Store) -> dict[str, int]:
    """Dana Whitfield (never talked to the bot), Jürgen Müller on Slack, Sam Ortega on the console."""
    async with store.write("test") as tx:
        dana = await tx.people.add_rep(display_name="Dana Whitfield")
        jurgen = await tx.people.add_rep(
            display_name="Jürgen Müller", platform="slack", external_id="U0JURGEN"
        )
        sam = await tx.people.add_rep(display_name="Sam Ortega", platform="console", external_id="sortega")
        await tx.customers.add(name="Acme Corp")
        await tx.tickets.open(customer_id=1, subject="Broken", source="test")
    return {"dana": dana.id, "jurgen": jurgen.id, "sam": sam.id}


async def _assignee(store: Store) -> int | None:
    async with store.read() as tx:
        ticket = await tx.tickets.get(1)
    assert ticket is not None
    return ticket.assignee_rep_id


async def _role_of(store: Store, rep_id: int) -> str:
    async with store.read() as tx:
        rep = await tx.people.rep(rep_id)
    assert rep is not None
    return rep.role


@pytest.mark.parametrize(
    ("who", "expected"),
    [
        ("@dana", "dana"),
        ("dana", "dana"),
        ("to dana", "dana"),
        ("DANA whit", "dana"),
        ("Whitfield", "dana"),
        ("Dana Whitfield", "dana"),
        ("jurgen", "jurgen"),  # accents need not be typed
        ("<@U0JURGEN>", "jurgen"),
        ("<@U0JURGEN|juergen>", "jurgen"),
        ("@sortega", "sam"),  # a chat handle
        ("ortega", "sam"),
    ],
)
async def test_assign_finds_the_person_named(
    chat: Chat, store: Store, team: dict[str, int], who: str, expected: str
) -> None:
    reply = await chat.say(f"assign 1 {who}")
    assert not reply.is_error, reply.text
    assert await _assignee(store) == team[expected]


async def test_role_takes_a_handle_or_part_of_a_name(
    router: Router, admin: Actor, store: Store, team: dict[str, int]
) -> None:
    chat = Chat(router, admin)
    assert (await chat.say("role @dana manager")).text == "Dana Whitfield is now manager (was rep)."
    reply = await chat.say("role <@U0JURGEN|jurgen> manager")
    assert reply.text == "Jürgen Müller is now manager (was rep)."
    assert await _role_of(store, team["dana"]) == "manager"
    assert await _role_of(store, team["jurgen"]) == "manager"


async def test_owner_takes_a_handle_or_part_of_a_name(chat: Chat, store: Store, team: dict[str, int]) -> None:
    reply = await chat.say("update acme owner=@dana")
    assert "Owner: Dana Whitfield" in [f"{f.label}: {f.value}" for f in reply.fields]
    await chat.say("add Initech owner=whitfield")
    async with store.read() as tx:
        added = await tx.customers.get(2)
    assert added is not None and added.owner_rep_id == team["dana"]


async def test_ambiguous_part_names_everyone_it_could_be_and_changes_nothing(
    chat: Chat, router: Router, admin: Actor, store: Store, team: dict[str, int]
) -> None:
    async with store.write("test") as tx:
        await tx.people.add_rep(display_name="Dana Scully")
    reply = await chat.say("assign 1 dana")
    assert reply.is_error
    assert "'dana' could be Dana Whitfield or Dana Scully" in reply.text
    assert await _assignee(store) is None
    reply = await Chat(router, admin).say("role dana manager")
    assert reply.is_error and "Dana Whitfield or Dana Scully" in reply.text
    assert await _role_of(store, team["dana"]) == "rep"
    # The full name settles it.
    assert not (await chat.say("assign 1 dana whitfield")).is_error
    assert await _assignee(store) == team["dana"]


async def test_ambiguity_offers_a_handle_to_tell_namesakes_apart(
    chat: Chat, store: Store, team: dict[str, int]
) -> None:
    async with store.write("test") as tx:
        await tx.people.add_rep(display_name="Sam Ortega", platform="slack", external_id="U0SAM2")
    reply = await chat.say("assign 1 sam ortega")
    assert reply.is_error
    assert "Sam Ortega (@sortega) or Sam Ortega (<@U0SAM2>)" in reply.text
    assert not (await chat.say("assign 1 <@U0SAM2>")).is_error


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("assign 1 dnaa", "No team member matches 'dnaa'. Closest: Dana Whitfield."),
        ("assign 1 <@U0NOBODY|zed>", "zed has not talked to the bot yet"),
        ("assign 1 @", "Who? Name a team member"),
        ("update acme owner=nobody-here", "No team member matches 'nobody-here'"),
    ],
)
async def test_unknown_people_are_refused_with_the_closest_names(
    chat: Chat, store: Store, team: dict[str, int], text: str, needle: str
) -> None:
    reply = await chat.say(text)
    assert reply.is_error and needle in reply.text, reply.text
    assert await _assignee(store) is None
    async with store.read() as tx:
        acme = await tx.customers.get(1)
    assert acme is not None and acme.owner_rep_id is None


async def test_a_part_that_fits_many_lists_five_and_counts_the_rest(
    chat: Chat, store: Store, team: dict[str, int]
) -> None:
    async with store.write("test") as tx:
        for n in range(6):
            await tx.people.add_rep(display_name=f"Alex Number{n}")
    reply = await chat.say("assign 1 alex")
    assert reply.is_error
    assert (
        "'alex' could be Alex Number0, Alex Number1, Alex Number2, Alex Number3 or Alex Number4 (and 1 more)"
        in (reply.text)
    )
