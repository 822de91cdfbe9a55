"""find, show, add (duplicate warning) and update, with their refusals."""

from __future__ import annotations

from crm_store.store import Store
from handlers.messages import Actor
from tests.conftest import Chat, all_text, buttons


async def add_acme(chat: Chat) -> None:
    reply = await chat.say("add Acme Corp email=ops@acme.example phone=+1 555 0100 company=Acme Corp")
    assert not reply.is_error, reply.text


async def test_add_creates_customer_owned_by_rep_and_audited(chat: Chat, store: Store, rep: Actor) -> None:
    reply = await chat.say(
        "add Acme Corp email=OPS@acme.example phone=+1 (555) 010-0100 tags=vip,Enterprise industry=logistics"
    )
    assert not reply.is_error, reply.text
    assert "Added Acme Corp" in reply.text
    text = all_text(reply)
    assert "ops@acme.example" in text and "+15550100100" in text
    assert "enterprise, vip" in text and "Industry: logistics" in text
    async with store.read() as tx:
        (customer,) = [c async for c in tx.customers.iter_all()]
        audit = await tx.audit.recent(entity="customer")
    assert customer.owner_rep_id == rep.rep_id
    assert customer.custom == {"industry": "logistics"}
    assert audit[0].actor == "console:sam" and audit[0].action == "create"


async def test_find_tolerates_typos(chat: Chat) -> None:
    await add_acme(chat)
    await chat.say("add Globex Corporation email=hank@globex.example")
    reply = await chat.say("find acmee corp")
    assert not reply.is_error
    assert reply.title == "Acme Corp (#1)" and reply.text == "Best match for 'acmee corp'."


async def test_find_lists_when_no_single_customer_stands_out(chat: Chat) -> None:
    await chat.say("add Acme Corp email=ops@acme.example")
    await chat.say("add Acme Logistics email=info@acmelog.example")
    reply = await chat.say("find acme")
    assert reply.title == "Customers matching 'acme'"
    assert {i.text for i in reply.items} == {"Acme Corp (#1)", "Acme Logistics (#2)"}
    assert all(b.action.startswith("crm:show:") for i in reply.items for b in i.buttons)


async def test_find_by_email_and_phone(chat: Chat) -> None:
    await add_acme(chat)
    assert (await chat.say("find ops@acme.example")).title == "Acme Corp (#1)"
    assert (await chat.say("find 555 0100")).title == "Acme Corp (#1)"


async def test_find_nothing_says_so_and_suggests_add(chat: Chat) -> None:
    reply = await chat.say("find zzqx")
    assert reply.is_error and "add zzqx" in reply.text


async def test_show_card_has_fields_context_and_buttons(chat: Chat) -> None:
    await add_acme(chat)
    await chat.say("log acme call: discussed renewal")
    reply = await chat.say("show acme")
    assert reply.title.startswith("Acme Corp")
    assert "Last contact just now" in reply.context and "1 open" not in reply.context
    assert [b.label for b in reply.buttons] == ["Log call", "Remind me", "Open ticket", "Show timeline"]


async def test_show_unknown_customer_lists_closest(chat: Chat) -> None:
    await add_acme(chat)
    reply = await chat.say("show Acne Corporation Limited Holdings")
    assert reply.is_error and not reply.items and not reply.buttons  # never a guess
    assert reply.text == (
        "No customer matches 'Acne Corporation Limited Holdings'. Closest: Acme Corp (#1). "
        "Try `find Acne Corporation Limited Holdings` or `add Acne Corporation Limited Holdings`."
    )
    reply = await chat.say("show qqqqqq")
    assert reply.is_error and "No customer matches" in reply.text


async def test_show_by_missing_id(chat: Chat) -> None:
    reply = await chat.say("show #999")
    assert reply.is_error and "no customer #999" in reply.text


async def test_ambiguous_customer_gets_pick_list_and_press_runs_command(chat: Chat, store: Store) -> None:
    await chat.say("add Bob Smith company=Initech email=bob@initech.example")
    await chat.say("add Bob Smith company=Globex email=bob@globex.example --force")
    reply = await chat.say("log bob smith call: asked about pricing")
    assert reply.title == "Which customer?" and len(reply.items) == 2
    async with store.read() as tx:
        assert await tx.interactions.all_in_range() == []
    choice = buttons(reply)[1]
    done = await chat.press(choice)
    assert "Logged a call with Bob Smith" in done.text
    again = await chat.press(choice)  # a pick is used once
    assert again.is_error and "expired" in again.text
    async with store.read() as tx:
        assert len(await tx.interactions.all_in_range()) == 1


