"""CSAT: a customer rates a resolved ticket of their own once; a low rating reaches the team."""

from __future__ import annotations

from handlers import notify
from handlers.context import Context
from handlers.errors import Forbidden, NotFound, UserError
from handlers.messages import Reply
from handlers.parsing import id_in
from handlers.registry import Area, ButtonVerb


def _parse(value: str) -> tuple[int, int]:
    ticket_text, _, rating_text = value.partition("-")
    ticket_id = id_in(ticket_text, kind="ticket")
    if ticket_id is None or rating_text not in notify.CSAT_LABELS:
        raise UserError("That button is not one of mine.")
    return ticket_id, int(rating_text)


async def rate(ctx: Context) -> Reply:
    """The press of a rating button ``crm:csat:<ticket>-<rating>`` (customers only: the
    button's audience, checked by the router)."""
    customer_id = ctx.actor.customer_id
    if customer_id is None:
        raise Forbidden("Only the customer can rate their ticket.")
    ticket_id, rating = _parse(ctx.args)
    async with ctx.store.write(ctx.actor.key) as tx:
        ticket = await tx.tickets.get_for_customer(ticket_id, customer_id)
        stored = ticket is not None and await tx.tickets.set_csat(ticket_id, customer_id, rating)
        if ticket is not None and stored:
            await tx.feedback.add(customer_id=customer_id, ticket_id=ticket_id, rating=rating)
            if rating <= notify.LOW_RATING:
                low = notify.status_note(
                    f"Low rating: {rating}/5 from {ticket.customer_name} on this ticket."
                )
                await notify.to_support(
                    tx, ctx.services.settings, ticket_id, low, key=f"ticket:{ticket_id}:csat"
                )
    if ticket is None:
        raise NotFound(f"You have no ticket #{ticket_id}. /status lists yours.")
    if not stored:
        if ticket.csat_rating is None:
            return Reply(text=f"Ticket #{ticket_id} is open again; you can rate it once it is resolved.")
        return Reply(text=f"You already rated ticket #{ticket_id} — thank you!")
    return Reply(
        title=f"Ticket #{ticket_id}",
        text=f"Thank you! You rated our help {rating}/5." + (" We'll do better." if rating <= 2 else ""),
        replace_original=True,
    )


AREA = Area(buttons=(ButtonVerb("csat", "customer", press=rate),))
