"""Group chats on SQLite and PostgreSQL: linking, the one hint an unlinked group gets, unlinking,
a supergroup's new id, the group a ticket is worked in, and group codes apart from chat invites."""

from __future__ import annotations

from datetime import timedelta

from crm_store.store import Store
from tests.conftest import FakeClock


async def test_a_group_is_hinted_once_linked_unlinked_and_hinted_once_again(store: Store) -> None:
    async with store.write("t") as tx:
        acme = await tx.customers.add(name="Acme")
        assert await tx.chat_groups.claim_hint("telegram", "-100")
        assert not await tx.chat_groups.claim_hint("telegram", "-100")
        assert await tx.chat_groups.linked("telegram", "-100") is None
        group = await tx.chat_groups.link("telegram", "-100", customer_id=acme.id, linked_by="telegram:7")
        assert group.is_linked and group.hinted_at is None and group.linked_by == "telegram:7"
        assert not await tx.chat_groups.claim_hint("telegram", "-100")  # linked: nothing to tell
    async with store.read() as tx:
        linked = await tx.chat_groups.linked("telegram", "-100")
        assert linked is not None and linked.customer_id == acme.id
        assert [g.chat_id for g in await tx.chat_groups.of_customer(acme.id)] == ["-100"]
        assert await tx.chat_groups.linked("telegram", "-200") is None
    async with store.write("t") as tx:
        assert await tx.chat_groups.unlink(group.id, reason="test")
        assert not await tx.chat_groups.unlink(group.id, reason="again")
        assert await tx.chat_groups.claim_hint("telegram", "-100")  # told once that it is unlinked
        assert not await tx.chat_groups.claim_hint("telegram", "-100")
    async with store.read() as tx:
        assert await tx.chat_groups.linked("telegram", "-100") is None
        assert await tx.chat_groups.of_customer(acme.id) == []
        kept = await tx.chat_groups.get("telegram", "-100")
        assert kept is not None and kept.customer_id == acme.id and kept.unlinked_at is not None


async def test_a_removed_company_has_no_linked_group(store: Store) -> None:
    async with store.write("t") as tx:
        acme = await tx.customers.add(name="Acme")
        await tx.chat_groups.link("telegram", "-100", customer_id=acme.id, linked_by="x")
        await tx.customers.soft_delete(acme.id, reason="test")
    async with store.read() as tx:
        assert await tx.chat_groups.linked("telegram", "-100") is None


async def test_a_supergroup_keeps_its_link_under_its_new_id(store: Store) -> None:
    async with store.write("t") as tx:
        acme = await tx.customers.add(name="Acme")
        await tx.chat_groups.link("telegram", "-100", customer_id=acme.id, linked_by="x")
        assert await tx.chat_groups.move("telegram", "-100", "-1001234567890")
        assert not await tx.chat_groups.move("telegram", "-100", "-1001234567890")  # once
        assert not await tx.chat_groups.move("telegram", "-300", "-1009")  # nothing kept for it
    async with store.read() as tx:
        assert await tx.chat_groups.linked("telegram", "-100") is None
        moved = await tx.chat_groups.linked("telegram", "-1001234567890")
        assert moved is not None and moved.customer_id == acme.id


async def test_a_ticket_worked_in_a_group_answers_there_while_the_group_is_the_companys(store: Store) -> None:
    async with store.write("t") as tx:
        acme = await tx.customers.add(name="Acme")
        bob = await tx.customers.add(name="Bob")
        group = await tx.chat_groups.link("telegram", "-100", customer_id=acme.id, linked_by="x")
        ticket = await tx.tickets.open(
            customer_id=acme.id,
            subject="Broken",
            source="telegram",
            first_message="x",
            author_customer_id=bob.id,
        )
        assert await tx.chat_groups.of_ticket(ticket.id) is None
        await tx.tickets.set_group(ticket.id, group.id, "1234")
    async with store.read() as tx:
        found = await tx.chat_groups.of_ticket(ticket.id)
        assert found is not None and found[0].id == group.id and found[1] == "1234"
        (message,) = await tx.tickets.messages(ticket.id)
        assert message.author_customer_id == bob.id and message.author_name == "Bob"
    async with store.write("t") as tx:
        await tx.chat_groups.unlink(group.id, reason="test")
    async with store.read() as tx:
        assert await tx.chat_groups.of_ticket(ticket.id) is None


async def test_group_codes_and_chat_invites_do_not_redeem_each_other(store: Store, clock: FakeClock) -> None:
    async with store.write("t") as tx:
        acme = await tx.customers.add(name="Acme")
        chat = await tx.link_tokens.create(acme.id, created_by="t")
        group = await tx.link_tokens.create(acme.id, created_by="t", purpose="group")
        late = await tx.link_tokens.create(acme.id, created_by="t", purpose="group", ttl=timedelta(hours=1))
    async with store.write("t") as tx:
        assert await tx.link_tokens.redeem(chat, used_by="x", purpose="group") is None
        assert await tx.link_tokens.redeem(group, used_by="x") is None
        assert await tx.link_tokens.redeem(group, used_by="x", purpose="group") == acme.id
        assert await tx.link_tokens.redeem(group, used_by="x", purpose="group") is None  # used up
        assert await tx.link_tokens.redeem(chat, used_by="x") == acme.id
    clock.advance(hours=1, seconds=1)
    async with store.write("t") as tx:
        assert await tx.link_tokens.redeem(late, used_by="x", purpose="group") is None
