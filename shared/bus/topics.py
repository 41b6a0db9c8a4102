"""Every topic name in one place, with its dead-letter companion.

Keys are the customer key, so one customer's events stay ordered on one partition; syncers key
their work by destination audience.
"""

from __future__ import annotations

ORDERS_RAW = "orders.raw"  # webhooks and imports, before validation; the only topic with raw PII
ORDERS_DLQ = "orders.dlq"
CUSTOMERS_CHANGED = "customers.changed"  # customer keys whose stored facts changed
CUSTOMERS_CHANGED_DLQ = "customers.changed.dlq"
LABELS_CHANGED = "labels.changed"  # real label / stage / value changes only
LABELS_CHANGED_DLQ = "labels.changed.dlq"
HEARTBEATS = "system.heartbeats"  # pipeline ping replies from the last hop

DEAD_LETTER_TOPIC: dict[str, str] = {
    ORDERS_RAW: ORDERS_DLQ,
    CUSTOMERS_CHANGED: CUSTOMERS_CHANGED_DLQ,
    LABELS_CHANGED: LABELS_CHANGED_DLQ,
}

ALL_TOPICS: tuple[str, ...] = (
    ORDERS_RAW,
    ORDERS_DLQ,
    CUSTOMERS_CHANGED,
    CUSTOMERS_CHANGED_DLQ,
    LABELS_CHANGED,
    LABELS_CHANGED_DLQ,
    HEARTBEATS,
)


# Settings a topic is created with (``ensure_topics``; a topic that exists is left as it is).
# ``orders.raw`` carries raw personal data, which an erasure cannot take off the broker: a week
# bounds how long an erased customer's webhooks stay readable there (Kafka's default, written
# down so that a broker-wide setting cannot keep them longer), and ingestors may still be down
# that long without losing what was acknowledged.
RAW_RETENTION_MS = 7 * 24 * 3600 * 1000
TOPIC_CONFIGS: dict[str, dict[str, str]] = {ORDERS_RAW: {"retention.ms": str(RAW_RETENTION_MS)}}


# Consumer groups that must handle a message before the outbox forgets it (group ids as the
# services declare them in their ``bootstrap``).
CONSUMER_GROUPS: dict[str, tuple[str, ...]] = {
    ORDERS_RAW: ("ingestor",),
    CUSTOMERS_CHANGED: ("scorer",),
    LABELS_CHANGED: ("syncer-meta", "syncer-google"),
}


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic for ``topic`` (``<topic>.dlq`` for topics not listed)."""
    return DEAD_LETTER_TOPIC.get(topic, f"{topic}.dlq")
