"""Webhook receipts in the database: which ``X-Shopify-Webhook-Id`` values were accepted."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import select

from shared.store.db import Store
from shared.store.dialect import insert_ignoring_conflicts
from shared.store.models import WebhookReceipt


class SqlWebhookReceipts:
    """Receipts table adapter."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def seen(self, webhook_id: str) -> bool:
        """Whether this webhook id was accepted before."""
        with self.store.session() as session:
            found = session.scalar(
                select(WebhookReceipt.webhook_id).where(WebhookReceipt.webhook_id == webhook_id)
            )
        return found is not None

    def add(self, webhook_id: str, topic: str) -> None:
        """Record an accepted webhook id (idempotent)."""
        row = {"webhook_id": webhook_id, "topic": topic, "received_at": datetime.now(UTC)}
        with self.store.transaction() as session:
            insert_ignoring_conflicts(session, WebhookReceipt.__table__, [row])  # type: ignore[arg-type]
