"""Tables. Customers are known only by hashes: no raw email, phone or name is ever stored.

Money columns are ``Numeric(18, 4)`` (Decimal in Python); ``*_base`` columns are in the shop's base
currency. Times are timezone-aware UTC. The ledger (``audience_memberships``) records exactly the
hashed rows each platform audience holds, so removals send what was added.
"""

from __future__ import annotations

from datetime import date, datetime
from decimal import Decimal
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Date,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy import text as sql_text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from shared.store.types import UtcDateTime

Id = BigInteger().with_variant(Integer, "sqlite")  # SQLite autoincrements INTEGER PRIMARY KEY only
Money = Numeric(18, 4)
Hash = String(64)
Stamp = UtcDateTime()

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base with deterministic constraint names (portable migrations)."""

    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {dict[str, Any]: JSON, list[Any]: JSON}


# --- facts ---------------------------------------------------------------------------------------


class Customer(Base):
    """A shop's customer, keyed by a hash of the normalized email (or the shop's customer id)."""

    __tablename__ = "customers"
    customer_key: Mapped[str] = mapped_column(Hash, primary_key=True)
    shop: Mapped[str] = mapped_column(String(255), index=True)
    shop_customer_id: Mapped[str | None] = mapped_column(String(64))
    country: Mapped[str | None] = mapped_column(String(2))
    accepts_email_marketing: Mapped[bool | None] = mapped_column(Boolean)
    accepts_sms_marketing: Mapped[bool | None] = mapped_column(Boolean)
    # Google's two ad consent signals (EU user consent policy); None = never stated. Marketing
    # email consent is not ad consent, so these are only set from sources that state them.
    ad_user_data: Mapped[bool | None] = mapped_column(Boolean)
    ad_personalization: Mapped[bool | None] = mapped_column(Boolean)
    first_seen_at: Mapped[datetime] = mapped_column(Stamp)
    updated_at: Mapped[datetime] = mapped_column(Stamp)
    __table_args__ = (Index("ix_customers_shop_customer_id", "shop", "shop_customer_id"),)


class CustomerIdentifier(Base):
    """One platform-ready identifier of a customer: a SHA-256 hex, or an unhashed code (country).

    No foreign key to ``customers``: an import writes ~20 of these per customer, and the
    per-row check was half of PostgreSQL's work on them (COPY of 234k rows 1.8 -> 0.9 s). What
    it guarded is kept by hand: the ingestor locks the existing customers whose identifiers it
    adds (``customer_store``) and an erasure deletes the customer first, then its identifiers
    (``FactsWriter.erase``), so neither order of the two leaves an erased customer's row.
    """

    __tablename__ = "customer_identifiers"
    customer_key: Mapped[str] = mapped_column(Hash, primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    field: Mapped[str] = mapped_column(String(32), primary_key=True)
    value: Mapped[str] = mapped_column(String(128), primary_key=True)
    added_at: Mapped[datetime] = mapped_column(Stamp)


class Order(Base):
    """One order at its latest seen version (``updated_at``); older versions never overwrite it."""

    __tablename__ = "orders"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    shop: Mapped[str] = mapped_column(String(255))
    order_id: Mapped[str] = mapped_column(String(64))
    customer_key: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_key", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(Stamp)
    updated_at: Mapped[datetime] = mapped_column(Stamp)
    currency: Mapped[str] = mapped_column(String(3))
    gross: Mapped[Decimal] = mapped_column(Money)
    gross_base: Mapped[Decimal] = mapped_column(Money)
    discount_base: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    refunded_base: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))
    net_base: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # gross - discount - refunded
    discount_codes: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(24), default="unknown")  # normalized payment status
    financial_status: Mapped[str | None] = mapped_column(String(32))
    cancelled: Mapped[bool] = mapped_column(Boolean, default=False)
    is_test: Mapped[bool] = mapped_column(Boolean, default=False)
    channel: Mapped[str | None] = mapped_column(String(32))
    referral: Mapped[str | None] = mapped_column(String(32))
    categories: Mapped[list[Any] | None] = mapped_column(JSON)
    country: Mapped[str | None] = mapped_column(String(2))
    accepts_marketing: Mapped[bool | None] = mapped_column(Boolean)
    line_count: Mapped[int] = mapped_column(Integer, default=0)
    source: Mapped[str] = mapped_column(String(16))  # webhook | import
    ingested_at: Mapped[datetime] = mapped_column(Stamp)
    __table_args__ = (UniqueConstraint("shop", "order_id"),)


class OrderLine(Base):
    """A line item: what was bought, for the category and discount features."""

    __tablename__ = "order_lines"
    order_pk: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), primary_key=True)
    line_no: Mapped[int] = mapped_column(Integer, primary_key=True)
    product_type: Mapped[str | None] = mapped_column(String(255))
    vendor: Mapped[str | None] = mapped_column(String(255))
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(Money)  # order currency
    discount: Mapped[Decimal] = mapped_column(Money, default=Decimal(0))  # order currency


class Refund(Base):
    """A refund of (part of) an order, in the base currency."""

    __tablename__ = "refunds"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    shop: Mapped[str] = mapped_column(String(255))
    refund_id: Mapped[str] = mapped_column(String(64))
    order_id: Mapped[str] = mapped_column(String(64))
    customer_key: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_key", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(Stamp)
    amount_base: Mapped[Decimal] = mapped_column(Money)
    items: Mapped[int] = mapped_column(Integer, default=0)  # units returned
    __table_args__ = (
        UniqueConstraint("shop", "refund_id"),
        Index("ix_refunds_order", "shop", "order_id"),
    )


class SupportTicket(Base):
    """A helpdesk ticket counted against a customer (support load)."""

    __tablename__ = "support_tickets"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    shop: Mapped[str] = mapped_column(String(255))
    source: Mapped[str] = mapped_column(String(32))
    ticket_id: Mapped[str] = mapped_column(String(64))
    customer_key: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_key", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(Stamp)
    __table_args__ = (UniqueConstraint("shop", "source", "ticket_id"),)


class Checkout(Base):
    """A checkout with a contact; one never followed by an order is an abandoned checkout."""

    __tablename__ = "checkouts"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    shop: Mapped[str] = mapped_column(String(255))
    checkout_id: Mapped[str] = mapped_column(String(64))
    customer_key: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_key", ondelete="CASCADE"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(Stamp)
    updated_at: Mapped[datetime] = mapped_column(Stamp)
    completed_at: Mapped[datetime | None] = mapped_column(Stamp)
    value_base: Mapped[Decimal | None] = mapped_column(Money)
    __table_args__ = (UniqueConstraint("shop", "checkout_id"),)


class Erasure(Base):
    """Tombstone of an erased customer: only the key hash, so late events cannot resurrect them."""

    __tablename__ = "erasures"
    customer_key: Mapped[str] = mapped_column(Hash, primary_key=True)
    shop: Mapped[str] = mapped_column(String(255))
    requested_at: Mapped[datetime] = mapped_column(Stamp)
    source: Mapped[str] = mapped_column(String(32))


class FxRate(Base):
    """Units of the base currency per one unit of ``currency`` from ``valid_from`` on."""

    __tablename__ = "fx_rates"
    currency: Mapped[str] = mapped_column(String(3), primary_key=True)
    valid_from: Mapped[date] = mapped_column(Date, primary_key=True)
    rate: Mapped[Decimal] = mapped_column(Numeric(20, 10))


# --- scoring -------------------------------------------------------------------------------------


class Label(Base):
    """A customer's current label, lifecycle stage, predicted value and the reasons."""

    __tablename__ = "labels"
    customer_key: Mapped[str] = mapped_column(
        ForeignKey("customers.customer_key", ondelete="CASCADE"), primary_key=True
    )
    label: Mapped[str] = mapped_column(String(16), index=True)
    stage: Mapped[str | None] = mapped_column(String(24), index=True)
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    value: Mapped[Decimal | None] = mapped_column(Money)
    p_alive: Mapped[float | None] = mapped_column(Float)
    features: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    as_of: Mapped[datetime] = mapped_column(Stamp)
    scored_at: Mapped[datetime] = mapped_column(Stamp)


