"""The ingestor's handler: raw messages in, facts stored once, changed customers announced.

One database transaction per batch, one savepoint per message: a message that fails
validation or the store's checks is rolled back alone and dead-lettered with its reason.
Changed customer keys go to the outbox in the same transaction and are published after commit.
Database errors are left to the runner, which retries the batch (locked file, failover,
a concurrent ingestor's insert) or isolates the one message an unexpected error comes from.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from pathlib import Path

from prometheus_client import Counter

from services.ingestor import privacy
from services.ingestor.adapters.facts_store import CustomerErased, FactsWriter
from services.ingestor.adapters.order_batch import OrderItem, write_orders
from services.ingestor.domain import (
    InvalidPayload,
    Rates,
    ingest_checkout,
    ingest_customer,
    ingest_customer_redact,
    ingest_data_request,
    ingest_generic_row,
    ingest_order,
    ingest_refund,
    ingest_shop_redact,
    ingest_ticket,
)
from services.ingestor.domain.customer_rows import ingest_customer_row
from services.ingestor.domain.errors import ROOT, Reason, invalid
from services.ingestor.domain.refund_rows import ingest_refund_row
from shared.bus.consumer import DeadLetter, Delivery, Handler
from shared.bus.envelope import InvalidMessage
from shared.bus.producer import Publisher
from shared.bus.topics import CUSTOMERS_CHANGED, ORDERS_RAW
from shared.log import get_logger
from shared.messages import CustomerChanged, RawReceived
from shared.store.db import Store
from shared.store.outbox import add_to_outbox, consume, relay_outbox

log = get_logger(__name__)
DROPPED = Counter("audiencesync_ingest_dropped_total", "Events dropped on purpose", ["why"])
STORED = Counter("audiencesync_ingest_stored_total", "Raw messages applied to the store", ["topic"])

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "import/shopify", "import/generic"}
)
# The shop a raw message names: a host name (``shop.myshopify.com``) or a configured name such
# as the default ``default``. The webhook header is outside Shopify's signature, so anything
# else (empty once stripped, spaces, control characters) is refused before it scopes a key.
_SHOP = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def read_raw(delivery: Delivery) -> RawReceived:
    """The ``RawReceived`` a delivery carries; raises ``InvalidMessage`` for anything else."""
    envelope = delivery.envelope
    if envelope.type != RawReceived.TYPE or envelope.version != RawReceived.VERSION:
        raise InvalidMessage(f"not a {RawReceived.TYPE} v{RawReceived.VERSION}", "type")
    raw = RawReceived.from_envelope(envelope)
    if not _SHOP.fullmatch(raw.shop):
        raise InvalidMessage("invalid_shop", "payload.shop")
    return raw


def parse_order(raw: RawReceived, rates: Rates) -> OrderItem:
    """An order topic's body as an ``OrderItem``; raises ``InvalidPayload``."""
    source = "import" if raw.source == "import" else "webhook"
    if raw.topic == "import/generic":
        got = ingest_generic_row(raw.body, shop=raw.shop, rates=rates)
    else:
        got = ingest_order(raw.body, shop=raw.shop, rates=rates)
    return OrderItem(got.facts, got.contact, source)


