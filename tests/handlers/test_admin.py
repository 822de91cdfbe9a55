"""role: managers only, admins for the admin role, never your own."""

from __future__ import annotations

from crm_store.store import Store
from handlers.messages import Actor
from handlers.router import Router
from tests.conftest import Chat


async def test_manager_promotes_rep(router: Router, manager: Actor, rep: Actor, store: Store) -> None:
    reply = await Chat(router, manager).say("role sam manager")
    assert reply.text == "Sam is now manager (was rep)."
    async with store.read() as tx:
        r = await tx.people.rep(rep.rep_id or 0)
        audit = await tx.audit.recent(entity="rep", entity_id=rep.rep_id)
    assert r is not None and r.role == "manager"
    assert audit[0].action == "set_role" and audit[0].actor == "console:dana"


async def test_rep_is_refused_and_denial_audited(
    router: Router, rep: Actor, manager: Actor, store: Store
) -> None:
    reply = await Chat(router, rep).say("role dana rep")
    assert reply.is_error and "for managers" in reply.text
    async with store.read() as tx:
        m = await tx.people.rep(manager.rep_id or 0)
        denied = await tx.audit.recent(entity="command")
    assert m is not None and m.role == "manager"
    assert denied[0].action == "denied" and denied[0].actor == "console:sam"


async def test_role_refusals(router: Router, manager: Actor, admin: Actor, rep: Actor) -> None:
    chat = Chat(router, manager)
    for text, needle in [
        ("role sam", "Usage: role"),
        ("role sam boss", "not a role"),
        ("role nobody rep", "No team member matches"),
        ("role dana rep", "your own role"),
        ("role sam admin", "Only an admin"),
        ("role ada rep", "Only an admin"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    assert "is now admin" in (await Chat(router, admin).say("role sam admin")).text