class LabelHistory(Base):
    """Every label change, for movements between labels and audits."""

    __tablename__ = "label_history"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    customer_key: Mapped[str] = mapped_column(Hash, index=True)
    label: Mapped[str] = mapped_column(String(16))
    stage: Mapped[str | None] = mapped_column(String(24))
    reasons: Mapped[list[Any]] = mapped_column(JSON)
    value: Mapped[Decimal | None] = mapped_column(Money)
    scored_at: Mapped[datetime] = mapped_column(Stamp, index=True)


class ScoringRun(Base):
    """One scoring pass: its calibration (model fit, resolved percentile cutoffs) and counts.

    A full rescore stores its calibration; incremental rescoring reuses the latest one so a
    handful of changed customers are judged against the whole shop's distribution.
    """

    __tablename__ = "scoring_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    mode: Mapped[str] = mapped_column(String(16))  # full | incremental | backtest
    profile: Mapped[str] = mapped_column(String(64))
    as_of: Mapped[datetime] = mapped_column(Stamp)
    started_at: Mapped[datetime] = mapped_column(Stamp, index=True)
    finished_at: Mapped[datetime | None] = mapped_column(Stamp)
    customers: Mapped[int] = mapped_column(Integer, default=0)
    changed: Mapped[int] = mapped_column(Integer, default=0)
    calibration: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    summary: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- audiences and syncing -----------------------------------------------------------------------


