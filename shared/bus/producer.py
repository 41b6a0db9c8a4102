"""The one Kafka producer: ``acks=all``, ordered per key, flushed before offsets are committed."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from shared.bus.envelope import Envelope, encode


class Publisher:
    """Publishes envelopes keyed by ``envelope.key``.

    ``max_in_flight_requests_per_connection=1`` keeps per-key order when a send is retried;
    batching (``linger_ms``) recovers the throughput this costs.
    """

    def __init__(
        self,
        bootstrap: str,
        *,
        linger_ms: int = 5,
        batch_size: int = 65536,
        client_id: str = "audiencesync",
    ) -> None:
        from kafka import KafkaProducer

        self._producer = KafkaProducer(
            bootstrap_servers=bootstrap,
            acks="all",
            retries=5,
            max_in_flight_requests_per_connection=1,
            linger_ms=linger_ms,
            batch_size=batch_size,
            client_id=client_id,
            # JSON compresses ~10x: a 2,000-line Shopify order stays far below Apache Kafka's
            # default 1 MB message.max.bytes; the request cap allows the rare larger one.
            compression_type="gzip",
            max_request_size=8 << 20,
        )

    def publish(self, topic: str, envelope: Envelope) -> Any:
        """Queue one envelope; returns kafka-python's future."""
        return self._producer.send(topic, key=envelope.key.encode(), value=encode(envelope))

    def publish_many(self, topic: str, envelopes: Iterable[Envelope]) -> int:
        """Queue many envelopes; returns how many."""
        count = 0
        for envelope in envelopes:
            self.publish(topic, envelope)
            count += 1
        return count

    def publish_raw(
        self,
        topic: str,
        key: bytes | None,
        value: bytes,
        headers: list[tuple[str, bytes]] | None = None,
    ) -> Any:
        """Queue raw bytes (the webhook edge publishes bodies as received)."""
        return self._producer.send(topic, key=key, value=value, headers=headers or [])

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until every queued message is acknowledged by the broker (acks=all)."""
        self._producer.flush(timeout=timeout)

    def close(self) -> None:
        """Flush and close."""
        self._producer.close(timeout=10)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
