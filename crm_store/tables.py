"""SQLAlchemy Core table definitions: the single source of the schema (Alembic diffs against it)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from crm_store.types import UtcDateTime

# Deterministic constraint names keep Alembic migrations identical on SQLite and PostgreSQL.
metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# SQLite gives INTEGER PRIMARY KEY autoincrement only for plain INTEGER; BigInteger elsewhere.
Id = BigInteger().with_variant(Integer(), "sqlite")


def _ts(name: str, *, nullable: bool = True, index: bool = False) -> Column[datetime]:
    return Column(name, UtcDateTime(), nullable=nullable, index=index)


reps = Table(
    "reps",
    metadata,
    Column("id", Id, primary_key=True),
    Column("display_name", String(200), nullable=False),
    Column("role", String(16), nullable=False, server_default="rep"),
    Column("timezone", String(64), nullable=True),
    _ts("created_at", nullable=False),
    CheckConstraint("role IN ('rep', 'manager', 'admin')", name="role"),
)

customers = Table(
    "customers",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("company", String(200), nullable=False, server_default=""),
    Column("email", String(254), nullable=False, server_default=""),
    Column("phone", String(32), nullable=False, server_default=""),
    Column("owner_rep_id", Id, ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("status", String(16), nullable=False, server_default="active"),
    Column("source", String(32), nullable=False, server_default="manual"),
    Column("tags", JSON, nullable=False, default=list),
    Column("custom", JSON, nullable=False, default=dict),
    Column("timezone", String(64), nullable=True),
    # The customer's own quiet hours ("22:00-08:00", local to ``timezone``), over CRM_QUIET_HOURS.
    Column("quiet_hours", String(11), nullable=True),
    # The customer's id in the shop or ERP the book is kept in step with (imports, the API).
    Column("external_ref", String(64), nullable=True),
    Column("country", String(64), nullable=False, server_default=""),
    _ts("created_at", nullable=False),
    # Indexed so other replicas (and the in-memory index) can follow changes by watermark.
    _ts("updated_at", nullable=False, index=True),
    _ts("deleted_at"),
    # Set by a GDPR erasure (crm_store.privacy): the row stays as an anonymous stub so kept
    # orders and ticket figures still add up.
    _ts("erased_at"),
    Index("ix_customers_email", "email"),
    Index("ix_customers_phone", "phone"),
    Index("ix_customers_owner_rep_id", "owner_rep_id"),
    UniqueConstraint("external_ref"),
)

relationships = Table(
    "relationships",
    metadata,
    Column("id", Id, primary_key=True),
    Column("from_customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("to_customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String(32), nullable=False),
    _ts("starts_at"),
    _ts("ends_at"),
    _ts("created_at", nullable=False),
    Index("ix_relationships_from", "from_customer_id"),
    Index("ix_relationships_to", "to_customer_id"),
)

identities = Table(
    "identities",
    metadata,
    Column("id", Id, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("external_id", String(64), nullable=False),
    Column("rep_id", Id, ForeignKey("reps.id", ondelete="CASCADE"), nullable=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=True),
    Column("display_name", String(200), nullable=False, server_default=""),
    _ts("created_at", nullable=False),
    # Set when the platform said this chat blocked the bot (Telegram 403): unreachable, not
    # retried, until the person writes to the bot again.
    _ts("blocked_at"),
    UniqueConstraint("platform", "external_id"),
    CheckConstraint("(rep_id IS NULL) <> (customer_id IS NULL)", name="one_person"),
)

interactions = Table(
    "interactions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("rep_id", Id, ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("channel", String(16), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("direction", String(8), nullable=False, server_default="out"),
    Column("text", Text, nullable=False),
    Column("sentiment_label", String(8), nullable=True),
    Column("sentiment_score", Float, nullable=True),
    _ts("occurred_at", nullable=False),
    _ts("created_at", nullable=False),
    Index("ix_interactions_customer_occurred", "customer_id", "occurred_at"),
    CheckConstraint("kind IN ('call', 'email', 'meeting', 'note', 'message')", name="kind"),
)

orders = Table(
    "orders",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("rep_id", Id, ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    # Integer cents: exact money on both backends, and cheap to aggregate in bulk.
    Column("amount_cents", BigInteger, nullable=False),
    Column("currency", String(3), nullable=False, server_default="USD"),
    Column("note", Text, nullable=False, server_default=""),
    Column("external_ref", String(64), nullable=True),
    _ts("ordered_at", nullable=False),
    _ts("created_at", nullable=False),
    Index("ix_orders_customer_ordered", "customer_id", "ordered_at"),
    UniqueConstraint("external_ref"),
)

products = Table(
    "products",
    metadata,
    Column("id", Id, primary_key=True),
    Column("sku", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("category", String(100), nullable=False, server_default=""),
    # List price in integer cents; NULL when only sold at prices seen on order lines.
    Column("price_cents", BigInteger, nullable=True),
    Column("currency", String(3), nullable=False, server_default="USD"),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    UniqueConstraint("sku"),
    Index("ix_products_name", "name"),
)

# One product on one order. customer_id and ordered_at repeat the order's so the customer x
# product matrix (segments, recommendations) is one scan of one table. A negative quantity is a
# return (a cancelled invoice line).
order_lines = Table(
    "order_lines",
    metadata,
    Column("id", Id, primary_key=True),
    Column("order_id", Id, ForeignKey("orders.id", ondelete="CASCADE"), nullable=False),
    Column("product_id", Id, ForeignKey("products.id", ondelete="RESTRICT"), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("unit_price_cents", BigInteger, nullable=False),
    # quantity x unit price, kept so sums need no arithmetic in SQL.
    Column("line_cents", BigInteger, nullable=False),
    _ts("ordered_at", nullable=False),
    Index("ix_order_lines_order_id", "order_id"),
    Index("ix_order_lines_product_id", "product_id"),
    Index("ix_order_lines_customer_product", "customer_id", "product_id"),
)

# Group chats (a company's Telegram group) and the company each is linked to. A group is no
# person, so not an identity: its members are, each as a contact of the company. A row with no
# customer is a group the bot told once how to link it (nothing it said there is kept).
chat_groups = Table(
    "chat_groups",
    metadata,
    Column("id", Id, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("chat_id", String(64), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=True),
    Column("linked_by", String(96), nullable=True),
    _ts("linked_at"),
    _ts("unlinked_at"),
    _ts("hinted_at"),
    _ts("created_at", nullable=False),
    UniqueConstraint("platform", "chat_id"),
    Index("ix_chat_groups_customer", "customer_id"),
)

tickets = Table(
    "tickets",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),
    Column("priority", String(8), nullable=False, server_default="normal"),
    Column("assignee_rep_id", Id, ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("source", String(16), nullable=False, server_default="console"),
    Column("csat_rating", Integer, nullable=True),
    _ts("created_at", nullable=False),
    _ts("updated_at", nullable=False),
    _ts("first_response_at"),
    _ts("resolved_at"),
    # SLA: when each warning went out, and when (and which deadline) the ticket breached.
    _ts("sla_first_warned_at"),
    _ts("sla_resolve_warned_at"),
    _ts("breached_at"),
    Column("breach_kind", String(16), nullable=True),
    # A company ticket worked in its Telegram group: answers go there, threaded on the customer's
    # last message in it (its Telegram message id).
    Column("chat_group_id", Id, ForeignKey("chat_groups.id", ondelete="SET NULL"), nullable=True),
    Column("group_message_id", String(64), nullable=True),
    Index("ix_tickets_status", "status"),
    Index("ix_tickets_customer", "customer_id"),
    Index("ix_tickets_assignee", "assignee_rep_id"),
    Index("ix_tickets_updated", "updated_at", "id"),
    CheckConstraint("status IN ('open', 'pending', 'resolved')", name="status"),
    CheckConstraint("priority IN ('low', 'normal', 'high', 'urgent')", name="priority"),
)

ticket_messages = Table(
    "ticket_messages",
    metadata,
    Column("id", Id, primary_key=True),
    Column("ticket_id", Id, ForeignKey("tickets.id", ondelete="CASCADE"), nullable=False),
    Column("author_kind", String(8), nullable=False),
    Column("author_rep_id", Id, ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    Column("text", Text, nullable=False),
    Column("attachments", JSON, nullable=False, default=list),
    Column("sentiment_label", String(8), nullable=True),
    Column("sentiment_score", Float, nullable=True),
    # Which contact wrote a customer message (in a company's group chat, one of many people).
    Column("author_customer_id", Id, ForeignKey("customers.id", ondelete="SET NULL"), nullable=True),
    _ts("created_at", nullable=False),
    Index("ix_ticket_messages_ticket", "ticket_id", "id"),
    CheckConstraint("author_kind IN ('customer', 'rep', 'system')", name="author_kind"),
)

feedback = Table(
    "feedback",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("ticket_id", Id, ForeignKey("tickets.id", ondelete="SET NULL"), nullable=True),
    Column("text", Text, nullable=False, server_default=""),
    Column("rating", Integer, nullable=True),
    Column("sentiment_label", String(8), nullable=True),
    Column("sentiment_score", Float, nullable=True),
    _ts("created_at", nullable=False),
    Index("ix_feedback_customer", "customer_id", "created_at"),
)

reminders = Table(
    "reminders",
    metadata,
    Column("id", Id, primary_key=True),
    Column("rep_id", Id, ForeignKey("reps.id", ondelete="CASCADE"), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=True),
    Column("text", Text, nullable=False),
    _ts("due_at", nullable=False),
    Column("status", String(8), nullable=False, server_default="pending"),
    _ts("created_at", nullable=False),
    _ts("done_at"),
    Index("ix_reminders_status_due", "status", "due_at"),
    Index("ix_reminders_rep", "rep_id", "status"),
    Index("ix_reminders_customer", "customer_id", "status"),
    CheckConstraint("status IN ('pending', 'sent', 'done')", name="status"),
)

# Confirmations and pick lists: a button carries only this row's opaque token, never data.
pending_actions = Table(
    "pending_actions",
    metadata,
    Column("token", String(24), primary_key=True),
    Column("actor_key", String(96), nullable=False),
    Column("command", Text, nullable=False),
    Column("label", String(200), nullable=False, server_default=""),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False, index=True),
)

audit_log = Table(
    "audit_log",
    metadata,
    Column("id", Id, primary_key=True),
    Column("actor", String(96), nullable=False),
    Column("action", String(32), nullable=False),
    Column("entity", String(32), nullable=False),
    Column("entity_id", String(32), nullable=True),
    Column("detail", JSON, nullable=False, default=dict),
    _ts("at", nullable=False, index=True),
    Index("ix_audit_log_entity", "entity", "entity_id"),
)

# Idempotency for incoming platform events (Slack event_id, a Slack request's signature, ...): a
# delivery holds its event while it answers (lease_until), and a retry of an answered one stops.
processed_events = Table(
    "processed_events",
    metadata,
    Column("id", Id, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("event_id", String(128), nullable=False),
    _ts("received_at", nullable=False, index=True),
    _ts("lease_until"),  # a delivery is answering it until then (it renews while it works)
    _ts("answered_at"),  # None until answered: a retry then takes it over once the lease lapses
    UniqueConstraint("platform", "event_id"),
)

# Messages whose handling has written something: the first write transaction of a handler run
# claims the message's ref, so a run repeated after a crash (the inbox re-delivers what was not
# marked done) changes nothing twice; the reply is kept to answer the repeat with.
handled_messages = Table(
    "handled_messages",
    metadata,
    Column("ref", String(96), primary_key=True),  # platform:update id
    Column("actor_key", String(96), nullable=False),  # whose message (erasure finds it by this)
    Column("reply", JSON, nullable=True),  # None until the run has finished
    _ts("handled_at", nullable=False, index=True),
)

# Every push that is not the direct answer to an incoming message: a row here, written in the
# transaction that decided it, then claimed and sent by bot.delivery.
outbox = Table(
    "outbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("target", String(64), nullable=False),  # chat, channel or user id on that platform
    Column("thread", String(64), nullable=True),  # a known thread (Slack ts) to post into
    # The conversation a row belongs to ("ticket:12"): sent into that conversation's thread once
    # one exists (outbox_threads), else top-level, and then its message starts the thread.
    Column("thread_key", String(64), nullable=True),
    Column("payload", JSON, nullable=False),  # handlers.messages.reply_to_dict
    Column("idempotency_key", String(200), nullable=False),
    # Claimed lowest first: 0 the conversation (ticket replies), 1 notices (the default), 2 bulk
    # (campaigns), so a campaign never holds up a support reply.
    Column("priority", Integer, nullable=False, server_default="1"),
    Column("state", String(8), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _ts("next_attempt_at", nullable=False),
    _ts("lease_until"),
    Column("sent_message_id", String(64), nullable=True),
    # The dispatcher holding the claim: it renews the short lease while it sends, and only it
    # may record the outcome (a replica that stalled past its lease finds the row taken).
    Column("lease_owner", String(64), nullable=True),
    Column("last_error", String(200), nullable=True),
    _ts("created_at", nullable=False),
    _ts("sent_at"),
    UniqueConstraint("idempotency_key"),
    Index("ix_outbox_state_next", "state", "next_attempt_at"),
    Index("ix_outbox_due_priority", "state", "priority", "next_attempt_at"),
    Index("ix_outbox_chat", "platform", "target", "state"),
    CheckConstraint("state IN ('pending', 'sending', 'sent', 'failed')", name="state"),
)

# Where a conversation's thread lives on a platform (a ticket's first post in the support channel).
outbox_threads = Table(
    "outbox_threads",
    metadata,
    Column("thread_key", String(64), primary_key=True),
    Column("platform", String(16), primary_key=True),
    Column("target", String(64), nullable=False),
    Column("thread_id", String(64), nullable=False),
    _ts("created_at", nullable=False),
    Index("ix_outbox_threads_message", "platform", "target", "thread_id"),
)

# One-time invite links: only a hash is kept, so a leaked database links nobody.
link_tokens = Table(
    "link_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("token_hash", String(64), nullable=False),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("created_by", String(96), nullable=False, server_default=""),
    _ts("created_at", nullable=False),
    _ts("expires_at", nullable=False),
    _ts("used_at"),
    Column("used_by", String(96), nullable=True),
    # "chat" links a person's private chat, "group" a company's group chat: neither redeems the other.
    Column("purpose", String(8), nullable=False, server_default="chat"),
    UniqueConstraint("token_hash"),
    Index("ix_link_tokens_customer", "customer_id"),
)

# Multi-step conversations (the guided /ticket): one row per actor, so whichever replica gets the
# next message continues where the last one stopped.
conversations = Table(
    "conversations",
    metadata,
    Column("actor_key", String(96), primary_key=True),
    Column("flow", String(32), nullable=False),
    Column("step", String(32), nullable=False),
    Column("data", JSON, nullable=False, default=dict),
    _ts("updated_at", nullable=False),
    _ts("expires_at", nullable=False, index=True),
)

# Raw incoming updates, stored before the platform is told they arrived (a Telegram getUpdates
# offset, a webhook's HTTP 200), then handled and marked done; a crash in between loses nothing.
inbox = Table(
    "inbox",
    metadata,
    Column("id", Id, primary_key=True),
    Column("platform", String(16), nullable=False),
    Column("event_id", String(128), nullable=False),  # Telegram's update_id
    # The message or press itself ("<chat>:message:<message_id>"): Telegram may hand the same one
    # out again under a new update_id (after a webhook reset), and it must not count twice.
    Column("dedupe_key", String(128), nullable=True),
    Column("payload", JSON, nullable=False),  # emptied once done: the handled data lives elsewhere
    Column("state", String(8), nullable=False, server_default="pending"),
    Column("attempts", Integer, nullable=False, server_default="0"),
    _ts("next_attempt_at", nullable=False),
    _ts("lease_until"),
    Column("last_error", String(200), nullable=True),
    _ts("received_at", nullable=False),
    _ts("done_at"),
    UniqueConstraint("platform", "event_id"),
    UniqueConstraint("platform", "dedupe_key"),
    Index("ix_inbox_state_next", "state", "next_attempt_at"),
    CheckConstraint("state IN ('pending', 'working', 'done', 'failed')", name="state"),
)

# Named leases ("telegram-poller"): the one replica holding an unexpired row does that job.
leases = Table(
    "leases",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("holder", String(96), nullable=False),
    _ts("expires_at", nullable=False),
    _ts("acquired_at", nullable=False),
)

# One row per customer per loyalty run (history): the score, churn risk and the figures behind
# them, so an alert can say why and the next run can see the drop.
loyalty_scores = Table(
    "loyalty_scores",
    metadata,
    Column("run_date", String(10), primary_key=True),  # the run's UTC date, YYYY-MM-DD
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("score", Float, nullable=False),
    Column("churn_risk", Float, nullable=False),
    Column("recency_days", Integer, nullable=True),  # None: never ordered
    Column("order_count", Integer, nullable=False),
    Column("revenue_cents", BigInteger, nullable=False),
    Column("sentiment", Float, nullable=True),  # mean in [-1, 1] over the window; None: nothing said
    Column("negatives", Integer, nullable=False),
    Column("csat", Float, nullable=True),
    Column("open_tickets", Integer, nullable=False),
    Column("breached_tickets", Integer, nullable=False),
    _ts("computed_at", nullable=False),
    Index("ix_loyalty_scores_customer", "customer_id", "run_date"),
)

# Loyalty alerts raised: one per customer and run, so a re-run alerts nobody twice and the
# manager digest can list the period's alerts with the scores behind them.
loyalty_alerts = Table(
    "loyalty_alerts",
    metadata,
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("run_date", String(10), primary_key=True),
    Column("previous_score", Float, nullable=True),
    _ts("raised_at", nullable=False, index=True),
)

# Manager digests: to a rep (their DM) or a channel, daily or weekly at a local time. The last
# period sent is claimed here, so replicas and restarts send each period once.
digest_subscriptions = Table(
    "digest_subscriptions",
    metadata,
    Column("id", Id, primary_key=True),
    Column("rep_id", Id, ForeignKey("reps.id", ondelete="CASCADE"), nullable=False),
    Column("platform", String(16), nullable=False),
    Column("target", String(64), nullable=False),
    Column("cadence", String(8), nullable=False),
    Column("local_time", String(5), nullable=False),  # HH:MM in ``timezone``
    Column("timezone", String(64), nullable=False),
    Column("last_period", String(16), nullable=True),
    _ts("created_at", nullable=False),
    UniqueConstraint("platform", "target"),
    CheckConstraint("cadence IN ('daily', 'weekly')", name="cadence"),
)

# Facts about the store itself: "store_id", made once by a migration, names this store so a
# customer index snapshot built from another one is never taken for its own.
store_meta = Table(
    "store_meta",
    metadata,
    Column("key", String(64), primary_key=True),
    Column("value", String(200), nullable=False),
)

# -- segments (issue 11) ----------------------------------------------------------------------
# One row per segment ever named, keyed by its slug: a recompute updates the live ones (name,
# description, size, centre figures) and sets size 0 on those that no longer exist, so a name
# that comes back keeps its id.
segments = Table(
    "segments",
    metadata,
    Column("id", Id, primary_key=True),
    Column("slug", String(64), nullable=False),
    Column("name", String(100), nullable=False),
    Column("description", String(300), nullable=False, server_default=""),
    Column("size", Integer, nullable=False, server_default="0"),
    # {"z": {feature: z-score of the centre}, "median": {feature: segment median}, "k": ..., ...}
    Column("figures", JSON, nullable=False, default=dict),
    _ts("computed_at", nullable=False),
    UniqueConstraint("slug"),
)

# Each customer's segment in the latest run, and the one before when the customer moved
# (``moved_at``: the run that moved them), for the digest's segment changes.
customer_segments = Table(
    "customer_segments",
    metadata,
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("segment_id", Id, ForeignKey("segments.id", ondelete="CASCADE"), nullable=False),
    Column("previous_segment_id", Id, ForeignKey("segments.id", ondelete="SET NULL"), nullable=True),
    _ts("moved_at", nullable=False),
    Index("ix_customer_segments_segment", "segment_id", "customer_id"),
    Index("ix_customer_segments_moved", "moved_at"),
)

# -- forecast (issue 11): each run's per-customer forecast over its horizon; the card, the
# weekly digest's revenue at risk and the loyalty run's churn risk read the latest run.
customer_forecasts = Table(
    "customer_forecasts",
    metadata,
    Column("run_date", String(10), primary_key=True),  # the run's UTC date, YYYY-MM-DD
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("horizon_days", Integer, nullable=False),
    Column("expected_orders", Float, nullable=False),
    Column("expected_revenue_cents", BigInteger, nullable=False),
    Column("p_active", Float, nullable=False),
    Column("model", String(16), nullable=False),  # regression or bgnbd
    _ts("computed_at", nullable=False),
    Index("ix_customer_forecasts_customer", "customer_id", "run_date"),
)


# -- reaching customers (issue 12) --------------------------------------------------------------

# A message to the customers a filter finds (``audience``: the words of ``find``), sent over
# Telegram. ``control_pct`` of the audience is held out (receives nothing) to measure against.
campaigns = Table(
    "campaigns",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(100), nullable=False),
    Column("audience", Text, nullable=False, server_default=""),
    Column("body", Text, nullable=False, server_default=""),  # Telegram HTML, with placeholders
    Column("button_kind", String(8), nullable=True),  # link or talk ("Talk to us": opens a ticket)
    Column("button_text", String(64), nullable=True),
    Column("button_url", String(500), nullable=True),
    Column("control_pct", Integer, nullable=False, server_default="0"),
    Column("state", String(12), nullable=False, server_default="draft"),
    Column("created_by_rep_id", Id, ForeignKey("reps.id", ondelete="SET NULL"), nullable=True),
    _ts("send_at"),  # when sending starts (scheduled); None until ``campaign send``
    _ts("created_at", nullable=False),
    _ts("started_at"),
    _ts("finished_at"),
    _ts("cancelled_at"),
    Index("ix_campaigns_state_send_at", "state", "send_at"),
    CheckConstraint(
        "state IN ('draft', 'scheduled', 'sending', 'sent', 'cancelled')", name="state"
    ),
    CheckConstraint("control_pct >= 0 AND control_pct <= 50", name="control_pct"),
)

# Each customer of a campaign's audience, fixed when sending starts: in the ``send`` arm or the
# held-out ``control`` arm, and where their message is (``not_before``: quiet hours deferral).
campaign_recipients = Table(
    "campaign_recipients",
    metadata,
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="CASCADE"), primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), primary_key=True),
    Column("arm", String(8), nullable=False, server_default="send"),
    Column("state", String(12), nullable=False, server_default="pending"),
    Column("reason", String(64), nullable=True),  # why skipped or failed
    _ts("not_before"),
    Column("outbox_key", String(200), nullable=True),
    _ts("queued_at"),
    _ts("sent_at"),
    Column("message_id", String(64), nullable=True),
    Index("ix_campaign_recipients_state", "campaign_id", "state", "not_before"),
    Index("ix_campaign_recipients_customer", "customer_id"),
    CheckConstraint("arm IN ('send', 'control')", name="arm"),
    CheckConstraint(
        "state IN ('pending', 'queued', 'sent', 'failed', 'skipped', 'cancelled')", name="state"
    ),
)

# Consent to marketing messages, as events (the latest per customer and topic counts): "Stop
# these messages", /stop and /subscribe, with when and where, kept for the privacy export.
customer_consents = Table(
    "customer_consents",
    metadata,
    Column("id", Id, primary_key=True),
    Column("customer_id", Id, ForeignKey("customers.id", ondelete="CASCADE"), nullable=False),
    Column("topic", String(16), nullable=False, server_default="marketing"),
    Column("state", String(12), nullable=False),
    Column("source", String(32), nullable=False),  # button, command, staff, import, api
    Column("campaign_id", Id, ForeignKey("campaigns.id", ondelete="SET NULL"), nullable=True),
    _ts("created_at", nullable=False),
    Index("ix_customer_consents_customer", "customer_id", "topic", "created_at"),
    CheckConstraint("state IN ('stopped', 'subscribed')", name="state"),
)

# HTTP API tokens (bot/api): only a token's SHA-256 is kept; it is shown once, when created.
api_tokens = Table(
    "api_tokens",
    metadata,
    Column("id", Id, primary_key=True),
    Column("name", String(64), nullable=False, unique=True),
    Column("token_hash", String(64), nullable=False, unique=True),
    Column("scopes", String(64), nullable=False),  # comma-separated: read,write
    _ts("created_at", nullable=False),
    _ts("last_used_at"),  # refreshed at most once a minute per token
    _ts("revoked_at"),
)

# The first answer to each write sent with an Idempotency-Key, so a retry gets it again without
# writing; purged by the housekeeping job after a day.
api_idempotency = Table(
    "api_idempotency",
    metadata,
    Column("token_name", String(64), primary_key=True),
    Column("key", String(255), primary_key=True),
    Column("request", String(300), nullable=False),  # METHOD /path?query
    Column("request_hash", String(64), nullable=False),  # SHA-256 of the body
    Column("status", Integer, nullable=True),  # None while the first request runs
    Column("body", Text, nullable=True),
    _ts("created_at", nullable=False, index=True),
)

# Receivers of signed event webhooks (crm_store.webhooks). The secret is kept in clear: the bot
# must sign with it, and a hash cannot sign. A removed endpoint is disabled, not deleted, so its
# deliveries stay listable; a 410 Gone from the receiver disables it too.
webhook_endpoints = Table(
    "webhook_endpoints",
    metadata,
    Column("id", Id, primary_key=True),
    Column("url", String(500), nullable=False),
    Column("events", JSON, nullable=False, default=list),  # event types, e.g. ["ticket.resolved"]
    Column("secret", String(100), nullable=False),
    _ts("created_at", nullable=False),
    _ts("disabled_at"),
    Column("disabled_reason", String(100), nullable=True),
)

# One event for one endpoint. The outbox row (platform "webhook", payload {"delivery_id": id})
# carries the sending (claims, leases, replicas); this row is what an operator lists and
# redelivers, with the receiver's last answer. ``window_from`` starts the 24 h of retries (the
# event's creation, or a redelivery).
webhook_deliveries = Table(
    "webhook_deliveries",
    metadata,
    Column("id", Id, primary_key=True),
    Column("event_id", String(36), nullable=False),
    Column("endpoint_id", Id, ForeignKey("webhook_endpoints.id", ondelete="CASCADE"), nullable=False),
    Column("event_type", String(32), nullable=False),
    Column("payload", JSON, nullable=False),
    # The customer the event is about (its payload holds their details): erased with them.
    Column("customer_id", Id, nullable=True),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("state", String(10), nullable=False, server_default="pending"),
    _ts("next_attempt_at"),
    Column("last_status", Integer, nullable=True),
    Column("last_error", String(200), nullable=True),
    _ts("created_at", nullable=False),
    _ts("window_from", nullable=False),
    _ts("delivered_at"),
    UniqueConstraint("event_id", "endpoint_id"),
    Index("ix_webhook_deliveries_state", "state", "id"),
    Index("ix_webhook_deliveries_endpoint_id", "endpoint_id"),
    Index("ix_webhook_deliveries_customer_id", "customer_id"),
    CheckConstraint(
        "state IN ('pending', 'sending', 'delivered', 'failed', 'given_up')", name="state"
    ),
)