class Audience(Base):
    """A declarative audience definition (from the YAML file or the API)."""

    __tablename__ = "audiences"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    role: Mapped[str] = mapped_column(String(16))  # include | exclusion
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    origin: Mapped[str] = mapped_column(String(16))  # config | api
    created_at: Mapped[datetime] = mapped_column(Stamp)
    updated_at: Mapped[datetime] = mapped_column(Stamp)


class DestinationAudience(Base):
    """An audience as it exists on one platform account (a custom audience, a lookalike, a list)."""

    __tablename__ = "destination_audiences"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    audience_key: Mapped[str] = mapped_column(ForeignKey("audiences.key", ondelete="CASCADE"))
    platform: Mapped[str] = mapped_column(String(16))  # meta | google
    account_id: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16))  # custom | lookalike | user_list
    variant: Mapped[str] = mapped_column(String(64), default="")  # e.g. lookalike country
    platform_audience_id: Mapped[str | None] = mapped_column(String(64))
    spec: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    status: Mapped[str] = mapped_column(String(32), default="pending")
    created_at: Mapped[datetime] = mapped_column(Stamp)
    __table_args__ = (UniqueConstraint("audience_key", "platform", "account_id", "kind", "variant"),)


class AudienceMembership(Base):
    """The ledger: one row per customer a platform audience holds, with the exact row sent."""

    __tablename__ = "audience_memberships"
    destination_audience_id: Mapped[int] = mapped_column(
        ForeignKey("destination_audiences.id", ondelete="CASCADE"), primary_key=True
    )
    customer_key: Mapped[str] = mapped_column(Hash, primary_key=True)
    row: Mapped[list[Any]] = mapped_column(JSON)  # hashed identifiers as uploaded, schema order
    value: Mapped[Decimal | None] = mapped_column(Money)
    batch_id: Mapped[int | None] = mapped_column(ForeignKey("sync_batches.id", ondelete="SET NULL"))
    synced_at: Mapped[datetime] = mapped_column(Stamp)


