"""The one Kafka producer: ``acks=all``, ordered per key, and a flush that fails when a send did."""

from __future__ import annotations

import threading
from collections.abc import Iterable
from functools import cache
from typing import Any

from kafka.errors import KafkaError

from shared.bus.envelope import Envelope, encode

# The largest message we produce, before compression (kafka-python checks the uncompressed size
# against ``max_request_size``). The webhook edge answers 413 above it; Apache Kafka deployments
# set ``message.max.bytes`` to at least this (docs/architecture.md, "Limits").
MAX_MESSAGE_BYTES = 8 << 20


class PublishError(KafkaError):  # type: ignore[misc]  # kafka-python is untyped
    """At least one message queued since the last flush was not acknowledged by the broker.

    A ``KafkaError``, so consumers treat it as an infrastructure failure and retry the batch;
    edges answer 503 so the sender retries; nothing that failed is ever reported as accepted.
    """


class Publisher:
    """Publishes envelopes keyed by ``envelope.key``.

    ``max_in_flight_requests_per_connection=1`` keeps per-key order when a send is retried;
    batching (``linger_ms``) recovers the throughput this costs. kafka-python's ``flush`` returns
    even when sends failed, so every send carries an errback and ``flush`` raises ``PublishError``
    if any of them fired: a caller that flushed without an error knows every message is durable.
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
            max_request_size=MAX_MESSAGE_BYTES,
        )
        self._lock = threading.Lock()
        self._failures: list[BaseException] = []

    def _failed(self, exc: BaseException) -> None:
        with self._lock:
            self._failures.append(exc)

    def _send(self, topic: str, key: bytes | None, value: bytes, headers: list[tuple[str, bytes]]) -> Any:
        try:
            future = self._producer.send(topic, key=key, value=value, headers=headers)
        except KafkaError as exc:  # too large, or the producer gave up waiting for metadata
            self._failed(exc)
            raise PublishError(f"{type(exc).__name__}: {exc}") from exc
        return future.add_errback(self._failed)

    def publish(self, topic: str, envelope: Envelope) -> Any:
        """Queue one envelope; returns kafka-python's future."""
        return self._send(topic, envelope.key.encode(), encode(envelope), [])

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
        """Queue already encoded bytes (the outbox relay publishes rows as stored)."""
        return self._send(topic, key, value, headers or [])

    def partitions(self, topic: str) -> int:
        """How many partitions ``topic`` has (from the producer's metadata, fetched if missing)."""
        return len(self._producer.partitions_for(topic))

    def flush(self, timeout: float | None = 30.0) -> None:
        """Block until every queued message is acknowledged (``acks=all``); raise if one was not."""
        self._producer.flush(timeout=timeout)
        with self._lock:
            failures, self._failures = self._failures, []
        if failures:
            first = failures[0]
            raise PublishError(f"{len(failures)} not acknowledged, first: {type(first).__name__}: {first}")

    def close(self) -> None:
        """Flush and close."""
        self._producer.close(timeout=10)

    def __enter__(self) -> Publisher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def partition_for(key: str, partitions: int) -> int:
    """The partition Kafka's default partitioner (murmur2, as the Java client's) gives ``key``."""
    from kafka.partitioner.default import murmur2

    return int((murmur2(key.encode()) & 0x7FFFFFFF) % partitions)


@cache
def partition_keys(partitions: int) -> tuple[str, ...]:
    """One key per partition, ``keys[p]`` sent to ``p``: a message that must land on a partition
    chosen in process (a batch of one customer group) is sent under its key. murmur2 is pure
    Python in kafka-python, so it runs here a few times instead of once per record."""
    keys: dict[int, str] = {}
    tried = 0
    while len(keys) < partitions:
        key = f"partition-{tried}"
        keys.setdefault(partition_for(key, partitions), key)
        tried += 1
    return tuple(keys[p] for p in range(partitions))
