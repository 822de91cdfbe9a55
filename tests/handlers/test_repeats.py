"""A message the platform may deliver again (a Telegram update re-run from the inbox after a
crash between the handler's commit and "done") changes the store once, and the repeat gets the
first answer back; messages without a ref, and read-only ones, behave as before."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_store.store import Store
from crm_store.tables import handled_messages, ticket_messages, tickets
from handlers.messages import Actor, Message
from handlers.router import ALREADY_DONE, Router


async def _count(store: Store, table: object) -> int:
    async with store.read() as tx:
        return int((await tx.conn.execute(select(func.count()).select_from(table))).scalar_one())  # type: ignore[arg-type]


async def test_a_repeated_update_writes_once_and_gets_the_first_answer(
    router: Router, store: Store, customer: Actor
) -> None:
    opening = Message(actor=customer, text="/ticket Printer broken\nIt prints nothing", ref="telegram:10")
    first = await router.handle(opening)
    assert "ticket #1 is open" in first.text
    repeat = await router.handle(opening)
    assert repeat == first
    assert await _count(store, tickets) == 1 and await _count(store, ticket_messages) == 1

    added = Message(actor=customer, text="It also smells of smoke", ref="telegram:11")
    assert (await router.handle(added)).text == "Added to ticket #1."
    assert (await router.handle(added)).text == "Added to ticket #1."
    assert await _count(store, ticket_messages) == 2
    async with store.read() as tx:
        outbox = await tx.outbox.listing(limit=100)
    assert len({row.idempotency_key for row in outbox}) == len(outbox)

    # The same text as a new message (another update id) is a new message.
    again = Message(actor=customer, text="It also smells of smoke", ref="telegram:12")
    assert (await router.handle(again)).text == "Added to ticket #1."
    assert await _count(store, ticket_messages) == 3


async def test_a_guided_step_repeated_is_not_taken_as_the_next_answer(
    router: Router, store: Store, customer: Actor
) -> None:
    await router.handle(Message(actor=customer, text="/ticket", ref="telegram:20"))
    subject = Message(actor=customer, text="Invoice is wrong", ref="telegram:21")
    asked = await router.handle(subject)
    assert await router.handle(subject) == asked  # not read as the description
    async with store.read() as tx:
        draft = await tx.conversations.get(customer.key)
    assert draft is not None and draft.step != "confirm" and draft.data.get("subject") == "Invoice is wrong"
    assert "description" not in draft.data or not draft.data["description"]


async def test_a_repeat_whose_first_answer_was_lost_is_told_it_was_done(
    router: Router, store: Store, customer: Actor
) -> None:
    message = Message(actor=customer, text="/feedback Great service", ref="telegram:30")
    await router.handle(message)
    async with store.write("test") as tx:  # the crash came before the answer was kept
        await tx.conn.execute(handled_messages.update().values(reply=None))
    assert (await router.handle(message)).text == ALREADY_DONE
    async with store.read() as tx:
        count = await tx.conn.exec_driver_sql("SELECT COUNT(*) FROM feedback")
        assert count.scalar_one() == 1


async def test_reads_and_messages_without_a_ref_are_not_recorded(
    router: Router, store: Store, customer: Actor, rep: Actor
) -> None:
    status = Message(actor=customer, text="/status", ref="telegram:40")
    assert (await router.handle(status)).text == (await router.handle(status)).text
    await router.handle(Message(actor=rep, text="add Acme Corp"))
    assert await _count(store, handled_messages) == 0