class SyncRun(Base):
    """One sync of one destination audience: counts, status, the platform's feedback, timings."""

    __tablename__ = "sync_runs"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    destination_audience_id: Mapped[int] = mapped_column(
        ForeignKey("destination_audiences.id", ondelete="CASCADE"), index=True
    )
    mode: Mapped[str] = mapped_column(String(16))  # incremental | delta (was: full) | repair | dry_run
    status: Mapped[str] = mapped_column(String(24), index=True)
    started_at: Mapped[datetime] = mapped_column(Stamp)
    finished_at: Mapped[datetime | None] = mapped_column(Stamp)
    desired: Mapped[int] = mapped_column(Integer, default=0)
    added: Mapped[int] = mapped_column(Integer, default=0)
    removed: Mapped[int] = mapped_column(Integer, default=0)
    invalid: Mapped[int] = mapped_column(Integer, default=0)
    errors: Mapped[int] = mapped_column(Integer, default=0)
    api_calls: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    feedback: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class SyncBatch(Base):
    """One request's worth of adds or removes; acknowledged before the next is sent."""

    __tablename__ = "sync_batches"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    sync_run_id: Mapped[int] = mapped_column(ForeignKey("sync_runs.id", ondelete="CASCADE"))
    seq: Mapped[int] = mapped_column(Integer)
    direction: Mapped[str] = mapped_column(String(8))  # add | remove | replace
    size: Mapped[int] = mapped_column(Integer)
    # The platform's handle for the batch: Meta's upload session, a Google request id or job.
    session_id: Mapped[str | None] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))  # sent | acknowledged | failed
    num_received: Mapped[int | None] = mapped_column(Integer)
    num_invalid: Mapped[int | None] = mapped_column(Integer)
    response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    acknowledged_at: Mapped[datetime | None] = mapped_column(Stamp)
    __table_args__ = (UniqueConstraint("sync_run_id", "seq"),)


class AudienceSnapshot(Base):
    """What the platform reports about an audience after a run (size bounds, status): reconciliation."""

    __tablename__ = "audience_snapshots"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    destination_audience_id: Mapped[int] = mapped_column(
        ForeignKey("destination_audiences.id", ondelete="CASCADE"), index=True
    )
    at: Mapped[datetime] = mapped_column(Stamp)
    size_lower: Mapped[int | None] = mapped_column(BigInteger)
    size_upper: Mapped[int | None] = mapped_column(BigInteger)
    operation_status: Mapped[int | None] = mapped_column(Integer)
    delivery_status: Mapped[int | None] = mapped_column(Integer)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


# --- operations ----------------------------------------------------------------------------------


class ApiQuota(Base):
    """A request budget shared by every process that spends it (one Google Cloud project or
    developer token): the calls made in the current minute and day windows."""

    __tablename__ = "api_quotas"
    scope: Mapped[str] = mapped_column(String(128), primary_key=True)
    minute_start: Mapped[int] = mapped_column(BigInteger)  # epoch minute of the current window
    minute_used: Mapped[int] = mapped_column(Integer)
    day_start: Mapped[int] = mapped_column(BigInteger)  # epoch day (UTC) of the current window
    day_used: Mapped[int] = mapped_column(Integer)


class DeadLetterRecord(Base):
    """A message set aside with its reason and source coordinates; no payload (raw topics hold PII).

    One row per message and consumer, keyed by the envelope id: a broker can hand out the same
    coordinates again (an embedded broker's offsets restart at 0 with every import), an id never.
    A record with no decodable id is keyed by where it was, the only name it has.
    """

    __tablename__ = "dead_letters"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    consumer: Mapped[str] = mapped_column(String(64))
    topic: Mapped[str] = mapped_column(String(128))
    partition: Mapped[int] = mapped_column(Integer)
    offset: Mapped[int] = mapped_column(BigInteger)
    reason: Mapped[str] = mapped_column(Text)
    field_path: Mapped[str | None] = mapped_column(String(255))
    message_id: Mapped[str | None] = mapped_column(String(128))
    message_type: Mapped[str | None] = mapped_column(String(100))
    key: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[datetime] = mapped_column(Stamp, index=True)
    resolved_at: Mapped[datetime | None] = mapped_column(Stamp)  # marked handled by an operator
    resolved_by: Mapped[str | None] = mapped_column(String(64))
    replayed_at: Mapped[datetime | None] = mapped_column(Stamp)  # last copied back to its source topic
    __table_args__ = (
        UniqueConstraint("consumer", "message_id", name="uq_dead_letters_message"),
        Index(
            "uq_dead_letters_source",
            "consumer",
            "topic",
            "partition",
            "offset",
            unique=True,
            sqlite_where=sql_text("message_id IS NULL"),
            postgresql_where=sql_text("message_id IS NULL"),
        ),
    )


