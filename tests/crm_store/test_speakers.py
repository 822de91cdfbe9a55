"""The speaker cache: entries expire, a change to people committed in this process voids them at
once (also an answer being read meanwhile), and the cache stays small."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_store.records import IdentityRecord, RepRecord
from crm_store.speakers import Speaker, SpeakerCache
from crm_store.store import Store

T0 = datetime(2026, 11, 23, tzinfo=UTC)


class FakeMonotonic:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def _speaker(user: str, role: str = "rep") -> Speaker:
    identity = IdentityRecord(
        id=1, platform="slack", external_id=user, rep_id=7, customer_id=None, display_name=user
    )
    return Speaker(identity=identity, rep=RepRecord(7, user, role, None, T0), customer_timezone=None)


def test_an_entry_lives_for_the_ttl() -> None:
    clock = FakeMonotonic()
    cache = SpeakerCache(ttl=5, monotonic=clock)
    cache.put(_speaker("U1"), version=cache.version)
    clock.now += 4.9
    assert cache.get("slack", "U1") == _speaker("U1")
    clock.now += 0.2
    assert cache.get("slack", "U1") is None


def test_a_change_voids_every_entry_and_any_answer_read_before_it() -> None:
    cache = SpeakerCache(ttl=60, monotonic=FakeMonotonic())
    cache.put(_speaker("U1"), version=cache.version)
    read_at = cache.version  # a second reader starts reading U2 ...
    cache.changed()  # ... a role change commits meanwhile ...
    cache.put(_speaker("U2"), version=read_at)  # ... and its (maybe old) answer is not kept
    assert cache.get("slack", "U1") is None and cache.get("slack", "U2") is None
    cache.put(_speaker("U2", "manager"), version=cache.version)
    assert cache.get("slack", "U2") == _speaker("U2", "manager")


def test_the_least_recently_used_goes_first_when_full() -> None:
    cache = SpeakerCache(ttl=60, size=2, monotonic=FakeMonotonic())
    for user in ("U1", "U2"):
        cache.put(_speaker(user), version=cache.version)
    assert cache.get("slack", "U1") is not None  # U2 is now the least recently used
    cache.put(_speaker("U3"), version=cache.version)
    assert cache.get("slack", "U2") is None
    assert cache.get("slack", "U1") is not None and cache.get("slack", "U3") is not None


def test_a_ttl_of_zero_keeps_nothing() -> None:
    cache = SpeakerCache(ttl=0)
    cache.put(_speaker("U1"), version=cache.version)
    assert cache.get("slack", "U1") is None


async def test_the_store_answers_from_one_query_and_then_from_the_cache(store: Store) -> None:
    async with store.write("test") as tx:
        rep = await tx.people.add_rep(display_name="Sam", role="manager", platform="slack", external_id="U1")
        customer = await tx.customers.add(name="Carla", timezone="Europe/Berlin")
        await tx.people.link_customer(platform="telegram", external_id="55", customer_id=customer.id)
    staff = await store.speaker("slack", "U1")
    assert staff is not None and staff.rep == rep and staff.identity.rep_id == rep.id
    client = await store.speaker("telegram", "55")
    assert client is not None and client.rep is None and client.customer_timezone == "Europe/Berlin"
    assert await store.speaker("slack", "nobody") is None
    assert store.speakers.get("slack", "U1") == staff  # kept for the next message


async def test_committed_people_changes_void_the_cache_and_rolled_back_ones_do_not(store: Store) -> None:
    async with store.write("test") as tx:
        rep = await tx.people.add_rep(display_name="Sam", platform="slack", external_id="U1")
    await store.speaker("slack", "U1")
    try:
        async with store.write("test") as tx:
            await tx.people.set_role(rep.id, "admin")
            raise RuntimeError("rolled back")
    except RuntimeError:
        pass
    assert store.speakers.get("slack", "U1") is not None  # nothing changed
    async with store.write("test") as tx:
        await tx.people.set_role(rep.id, "manager")
    assert store.speakers.get("slack", "U1") is None
    found = await store.speaker("slack", "U1")
    assert found is not None and found.rep is not None and found.rep.role == "manager"