def apply(raw: RawReceived, writer: FactsWriter, rates: Rates, exports: Path, default_shop: str) -> None:
    """Route one non-order raw message to its parser and store writer; raises ``InvalidPayload``."""
    topic, shop = raw.topic, raw.shop
    if topic == "refunds/create":
        refund = ingest_refund(raw.body, shop=shop, rates=rates).facts
        if writer.refund(refund) is None:
            raise invalid("order_id", Reason.REFUND_WITHOUT_ORDER)
    elif topic == "import/refunds":
        if writer.refund(ingest_refund_row(raw.body, shop=shop, rates=rates).facts) is None:
            raise invalid("order_id", Reason.REFUND_WITHOUT_ORDER)
    elif topic in {"customers/create", "customers/update"}:
        got_customer = ingest_customer(raw.body, shop=shop)
        writer.customer(got_customer.facts, got_customer.contact)
    elif topic == "import/customers":
        got_row = ingest_customer_row(raw.body, shop=shop)
        writer.customer(got_row.facts, got_row.contact)
    elif topic in {"checkouts/create", "checkouts/update"}:
        got_checkout = ingest_checkout(raw.body, shop=shop, rates=rates)
        writer.checkout(got_checkout.facts, got_checkout.contact)
    elif topic in {"tickets/create", "tickets/update", "import/tickets"}:
        got_ticket = ingest_ticket(raw.body, shop=shop)
        if writer.ticket(got_ticket.facts, got_ticket.contact) is None:
            raise invalid(ROOT, Reason.NO_CUSTOMER_IDENTIFIER)
    elif topic == "customers/redact":
        privacy.redact_customer(writer, ingest_customer_redact(raw.body), shop, default_shop)
    elif topic == "customers/data_request":
        privacy.export_customer(writer.session, ingest_data_request(raw.body), shop, default_shop, exports)
    elif topic == "shop/redact":
        privacy.redact_shop(writer, ingest_shop_redact(raw.body).facts, shop, default_shop)
    else:
        raise InvalidMessage(f"unsupported raw topic {topic!r}", "payload.topic")


def _write_order_run(writer: FactsWriter, orders: Sequence[tuple[Delivery, OrderItem]]) -> list[DeadLetter]:
    """Write consecutive orders in bulk; orders without any identity are dead-lettered."""
    result = write_orders(writer.session, [item for _, item in orders], writer.now)
    for changed_key, cause in result.changed.items():
        writer.changed.setdefault(changed_key, cause)
    letters: list[DeadLetter] = []
    for (delivery, item), key in zip(orders, result.keys, strict=True):
        if key is None:
            letters.append(DeadLetter.of(delivery, Reason.NO_CUSTOMER_IDENTIFIER.value, ROOT))
        elif key == "":
            DROPPED.labels("customer_erased").inc()
        else:
            STORED.labels("import" if item.source == "import" else "orders").inc()
    return letters


def _reason(exc: InvalidPayload) -> str:
    first = exc.problems[0]
    return f"{first.reason.value} ({first.detail})" if first.detail else first.reason.value


def make_handler(
    store: Store,
    publisher: Publisher,
    rates: Callable[[], Rates],
    exports: Path,
    *,
    default_shop: str = "default",
) -> Handler:
    """The batch handler wired to the store and the publisher (``default_shop``: the ``SHOP`` setting)."""

    def handle(batch: Sequence[Delivery]) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        table = rates()
        with store.transaction() as session:
            writer = FactsWriter(session)
            orders: list[tuple[Delivery, OrderItem]] = []
            # Raw deliveries that may have an outbox row to delete: every one but imports, which
            # are published straight to the topic (the scan for them cost ~5 % of an import).
            inboxed: list[str] = []

            def flush_orders() -> None:
                # Consecutive orders are written together; any other message waits for them,
                # so effects keep the order of the partition.
                if orders:
                    letters.extend(_write_order_run(writer, orders))
                    orders.clear()

            for delivery in batch:
                try:
                    raw = read_raw(delivery)
                    if raw.source != "import":
                        inboxed.append(delivery.envelope.id)
                    if raw.topic in ORDER_TOPICS:
                        orders.append((delivery, parse_order(raw, table)))
                        continue
                    flush_orders()
                    with session.begin_nested():
                        apply(raw, writer, table, exports, default_shop)
                    STORED.labels(raw.topic).inc()
                except InvalidPayload as exc:
                    letters.append(DeadLetter.of(delivery, _reason(exc), exc.field_path))
                except InvalidMessage as exc:
                    inboxed.append(delivery.envelope.id)  # its edge is unknown: look for a row
                    letters.append(DeadLetter.of(delivery, exc.reason, exc.field_path))
                except CustomerErased:
                    # Late event of an erased customer: dropping it is the point of the tombstone.
                    DROPPED.labels("customer_erased").inc()
            flush_orders()
            changes = [
                CustomerChanged(key, cause, erased=cause == "erasure").to_envelope()
                for key, cause in writer.changed.items()
            ]
            add_to_outbox(session, CUSTOMERS_CHANGED, changes)
            consume(session, ORDERS_RAW, inboxed)
        relay_outbox(store, publisher, topics=(CUSTOMERS_CHANGED,))
        return letters

    return handle
