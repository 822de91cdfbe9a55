"""Who is speaking: turn a platform user into an Actor, creating the rep or lead on first contact."""

from __future__ import annotations

from crm_store.store import Store
from handlers.cleaning import clean_input
from handlers.messages import Actor, Role


async def staff_actor(
    store: Store,
    *,
    platform: str,
    user_id: str,
    display_name: str,
    role: Role | None = None,
    timezone: str | None = None,
) -> Actor:
    """A team member; the first message creates the rep. ``role`` (from configuration or the
    console's --as) is applied when given; otherwise the stored role stands."""
    # Names and ids come from a platform profile or the command line: stored, so cleaned.
    user_id, display_name = clean_input(user_id), clean_input(display_name)
    key = f"{platform}:{user_id}"
    async with store.write(key) as tx:
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
    """A customer; someone unknown becomes a lead (source = platform) so no message is dropped."""
    # A Telegram name becomes the lead's name: stored, so cleaned like what they write.
    user_id, display_name = clean_input(user_id), clean_input(display_name)
    key = f"{platform}:{user_id}"
    async with store.write(key) as tx:
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
    return Actor(
        platform=platform,
        user_id=user_id,
        role="customer",
        display_name=display_name,
        customer_id=customer_id,
        timezone=timezone or (customer_record.timezone if customer_record else None) or "UTC",
    )
