"""One customer as the API shows them (hashed identity only), and erasure by customer key.

Erasure is the ingestor's (``FactsWriter.erase``: facts deleted, a tombstone left so late events
cannot bring the customer back) announced as ``CustomerChanged(erased=True)`` through the outbox,
exactly as Shopify's ``customers/redact`` is: the scorer drops the label and every syncer removes
the customer from its platform audiences on the next sync, from the hashed rows in its ledger.
"""

from __future__ import annotations

import enum
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select

from services.ingestor.adapters.facts_store import FactsWriter
from shared.bus.topics import CUSTOMERS_CHANGED
from shared.definitions import Definitions
from shared.messages import CustomerChanged
from shared.store.audit import record
from shared.store.db import Store
from shared.store.models import (
    AudienceMembership,
    Customer,
    CustomerIdentifier,
    DestinationAudience,
    Erasure,
    Label,
    Order,
)
from shared.store.outbox import add_to_outbox


class Erased(enum.StrEnum):
    """What an erase request did."""

    ERASED = "erased"
    ALREADY_ERASED = "already_erased"
    UNKNOWN = "unknown"


def customer(store: Store, key: str, definitions: Definitions) -> dict[str, Any] | None:
    """Label, reasons, features, predicted value, stage, audiences; None when unknown or erased."""
    with store.session() as session:
        row = session.get(Customer, key)
        if row is None:
            return None
        label = session.get(Label, key)
        fields = sorted(
            {
                f"{platform}.{field}"
                for platform, field in session.execute(
                    select(CustomerIdentifier.platform, CustomerIdentifier.field).where(
                        CustomerIdentifier.customer_key == key
                    )
                )
            }
        )
        orders = session.scalar(select(Order.id).where(Order.customer_key == key).limit(1)) is not None
        synced = [
            {"audience": a, "platform": p, "account": acc, "synced_at": at}
            for a, p, acc, at in session.execute(
                select(
                    DestinationAudience.audience_key,
                    DestinationAudience.platform,
                    DestinationAudience.account_id,
                    AudienceMembership.synced_at,
                )
                .join(
                    DestinationAudience, DestinationAudience.id == AudienceMembership.destination_audience_id
                )
                .where(AudienceMembership.customer_key == key)
                .order_by(DestinationAudience.audience_key)
            )
        ]
    value = float(label.value) if label and label.value is not None else None
    selected = (
        [a.key for a in definitions.audiences if a.select.matches(label.label, label.stage, value)]
        if label
        else []
    )
    return {
        "customer_key": key,
        "country": row.country,
        "first_seen_at": row.first_seen_at,
        "has_orders": orders,
        "identifiers": fields,  # which hashed identifiers we hold, never their values
        "label": label.label if label else None,
        "stage": label.stage if label else None,
        "reasons": list(label.reasons) if label else [],
        "features": dict(label.features or {}) if label else {},
        "predicted_value": value,
        "scored_at": label.scored_at if label else None,
        "audiences": selected,
        "synced_to": synced,
    }


def erase(store: Store, key: str, actor: str) -> Erased:
    """Erase the customer ``key`` (idempotent); every request is audited with what it did."""
    now = datetime.now(UTC)
    with store.transaction() as session:
        exists = session.get(Customer, key)
        if exists is None:
            outcome = Erased.ALREADY_ERASED if session.get(Erasure, key) is not None else Erased.UNKNOWN
            if outcome is Erased.ALREADY_ERASED:
                record(session, actor, "customer.erase_repeated", f"customer:{key}", None, at=now)
            return outcome
        writer = FactsWriter(session, now=now)
        writer.erase([key], exists.shop, "api")
        add_to_outbox(
            session,
            CUSTOMERS_CHANGED,
            [
                CustomerChanged(k, cause, erased=cause == "erasure").to_envelope()
                for k, cause in writer.changed.items()
            ],
        )
        record(session, actor, "customer.erased", f"customer:{key}", {"customer_keys": [key]}, at=now)
    return Erased.ERASED
