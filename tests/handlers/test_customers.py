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
        ("add Foo owner=nobody-here", "No team member matches"),
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


async def _names(store: Store) -> list[str]:
    async with store.read() as tx:
        return [c.name async for c in tx.customers.iter_all()]


async def test_add_of_a_sentence_asks_and_offers_the_note_it_meant(chat: Chat, store: Store) -> None:
    await add_acme(chat)
    reply = await chat.say("add a note to acme: they want a discount")
    assert reply.title == "Did you mean…" and "reads like a sentence" in reply.text and "colon" in reply.text
    assert [b.label for b in reply.buttons] == [
        "log acme note: they want a discount",
        'add "a note to acme: they want a discount"',
    ]
    assert all(b.action.startswith("crm:run:") for b in reply.buttons)
    assert await _names(store) == ["Acme Corp"]
    async with store.read() as tx:
        assert await tx.interactions.all_in_range() == []
    logged = await chat.press(buttons(reply)[0])  # one press does it
    assert logged.text.startswith("Logged a note with Acme Corp (#1).")
    async with store.read() as tx:
        assert [i.text for i in await tx.interactions.for_customer(1)] == ["they want a discount"]
    assert await _names(store) == ["Acme Corp"]


async def test_add_of_a_new_lead_sentence_offers_the_fields_it_meant(chat: Chat, store: Store) -> None:
    reply = await chat.say("add a new lead: Jane Doe from Contoso, jane@contoso.example")
    assert reply.title == "Did you mean…"
    offered = [b.label for b in reply.buttons]
    assert offered[0] == "add Jane Doe company=Contoso email=jane@contoso.example"
    assert await _names(store) == []
    added = await chat.press(buttons(reply)[0])
    assert added.title == "Jane Doe (#1)", added.text
    async with store.read() as tx:
        jane = await tx.customers.get(1)
    assert jane is not None and (jane.company, jane.email) == ("Contoso", "jane@contoso.example")


async def test_names_that_read_as_sentences_are_never_added_without_asking(chat: Chat, store: Store) -> None:
    for text in (
        "add a note to acme: they want a discount",
        "add a new lead: Jane Doe from Contoso, jane@contoso.example",
        "add jane jane@contoso.example",
        "add call acme tomorrow",
        "add remind me to call acme tomorrow",
        "add me to the list",
        "add a new customer called Initech",
        "add the client for the renewal project we discussed last week",
        "add meeting with bob about pricing",
    ):
        reply = await chat.say(text)
        assert reply.title == "Did you mean…" and "reads like a sentence" in reply.text, text
        assert reply.buttons[-1].label.startswith('add "'), text
    assert await _names(store) == []


async def test_the_as_written_choice_and_quotes_and_force_add_the_name_literally(
    chat: Chat, store: Store
) -> None:
    reply = await chat.say("add Notes to Self: Journals email=hello@notes.example")
    assert await _names(store) == []
    literal = buttons(reply)[-1]
    assert "Added Notes to Self: Journals (#1)." in (await chat.press(literal)).text
    assert "Added Call me maybe (#2)." in (await chat.say('add "Call me maybe"')).text
    assert "Added A note: to self (#3)." in (await chat.say("add “A note: to self”")).text
    assert "Added remind me later (#4)." in (await chat.say("add remind me later --force")).text
    async with store.read() as tx:
        first = await tx.customers.get(1)
    assert first is not None and first.email == "hello@notes.example"


async def test_legitimate_names_are_added_at_once(chat: Chat, store: Store) -> None:
    names = [
        "Acme Corp",
        "Müller & Söhne GmbH",
        "O'Brien Consulting",
        "Dr. Jane Doe",
        "AT&T",
        "3M Company",
        "7-Eleven",
        "Studio 54 Records",
        "The Home Depot",
        "Bank of America",
        "Call Center Partners",
        "Toys R Us",
        "O’Neil & Sons",
        "bob li",
    ]
    for name in names:
        reply = await chat.say(f"add {name}")
        assert reply.text.startswith(f"Added {name} (#"), (name, reply.text)
    assert await _names(store) == names