class SyncPending(Base):
    """Customer keys a syncer has taken from ``labels.changed`` but not yet synced.

    Written before the message's offset is committed and deleted only after a sync that covered
    the key succeeded, so a crash between the two loses no change (the worker drains it later).
    ``noted`` (nanoseconds since the epoch) is the latest change's time: a key noted again while
    its sync ran keeps its row, because the drain deletes only the ``noted`` value it synced.
    """

    __tablename__ = "sync_pending"
    syncer: Mapped[str] = mapped_column(String(32), primary_key=True)  # the platform: meta, google, ...
    customer_key: Mapped[str] = mapped_column(Hash, primary_key=True)
    noted: Mapped[int] = mapped_column(BigInteger, index=True)


class ProcessedMessage(Base):
    """Envelope ids a consumer has fully handled, to drop redeliveries cheaply."""

    __tablename__ = "processed_messages"
    consumer: Mapped[str] = mapped_column(String(64), primary_key=True)
    message_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    processed_at: Mapped[datetime] = mapped_column(Stamp, index=True)


class OutboxMessage(Base):
    """Messages written in the same transaction as what they announce, published after commit.

    Also the webhook inbox: an accepted webhook is a row here before it is acknowledged. A row
    stays after publishing (``published_at``) until every consumer group of its topic has
    handled its ``message_id``, so a broker that loses its log (the embedded one keeps it in
    memory) is refilled from here.
    """

    __tablename__ = "outbox"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    topic: Mapped[str] = mapped_column(String(128))
    key: Mapped[str] = mapped_column(String(256))
    body: Mapped[bytes] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    message_id: Mapped[str | None] = mapped_column(String(128))
    published_at: Mapped[datetime | None] = mapped_column(Stamp)
    __table_args__ = (Index("ix_outbox_pending", "published_at", "id"),)


class WebhookReceipt(Base):
    """``X-Shopify-Webhook-Id`` values already accepted (Shopify retries deliver the same id)."""

    __tablename__ = "webhook_receipts"
    webhook_id: Mapped[str] = mapped_column(String(128), primary_key=True)
    topic: Mapped[str] = mapped_column(String(64))
    received_at: Mapped[datetime] = mapped_column(Stamp, index=True)


class ApiToken(Base):
    """An API token, stored as its SHA-256 only."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    token_sha256: Mapped[str] = mapped_column(Hash, unique=True)
    scopes: Mapped[list[Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(Stamp)
    last_used_at: Mapped[datetime | None] = mapped_column(Stamp)
    revoked_at: Mapped[datetime | None] = mapped_column(Stamp)


class AuditEntry(Base):
    """Who did what to which object, and when (API actions, erasures, forced syncs)."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(Stamp, index=True)
    actor: Mapped[str] = mapped_column(String(64))
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(255))
    details: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class AudienceVersion(Base):
    """Every definition an audience has had through the API, numbered from 1 (the YAML is version 0)."""

    __tablename__ = "audience_versions"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    audience_key: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(Stamp)
    __table_args__ = (UniqueConstraint("audience_key", "version"),)


