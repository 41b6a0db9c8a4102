"""The webhook inbox: an accepted delivery is a committed outbox row before it is acknowledged.

The receipt (``X-Shopify-Webhook-Id``) and the message are written in one transaction, so a
receipt exists only for a delivery that is durable: a retry answered "duplicate" can never
hide a first copy that was lost. Publishing to ``orders.raw`` happens after the reply, by the
process's outbox relay (``shared.store.outbox``), which also repairs every crash in between.
"""

from __future__ import annotations

from datetime import UTC, datetime

from shared.bus.envelope import Envelope
from shared.bus.topics import ORDERS_RAW
from shared.store.db import Store
from shared.store.dialect import insert
from shared.store.models import WebhookReceipt
from shared.store.outbox import add_to_outbox


class SqlWebhookInbox:
    """Durable acceptance of webhook deliveries in the database."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def accept(self, envelope: Envelope, *, webhook_id: str | None, topic: str) -> bool:
        """Store the delivery for ``orders.raw``; False when this webhook id was accepted before."""
        with self.store.transaction() as session:
            if webhook_id:
                receipt = {"webhook_id": webhook_id, "topic": topic, "received_at": datetime.now(UTC)}
                table = WebhookReceipt.__table__
                stmt = (
                    insert(session, table)  # type: ignore[arg-type]
                    .values(**receipt)
                    .on_conflict_do_nothing()
                    .returning(WebhookReceipt.webhook_id)
                )
                if session.execute(stmt).scalar_one_or_none() is None:
                    return False
            add_to_outbox(session, ORDERS_RAW, [envelope])
        return True