async def test_add_warns_about_duplicate_email_then_creates_on_confirm(chat: Chat, store: Store) -> None:
    await add_acme(chat)
    reply = await chat.say("add ACME Corporation email=ops@acme.example")
    assert reply.title == "Possible duplicate" and "same email" in reply.text
    async with store.read() as tx:
        assert await tx.customers.count() == 1
    created = await chat.press(buttons(reply)[0])
    assert "Added ACME Corporation" in created.text
    async with store.read() as tx:
        assert await tx.customers.count() == 2


async def test_add_warns_about_near_identical_name_and_same_phone(chat: Chat) -> None:
    await add_acme(chat)
    assert "nearly the same name" in (await chat.say("add Acme Corp.")).text
    assert "same phone" in (await chat.say("add Zeta Ltd phone=+15550100")).text


async def test_another_rep_cannot_press_my_confirmation(
    chat: Chat, router, other_rep: Actor, store: Store
) -> None:
    await add_acme(chat)
    reply = await chat.say("add Acme Corp email=ops@acme.example")
    other = Chat(router, other_rep)
    refused = await other.press(buttons(reply)[0])
    assert refused.is_error
    async with store.read() as tx:
        assert await tx.customers.count() == 1


async def test_add_rejects_bad_values_and_changes_nothing(chat: Chat, store: Store) -> None:
    for text, needle in [
        ("add Foo email=not-an-email", "not an email"),
        ("add Foo phone=12", "not a phone"),
        ("add Foo status=vip", "status must be one of"),
        ("add Foo Bad-Key!=x", "not a field name"),
        ("add Foo id=7", "can't be set by hand"),
        ("add " + "x" * 300, "too long"),
        ("add Foo owner=nobody-here", "No single team member"),
        ("add email=a@b.example", "can't be empty"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        assert await tx.customers.count() == 0


async def test_sql_looking_text_is_stored_literally(chat: Chat, store: Store) -> None:
    name = "Robert'); DROP TABLE customers;--"
    reply = await chat.say(f"add {name}")
    assert not reply.is_error
    async with store.read() as tx:
        (customer,) = [c async for c in tx.customers.iter_all()]
    assert customer.name == name


async def test_update_builtin_and_custom_fields(chat: Chat, store: Store, manager: Actor) -> None:
    await add_acme(chat)
    reply = await chat.say(
        "update acme phone=+1 555 0199 status=prospect industry=retail contract_end=2027-01-31"
    )
    assert not reply.is_error, reply.text
    assert "Phone: +15550199" in all_text(reply) and "Industry: retail" in all_text(reply)
    reply = await chat.say("update acme industry= owner=Dana")
    assert not reply.is_error, reply.text
    async with store.read() as tx:
        (c,) = [c async for c in tx.customers.iter_all()]
    assert c.custom == {"contract_end": "2027-01-31"}
    assert c.status == "prospect" and c.owner_rep_id == manager.rep_id
    # the index follows the update at once
    assert (await chat.say("find 555 0199")).title == "Acme Corp (#1)"


async def test_update_refusals(chat: Chat, store: Store) -> None:
    await add_acme(chat)
    await chat.say("add Globex email=hank@globex.example")
    for text, needle in [
        ("update acme", "Say what to change"),
        ("update acme email=broken", "not an email"),
        ("update globex email=ops@acme.example", "already belongs to Acme Corp"),
        ("update nobodyatall phone=+15550000000", "No customer matches"),
    ]:
        reply = await chat.say(text)
        assert reply.is_error and needle in reply.text, (text, reply.text)
    async with store.read() as tx:
        emails = sorted([c.email async for c in tx.customers.iter_all()])
    assert emails == ["hank@globex.example", "ops@acme.example"]


async def test_customer_cannot_use_staff_commands(router, customer: Actor, store: Store) -> None:
    chat = Chat(router, customer)
    for text in ("find acme", "add Evil Corp", "update #1 name=x", "show #1", "role @x admin"):
        reply = await chat.say(text)
        # customers' free text goes to their ticket flow; it never reaches staff handlers
        assert "Added" not in reply.text and "Customer" not in reply.title
    async with store.read() as tx:
        assert await tx.customers.count() == 1  # only the customer's own lead record


async def test_company_name_beats_its_contacts(chat: Chat) -> None:
    await chat.say("add Globex Corporation company=Globex Corporation email=info@globex.example")
    await chat.say("add Hank Scorpio company=Globex Corporation email=hank@globex.example")
    reply = await chat.say("show globex")
    assert reply.title == "Globex Corporation (#1)"
    assert (await chat.say("show hank")).title == "Hank Scorpio (#2)"
