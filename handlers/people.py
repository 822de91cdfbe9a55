"""Who is speaking: turn a platform user into an Actor, creating the rep or lead on first contact."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from crm_store.records import RepRecord
from crm_store.store import Store
from handlers.cleaning import clean_input
from handlers.messages import Actor, Role

# A new team member's (display name, time zone), asked of the platform only on first contact.
Profile = Callable[[], Awaitable[tuple[str, str | None]]]


async def staff_actor(
    store: Store,
    *,
    platform: str,
    user_id: str,
    display_name: str,
    role: Role | None = None,
    timezone: str | None = None,
    profile: Profile | None = None,
) -> Actor:
    """A team member; the first message creates the rep. ``role`` (from configuration or the
    console's --as) is applied when given; otherwise the stored role stands. Someone known
    whose role and zone are as given costs no write (and, seen lately, no read either);
    ``profile`` gives a newcomer's name and zone, and is asked only for a newcomer."""
    # Names and ids come from a platform profile or the command line: stored, so cleaned.
    user_id, display_name = clean_input(user_id), clean_input(display_name)
    known = await store.speaker(platform, user_id)
    rep = known.rep if known is not None else None
    if rep is not None and _rep_is_current(rep, role=role, timezone=timezone):
        return _staff(platform, user_id, rep=rep, timezone=timezone)
    if known is None and profile is not None:
        named, zone = await profile()
        display_name, timezone = clean_input(named) or display_name, timezone or zone
    key = f"{platform}:{user_id}"
    async with store.write(key) as tx:
        await tx.people.lock_identity(platform, user_id)
        identity = await tx.people.identity(platform, user_id)
        rep = None
        if identity is not None and identity.rep_id is not None:
            rep = await tx.people.rep(identity.rep_id)
        if rep is None:
            rep = await tx.people.add_rep(
                display_name=display_name or user_id,
                role=role or "rep",
                timezone=timezone,
                platform=platform,
                external_id=user_id,
            )
        elif role is not None and role != "customer" and rep.role != role:
            rep = await tx.people.set_role(rep.id, role)
        if timezone and rep.timezone != timezone:
            await tx.people.set_rep_timezone(rep.id, timezone)
    return _staff(platform, user_id, rep=rep, timezone=timezone)


def _rep_is_current(rep: RepRecord, *, role: Role | None, timezone: str | None) -> bool:
    """Nothing to write: the stored role and zone are the ones given (or none is given)."""
    role_holds = role is None or role == "customer" or rep.role == role
    return role_holds and (not timezone or rep.timezone == timezone)


def _staff(platform: str, user_id: str, *, rep: RepRecord, timezone: str | None) -> Actor:
    return Actor(
        platform=platform,
        user_id=user_id,
        role=rep.role,  # type: ignore[arg-type]
        display_name=rep.display_name,
        rep_id=rep.id,
        timezone=timezone or rep.timezone or "UTC",
    )


async def customer_actor(
    store: Store, *, platform: str, user_id: str, display_name: str, timezone: str | None = None
) -> Actor:
    """A customer; someone unknown becomes a lead (source = platform) so no message is dropped.
    Someone known costs no write (and, seen lately, no read either)."""
    # A Telegram name becomes the lead's name: stored, so cleaned like what they write.
    user_id, display_name = clean_input(user_id), clean_input(display_name)
    known = await store.speaker(platform, user_id)
    if known is not None and known.identity.rep_id is not None:
        raise PermissionError("this account belongs to a team member")
    if known is not None and known.identity.customer_id is not None:
        if known.identity.blocked:
            # They write to the bot again, so they unblocked it: reachable from now on.
            async with store.write(f"{platform}:{user_id}") as tx:
                await tx.consents.mark_unblocked(platform, user_id)
        return _customer(
            platform,
            user_id,
            display_name=display_name,
            customer_id=known.identity.customer_id,
            timezone=timezone or known.customer_timezone,
        )
    key = f"{platform}:{user_id}"
    async with store.write(key) as tx:
        await tx.people.lock_identity(platform, user_id)
        identity = await tx.people.identity(platform, user_id)
        if identity is not None and identity.rep_id is not None:
            raise PermissionError("this account belongs to a team member")
        if identity is not None and identity.customer_id is not None:
            customer_id = identity.customer_id
        else:
            customer = await tx.customers.add(
                name=display_name or f"{platform} user {user_id}",
                status="lead",
                source=platform,
                timezone=timezone,
            )
            await tx.people.link_customer(
                platform=platform,
                external_id=user_id,
                customer_id=customer.id,
                display_name=display_name,
            )
            customer_id = customer.id
        customer_record = await tx.customers.get(customer_id)
    return _customer(
        platform,
        user_id,
        display_name=display_name,
        customer_id=customer_id,
        timezone=timezone or (customer_record.timezone if customer_record else None),
    )


def _customer(
    platform: str, user_id: str, *, display_name: str, customer_id: int, timezone: str | None
) -> Actor:
    return Actor(
        platform=platform,
        user_id=user_id,
        role="customer",
        display_name=display_name,
        customer_id=customer_id,
        timezone=timezone or "UTC",
    )