class SyncRequest(Base):
    """A sync asked for (API, refresh): which audiences and platforms, how, and how it went.

    Written by the API and the scheduler, carried out by a worker that claims ``queued`` rows and
    records the ``sync_runs`` it made in ``run_ids``: the API never calls a syncer in-process.
    """

    __tablename__ = "sync_requests"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    audiences: Mapped[list[Any]] = mapped_column(JSON)
    destinations: Mapped[list[Any]] = mapped_column(JSON)  # platforms: meta | google
    mode: Mapped[str] = mapped_column(String(16))  # delta | full | dry_run
    status: Mapped[str] = mapped_column(String(16), index=True)  # SyncRequestStatus
    requested_by: Mapped[str] = mapped_column(String(64))
    requested_at: Mapped[datetime] = mapped_column(Stamp, index=True)
    started_at: Mapped[datetime | None] = mapped_column(Stamp)
    finished_at: Mapped[datetime | None] = mapped_column(Stamp)
    cancel_requested_at: Mapped[datetime | None] = mapped_column(Stamp)
    claimed_by: Mapped[str | None] = mapped_column(String(128))
    heartbeat_at: Mapped[datetime | None] = mapped_column(Stamp)  # the worker is alive
    run_ids: Mapped[list[Any] | None] = mapped_column(JSON)
    results: Mapped[list[Any] | None] = mapped_column(JSON)  # per audience and destination
    message: Mapped[str | None] = mapped_column(Text)


class ActiveSync(Base):
    """One row per audience and platform while a request for it is queued or running.

    The primary key makes a second trigger for the same audience fail inside the database (409),
    whichever API replica takes it; the worker deletes the rows when the request ends.
    """

    __tablename__ = "active_syncs"
    audience_key: Mapped[str] = mapped_column(String(64), primary_key=True)
    platform: Mapped[str] = mapped_column(String(16), primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("sync_requests.id", ondelete="CASCADE"), index=True)


class ScheduledRefresh(Base):
    """One nightly refresh, keyed by the cron time it serves: two replicas cannot both insert it."""

    __tablename__ = "scheduled_refreshes"
    slot: Mapped[datetime] = mapped_column(Stamp, primary_key=True)
    owner: Mapped[str] = mapped_column(String(128))
    trigger: Mapped[str] = mapped_column(String(16))  # cron | catch_up | manual
    started_at: Mapped[datetime] = mapped_column(Stamp)
    heartbeat_at: Mapped[datetime] = mapped_column(Stamp)
    finished_at: Mapped[datetime | None] = mapped_column(Stamp)
    status: Mapped[str] = mapped_column(String(16))  # running | succeeded | failed | interrupted
    message: Mapped[str | None] = mapped_column(Text)


class AlertIncident(Base):
    """One incident an alert is about, open while its signal lasts: an alert is sent once per incident."""

    __tablename__ = "alert_incidents"
    id: Mapped[int] = mapped_column(Id, primary_key=True, autoincrement=True)
    key: Mapped[str] = mapped_column(String(255))  # e.g. run_failed:12
    kind: Mapped[str] = mapped_column(String(32))
    text: Mapped[str] = mapped_column(Text)
    opened_at: Mapped[datetime] = mapped_column(Stamp)
    last_seen_at: Mapped[datetime] = mapped_column(Stamp)
    resolved_at: Mapped[datetime | None] = mapped_column(Stamp)
    notified_at: Mapped[datetime | None] = mapped_column(Stamp)  # None: not delivered yet, retried
    resolved_notified_at: Mapped[datetime | None] = mapped_column(Stamp)  # the "resolved" message
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")  # failed deliveries
    retry_at: Mapped[datetime | None] = mapped_column(Stamp)  # next try (backoff) or a sender's lease
    __table_args__ = (
        Index(  # at most one open incident per key, whichever replica checks
            "uq_alert_incidents_open",
            "key",
            unique=True,
            sqlite_where=sql_text("resolved_at IS NULL"),
            postgresql_where=sql_text("resolved_at IS NULL"),
        ),
    )
