"""Who is speaking: a newcomer is created once, someone known costs no write, and what is cached
follows changes: this process's at once, another process's within the cache's lifetime."""

from __future__ import annotations

import asyncio

from crm_store.speakers import SPEAKER_TTL_SECONDS, SpeakerCache
from crm_store.store import Store
from handlers.messages import Actor
from handlers.people import customer_actor, staff_actor
from handlers.router import Router
from tests.conftest import Chat, FakeClock, services_for
from tests.crm_store.test_speakers import FakeMonotonic
from tests.store_counter import counting


async def test_a_newcomer_is_created_with_the_profile_asked_once(store: Store) -> None:
    asked: list[str] = []

    async def profile() -> tuple[str, str | None]:
        asked.append("users.info")
        return "Sam Rivera", "Europe/Berlin"

    first = await staff_actor(store, platform="slack", user_id="U1", display_name="U1", profile=profile)
    again = await staff_actor(store, platform="slack", user_id="U1", display_name="U1", profile=profile)
    assert asked == ["users.info"]
    assert first == again
    assert (first.display_name, first.timezone, first.role) == ("Sam Rivera", "Europe/Berlin", "rep")


async def test_someone_known_costs_no_write(store: Store) -> None:
    await staff_actor(store, platform="slack", user_id="U1", display_name="Sam", role="manager")
    with counting(store) as counts:
        for _ in range(3):
            actor = await staff_actor(
                store, platform="slack", user_id="U1", display_name="Sam", role="manager"
            )
    assert actor.role == "manager"
    assert counts.writes == 0 and counts.reads <= 1


async def test_a_configured_role_or_a_new_zone_is_written_once(store: Store) -> None:
    await staff_actor(store, platform="slack", user_id="U1", display_name="Sam")
    with counting(store) as counts:
        promoted = await staff_actor(store, platform="slack", user_id="U1", display_name="Sam", role="admin")
        zoned = await staff_actor(
            store, platform="slack", user_id="U1", display_name="Sam", timezone="Asia/Tokyo"
        )
        await staff_actor(store, platform="slack", user_id="U1", display_name="Sam", role="admin")
    assert promoted.role == "admin" and (zoned.role, zoned.timezone) == ("admin", "Asia/Tokyo")
    assert counts.writes == 2
    async with store.read() as tx:
        rep = await tx.people.rep(promoted.rep_id or 0)
    assert rep is not None and (rep.role, rep.timezone) == ("admin", "Asia/Tokyo")


async def test_a_role_change_made_here_is_seen_at_once(
    router: Router, manager: Actor, rep: Actor, store: Store
) -> None:
    before = await staff_actor(store, platform="console", user_id="sam", display_name="Sam")
    assert before.role == "rep"  # cached now
    assert "is now manager" in (await Chat(router, manager).say("role sam manager")).text
    after = await staff_actor(store, platform="console", user_id="sam", display_name="Sam")
    assert after.role == "manager"
    # The promoted rep's next command runs with the new role.
    assert not (await Chat(router, after).say("report tickets 7")).is_error


async def test_a_role_changed_by_another_process_is_seen_within_the_cache_lifetime(
    store: Store, db_url: str, clock: FakeClock
) -> None:
    monotonic = FakeMonotonic()
    store.speakers = SpeakerCache(monotonic=monotonic)
    sam = await staff_actor(store, platform="console", user_id="sam", display_name="Sam")
    await staff_actor(store, platform="console", user_id="sam", display_name="Sam")  # read and kept
    other = Store.open(db_url, clock=clock)  # another replica, or `crm-bot console`
    try:
        async with other.write("console:ada") as tx:
            await tx.people.set_role(sam.rep_id or 0, "manager")
    finally:
        await other.close()
    monotonic.now += SPEAKER_TTL_SECONDS - 0.5
    assert (await staff_actor(store, platform="console", user_id="sam", display_name="Sam")).role == "rep"
    monotonic.now += 1
    assert (await staff_actor(store, platform="console", user_id="sam", display_name="Sam")).role == "manager"


async def test_a_known_customer_costs_no_write_and_an_erased_one_starts_afresh(
    store: Store, admin: Actor
) -> None:
    router = Router(services_for(store))
    carla = await customer_actor(store, platform="telegram", user_id="55", display_name="Carla")
    with counting(store) as counts:
        again = await customer_actor(store, platform="telegram", user_id="55", display_name="Carla")
    assert again.customer_id == carla.customer_id and counts.writes == 0
    ada = Chat(router, admin)
    question = await ada.say(f"erase #{carla.customer_id}")
    (press,) = [b.action for b in question.buttons if b.action.startswith("crm:erase:")]
    assert not (await ada.press(press)).is_error
    # The chat is no longer linked: the next message makes a new lead, never the erased record.
    fresh = await customer_actor(store, platform="telegram", user_id="55", display_name="Carla")
    assert fresh.customer_id not in (None, carla.customer_id)


async def test_a_staff_account_is_never_taken_for_a_customer(store: Store) -> None:
    await staff_actor(store, platform="telegram", user_id="900", display_name="Sam")
    for _ in range(2):  # also when the account is cached
        try:
            await customer_actor(store, platform="telegram", user_id="900", display_name="Sam")
        except PermissionError:
            continue
        raise AssertionError("a team member's account became a customer")


async def test_first_messages_at_once_through_two_replicas_make_one_rep_and_one_customer(
    store: Store, db_url: str, clock: FakeClock
) -> None:
    """Two replicas (on PostgreSQL their write transactions run side by side) each get a
    newcomer's first messages at the same moment: every one is answered, as one person."""
    other = Store.open(db_url, clock=clock)
    try:
        staff = await asyncio.gather(
            *(
                staff_actor(s, platform="slack", user_id=f"U{n}", display_name="New Rep")
                for n in range(5)
                for s in (store, other, store, other)
            )
        )
        customers = await asyncio.gather(
            *(
                customer_actor(s, platform="telegram", user_id=f"7{n}", display_name="New Customer")
                for n in range(5)
                for s in (store, other, store, other)
            )
        )
    finally:
        await other.close()
    assert len({a.rep_id for a in staff}) == 5 and None not in {a.rep_id for a in staff}
    assert len({a.customer_id for a in customers}) == 5 and None not in {a.customer_id for a in customers}
