"""Data-subject requests about one customer: export everything as JSON, or erase it in one
transaction (GDPR Art. 15/20 and 17)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Select, Text, and_, cast, delete, false, func, or_, select, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.sql.elements import ColumnElement

from crm_store.privacy_match import ERASED, jsonable, mention_patterns, mentions_id, scrub, senders
from crm_store.privacy_scope import Subject, find_subject
from crm_store.repo import Repo
from crm_store.tables import (
    audit_log,
    chat_groups,
    conversations,
    customer_consents,
    customer_forecasts,
    customer_segments,
    customers,
    feedback,
    handled_messages,
    identities,
    inbox,
    interactions,
    link_tokens,
    loyalty_alerts,
    loyalty_scores,
    order_lines,
    orders,
    outbox,
    pending_actions,
    relationships,
    reminders,
    ticket_messages,
    tickets,
)
from crm_store.webhooks import erase_customer_deliveries

EXPORT_FORMAT = "crm-bot/contact-export"
EXPORT_VERSION = 1
_LINK_TOKEN_COLUMNS = [c for c in link_tokens.c if c.name != "token_hash"]  # a hash is a credential


def erased_name(customer_id: int) -> str:
    return f"Erased customer #{customer_id}"


def _count(result: CursorResult[Any]) -> int:
    return int(result.rowcount or 0)


class PrivacyRepo(Repo):
    # An erasure unlinks chat accounts (Store.write then refreshes its SpeakerCache).
    changed_people = False

    async def _rows(self, query: Select[Any]) -> list[dict[str, Any]]:
        return [jsonable(dict(r)) for r in (await self.conn.execute(query)).mappings().all()]

    async def _inbox_ids(self, s: Subject) -> list[int]:
        """Stored raw updates sent by their accounts (handled ones keep no payload to match)."""
        found: list[int] = []
        platforms = sorted({p for p, _ in s.chats})
        if not platforms:
            return found
        query = select(inbox.c.id, inbox.c.platform, inbox.c.payload).where(
            inbox.c.platform.in_(platforms), inbox.c.state != "done"
        )
        for row_id, platform, payload in await self.conn.execute(query):
            mine = {e for p, e in s.chats if p == platform}
            if mine & senders(payload or {}):
                found.append(int(row_id))
        return found

    def _inbox_keys(self, s: Subject) -> ColumnElement[bool]:
        """Updates whose dedupe key names their chat (kept after handling, to refuse repeats)."""
        return or_(
            false(),
            *(
                and_(inbox.c.platform == p, inbox.c.dedupe_key.startswith(f"{e}:", autoescape=True))
                for p, e in s.chats
            ),
        )

    async def _pending_ids(self, s: Subject) -> list[str]:
        """Pending confirmations and pick lists that are theirs or that name them."""
        contacts = [v.lower() for v in (s.email, s.phone) if v]
        query = select(pending_actions.c.token, pending_actions.c.actor_key, pending_actions.c.command).where(
            or_(
                pending_actions.c.actor_key.in_(s.actor_keys),
                *(
                    func.lower(pending_actions.c.command).contains(n, autoescape=True)
                    for n in (f"#{s.customer_id}", *contacts)
                ),
            )
        )
        found = []
        for token, actor_key, command in await self.conn.execute(query):
            text = str(command).lower()
            if (
                actor_key in s.actor_keys
                or mentions_id(text, s.customer_id)
                or any(n in text for n in contacts)
            ):
                found.append(str(token))
        return found

    # -- export ----------------------------------------------------------------------------------

    async def export_customer(self, customer_id: int, *, audited: bool = True) -> dict[str, Any]:
        """Everything stored about one customer, as JSON-ready data (datetimes in ISO 8601).
        Raises LookupError when there is no such record. The export itself is audited (not
        when it only previews what an erasure would touch)."""
        s = await find_subject(self.conn, customer_id)
        ids = s.customer_ids
        ticket_ids = s.tickets()
        data: dict[str, Any] = {
            "format": EXPORT_FORMAT,
            "version": EXPORT_VERSION,
            "exported_at": self.now.isoformat(),
            "customer_id": customer_id,
            "customer": (await self._rows(select(customers).where(customers.c.id == customer_id)))[0],
            "merged_records": await self._rows(
                select(customers).where(customers.c.id.in_(ids[1:])).order_by(customers.c.id)
            ),
            "identities": await self._rows(
                select(identities).where(identities.c.customer_id.in_(ids)).order_by(identities.c.id)
            ),
            "relationships": await self._rows(
                select(relationships)
                .where(
                    or_(relationships.c.from_customer_id.in_(ids), relationships.c.to_customer_id.in_(ids))
                )
                .order_by(relationships.c.id)
            ),
            "interactions": await self._by_customer(interactions, ids),
            "orders": await self._by_customer(orders, ids),
            "order_lines": await self._by_customer(order_lines, ids),
            "tickets": await self._by_customer(tickets, ids),
            # Their tickets' messages, and what they wrote on their company's (in its group chat).
            "ticket_messages": await self._rows(
                select(ticket_messages)
                .where(
                    or_(
                        ticket_messages.c.ticket_id.in_(ticket_ids),
                        ticket_messages.c.author_customer_id.in_(ids),
                    )
                )
                .order_by(ticket_messages.c.id)
            ),
            "chat_groups": await self._by_customer(chat_groups, ids),
            "feedback": await self._by_customer(feedback, ids),
            "customer_consents": await self._by_customer(customer_consents, ids),
            "reminders": await self._by_customer(reminders, ids),
            "loyalty_scores": await self._rows(
                select(loyalty_scores)
                .where(loyalty_scores.c.customer_id.in_(ids))
                .order_by(loyalty_scores.c.run_date)
            ),
            "loyalty_alerts": await self._rows(
                select(loyalty_alerts)
                .where(loyalty_alerts.c.customer_id.in_(ids))
                .order_by(loyalty_alerts.c.run_date)
            ),
            "customer_forecasts": await self._rows(
                select(customer_forecasts)
                .where(customer_forecasts.c.customer_id.in_(ids))
                .order_by(customer_forecasts.c.run_date)
            ),
            "customer_segments": await self._rows(
                select(customer_segments)
                .where(customer_segments.c.customer_id.in_(ids))
                .order_by(customer_segments.c.customer_id)
            ),
            "link_tokens": await self._rows(
                select(*_LINK_TOKEN_COLUMNS)
                .where(link_tokens.c.customer_id.in_(ids))
                .order_by(link_tokens.c.id)
            ),
            "outbox": await self._rows(select(outbox).where(s.outbox_rows()).order_by(outbox.c.id)),
            "conversations": await self._rows(
                select(conversations).where(conversations.c.actor_key.in_(s.actor_keys))
            ),
            "handled_messages": await self._rows(
                select(handled_messages)
                .where(handled_messages.c.actor_key.in_(s.actor_keys))
                .order_by(handled_messages.c.handled_at)
            ),
            "inbox": await self._rows(
                select(inbox)
                .where(or_(inbox.c.id.in_(await self._inbox_ids(s)), self._inbox_keys(s)))
                .order_by(inbox.c.id)
            ),
            "pending_actions": await self._rows(
                select(pending_actions).where(pending_actions.c.token.in_(await self._pending_ids(s)))
            ),
            "audit_log": await self._rows(select(audit_log).where(s.audit_rows()).order_by(audit_log.c.id)),
        }
        if audited:
            await self.audit.record("export", "customer", customer_id, records=export_size(data))
        json.dumps(data)  # fail here, not in the caller's hands, if anything is not JSON
        return data

    async def _by_customer(self, table: Any, ids: tuple[int, ...]) -> list[dict[str, Any]]:
        return await self._rows(select(table).where(table.c.customer_id.in_(ids)).order_by(table.c.id))

    # -- erasure ---------------------------------------------------------------------------------

    async def erase_customer(self, customer_id: int) -> dict[str, int]:
        """Erase one customer's personal data in the caller's transaction; returns counts per
        kind. Running it again on an erased record sweeps up anything that arrived since."""
        self.changed_people = True
        s = await find_subject(self.conn, customer_id)
        ids = s.customer_ids
        counts: dict[str, int] = {}
        # First, while the rows that lead to them still exist: audit entries keep their ids,
        # action and time only, and their own actions are no longer signed with their account.
        counts["audit_stubbed"] = _count(
            await self.conn.execute(update(audit_log).where(s.audit_rows()).values(detail={}))
        )
        await self.conn.execute(
            update(audit_log)
            .where(audit_log.c.actor.in_(s.actor_keys))
            .values(actor=f"erased-customer:{customer_id}")
        )
        counts.update(await self._erase_pushes(s))
        counts["pending_actions"] = _count(
            await self.conn.execute(
                delete(pending_actions).where(pending_actions.c.token.in_(await self._pending_ids(s)))
            )
        )
        counts["conversations"] = _count(
            await self.conn.execute(delete(conversations).where(conversations.c.actor_key.in_(s.actor_keys)))
        )
        # The answers kept for repeated messages quote what was said.
        counts["handled_messages"] = _count(
            await self.conn.execute(
                delete(handled_messages).where(handled_messages.c.actor_key.in_(s.actor_keys))
            )
        )
        counts["inbox"] = _count(
            await self.conn.execute(delete(inbox).where(inbox.c.id.in_(await self._inbox_ids(s))))
        )
        # Handled ones keep their update_id, which names nobody, to go on refusing a repeat.
        counts["inbox_keys"] = _count(
            await self.conn.execute(update(inbox).where(self._inbox_keys(s)).values(dedupe_key=None))
        )
        counts["identities"] = _count(
            await self.conn.execute(delete(identities).where(identities.c.customer_id.in_(ids)))
        )
        counts["link_tokens"] = _count(
            await self.conn.execute(delete(link_tokens).where(link_tokens.c.customer_id.in_(ids)))
        )
        counts["relationships"] = _count(
            await self.conn.execute(
                delete(relationships).where(
                    or_(relationships.c.from_customer_id.in_(ids), relationships.c.to_customer_id.in_(ids))
                )
            )
        )
        # Scores are profiling about the person: gone, not kept as history.
        counts["loyalty_scores"] = _count(
            await self.conn.execute(delete(loyalty_scores).where(loyalty_scores.c.customer_id.in_(ids)))
        )
        counts["loyalty_alerts"] = _count(
            await self.conn.execute(delete(loyalty_alerts).where(loyalty_alerts.c.customer_id.in_(ids)))
        )
        counts["customer_forecasts"] = _count(
            await self.conn.execute(
                delete(customer_forecasts).where(customer_forecasts.c.customer_id.in_(ids))
            )
        )
        counts["customer_segments"] = _count(
            await self.conn.execute(
                delete(customer_segments).where(customer_segments.c.customer_id.in_(ids))
            )
        )
        # When and how they said stop or subscribe: about them, so gone with them.
        counts["customer_consents"] = _count(
            await self.conn.execute(delete(customer_consents).where(customer_consents.c.customer_id.in_(ids)))
        )
        # Webhook events about them quote their details (sent ones too: they are kept to list).
        counts["webhook_deliveries"] = await erase_customer_deliveries(self.conn, ids)
        # Every reminder about them: a pending one would push their name to a rep tomorrow.
        counts["reminders"] = _count(
            await self.conn.execute(delete(reminders).where(reminders.c.customer_id.in_(ids)))
        )
        counts.update(await self._erase_texts(s))
        for record_id in ids:
            await self.conn.execute(
                update(customers)
                .where(customers.c.id == record_id)
                .values(
                    name=erased_name(record_id),
                    company="",
                    email="",
                    phone="",
                    tags=[],
                    custom={},
                    timezone=None,
                    quiet_hours=None,
                    external_ref=None,  # the shop's customer number identifies them too
                    country="",
                    owner_rep_id=None,  # nobody is alerted about a stub
                    status="erased",
                    deleted_at=func.coalesce(customers.c.deleted_at, self.now),
                    erased_at=self.now,
                    updated_at=self.now,  # other replicas' lookup indexes drop it by this watermark
                )
            )
        counts["customers"] = len(ids)
        await self.audit.record("erase", "customer", customer_id, **counts)
        return counts

    async def _erase_texts(self, s: Subject) -> dict[str, int]:
        """What they said and what was written about them; the rows stay for the figures."""
        ids = s.customer_ids
        ticket_ids = s.tickets()
        c = self.conn
        return {
            "interactions": _count(
                await c.execute(
                    update(interactions).where(interactions.c.customer_id.in_(ids)).values(text=ERASED)
                )
            ),
            "ticket_messages": _count(
                await c.execute(
                    update(ticket_messages)
                    .where(
                        or_(
                            ticket_messages.c.ticket_id.in_(ticket_ids),
                            ticket_messages.c.author_customer_id.in_(ids),
                        )
                    )
                    .values(text=ERASED, attachments=[])
                )
            ),
            # Their group chats are unlinked: nothing said there reaches the CRM any more.
            "group_chats_unlinked": _count(
                await c.execute(
                    update(chat_groups)
                    .where(chat_groups.c.customer_id.in_(ids), chat_groups.c.unlinked_at.is_(None))
                    .values(unlinked_at=self.now)
                )
            ),
            # Open tickets are closed: nobody can answer a person the CRM no longer knows.
            "tickets_closed": _count(
                await c.execute(
                    update(tickets)
                    .where(tickets.c.customer_id.in_(ids), tickets.c.status != "resolved")
                    .values(status="resolved", resolved_at=self.now, updated_at=self.now)
                )
            ),
            "tickets": _count(
                await c.execute(update(tickets).where(tickets.c.customer_id.in_(ids)).values(subject=ERASED))
            ),
            "feedback": _count(
                await c.execute(update(feedback).where(feedback.c.customer_id.in_(ids)).values(text=ERASED))
            ),
            # Retention: orders stay for accounting (amount, currency, date, external reference),
            # tied only to the anonymous stub; the free-text note goes.
            "orders_kept": _count(
                await c.execute(update(orders).where(orders.c.customer_id.in_(ids)).values(note=""))
            ),
        }

    async def _erase_pushes(self, s: Subject) -> dict[str, int]:
        """Pushes to their chats go, sent or not (the row names the chat). Other pushes about
        them (their tickets' threads, reminders and alerts to reps) go unless sent; sent ones
        keep only their delivery record and key, so nothing is sent twice. Pushes to others
        that quote their email, phone or ``name (#id)`` (a digest) are blanked where they do."""
        c = self.conn
        to_them = s.chat_rows(outbox.c.platform, outbox.c.target)
        dropped = _count(await c.execute(delete(outbox).where(to_them)))
        dropped += _count(await c.execute(delete(outbox).where(s.outbox_rows(), outbox.c.state != "sent")))
        emptied = _count(
            await c.execute(
                update(outbox).where(s.outbox_rows(), outbox.c.state == "sent").values(payload={})
            )
        )
        text = func.lower(cast(outbox.c.payload, Text))

        def has(value: str) -> ColumnElement[bool]:
            # JSON text may hold the value as written or with non-ASCII escaped.
            forms = {value.lower(), json.dumps(value)[1:-1].lower()}
            return or_(*(text.contains(f, autoescape=True) for f in forms))

        # A second run has only the stub's name, which is nobody's.
        name = "" if s.name == erased_name(s.customer_id) else s.name
        quoted = [has(v) for v in (s.email, s.phone) if v]
        if name:
            quoted.append(and_(has(f"#{s.customer_id}"), has(name)))
        query = select(outbox.c.id, outbox.c.payload).where(or_(*quoted)) if quoted else None
        rows = (await c.execute(query)).all() if query is not None else []
        scrubbed = 0
        for row_id, payload in rows:
            patterns = mention_patterns(
                email=s.email, phone=s.phone, name=name, customer_id=s.customer_id, text=json.dumps(payload)
            )
            cleaned = scrub(payload, patterns)
            if cleaned != payload:
                await c.execute(update(outbox).where(outbox.c.id == row_id).values(payload=cleaned))
                scrubbed += 1
        return {"outbox_dropped": dropped, "outbox_emptied": emptied, "outbox_scrubbed": scrubbed}


def export_size(data: dict[str, Any]) -> int:
    """How many records an export holds (the customer and every row listed under it)."""
    return 1 + sum(len(v) for v in data.values() if isinstance(v, list))
