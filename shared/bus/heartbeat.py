"""Pipeline heartbeats: proof that every consumer service is consuming, end to end.

A ping is an ``Envelope`` of type ``Heartbeat`` sent into ``orders.raw``. Every consumer appends
itself to the ping's ``hops`` and forwards it to its next topic (``ConsumerRunner``); the last hops
answer on ``system.heartbeats``. A ping is answered in full when the replies went through every
forwarder and came back from every last hop. The demo's first stage and the API's readiness
(``services/api/health.py``) both use it.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from shared.bus.consumer import HEARTBEAT
from shared.bus.envelope import Envelope, InvalidMessage, decode
from shared.bus.producer import Publisher
from shared.bus.topics import HEARTBEATS, ORDERS_RAW

# The consumer groups a ping passes through, in order, and those that answer it. A change to the
# pipeline (a service's ``heartbeat_forward_to``) changes these too.
FORWARDERS: tuple[str, ...] = ("ingestor", "scorer")
LAST_HOPS: frozenset[str] = frozenset({"syncer-meta", "syncer-google"})

Reply = dict[str, Any]  # a ping's payload as the last hop sent it back: ping, sent_at, hops


def missing(replies: Iterable[Reply]) -> list[str]:
    """Services of the pipeline no reply went through or came back from (empty: answered in full)."""
    replies = list(replies)
    passed = {hop["service"] for reply in replies for hop in reply.get("hops", ())}
    answered = {reply["hops"][-1]["service"] for reply in replies if reply.get("hops")}
    return sorted((set(FORWARDERS) - passed) | (LAST_HOPS - answered))


class HeartbeatProbe:
    """Sends pings into the pipeline and reads the replies to them; one thread at a time.

    The reply consumer is assigned (no group) to the end of ``system.heartbeats`` when the probe
    opens, so only replies to this probe's own pings are returned.
    """

    def __init__(self, bootstrap: str, *, client_id: str = "heartbeat") -> None:
        from kafka import KafkaConsumer, TopicPartition

        self._consumer = KafkaConsumer(
            bootstrap_servers=bootstrap,
            enable_auto_commit=False,
            client_id=client_id,
            request_timeout_ms=5000,
            api_version_auto_timeout_ms=3000,
        )
        self._publisher: Publisher | None = None
        try:
            parts = [
                TopicPartition(HEARTBEATS, p) for p in self._consumer.partitions_for_topic(HEARTBEATS) or ()
            ]
            if not parts:
                raise LookupError(f"topic {HEARTBEATS} does not exist (replies would never be seen)")
            self._consumer.assign(parts)
            self._consumer.seek_to_end(*parts)
            for tp in parts:
                self._consumer.position(tp)  # resolve the end offsets before the first ping
            self._publisher = Publisher(bootstrap, client_id=client_id)
        except BaseException:
            self.close()
            raise
        self._pings: dict[str, float] = {}  # ping id -> monotonic time sent

    def send(self) -> str:
        """Publish one ping into ``orders.raw`` and wait for the broker's ack; returns its id."""
        assert self._publisher is not None
        ping = uuid.uuid4().hex
        payload = {"ping": ping, "sent_at": datetime.now(UTC).isoformat(), "hops": []}
        self._publisher.publish(ORDERS_RAW, Envelope(type=HEARTBEAT, key=ping, payload=payload))
        self._publisher.flush(timeout=10.0)
        self._pings[ping] = time.monotonic()
        return ping

    def forget(self, older_than: float) -> None:
        """Stop expecting replies to pings sent more than ``older_than`` seconds ago."""
        cutoff = time.monotonic() - older_than
        self._pings = {p: at for p, at in self._pings.items() if at >= cutoff}

    def poll(self, timeout: float) -> list[Reply]:
        """Replies to this probe's pings that arrived within ``timeout`` seconds (maybe none)."""
        replies: list[Reply] = []
        for records in self._consumer.poll(timeout_ms=int(timeout * 1000)).values():
            for record in records:
                try:
                    env = decode(record.value)
                except InvalidMessage:
                    continue  # not a reply of ours; the topic is not a work queue, nothing to dead-letter
                if env.type == HEARTBEAT and env.payload.get("ping") in self._pings:
                    replies.append(env.payload)
        return replies

    def close(self) -> None:
        """Close the reply consumer and the publisher."""
        if self._publisher is not None:
            self._publisher.close()
        self._consumer.close()


def heartbeat(bootstrap: str, *, timeout: float = 60.0, stop: threading.Event | None = None) -> list[Reply]:
    """Send one ping; return the replies once every service answered it, when ``timeout`` ends, or
    once ``stop`` is set (``up --demo`` interrupted while services are still joining)."""
    probe = HeartbeatProbe(bootstrap)
    try:
        probe.send()
        replies: list[Reply] = []
        deadline = time.monotonic() + timeout
        while missing(replies) and time.monotonic() < deadline and not (stop and stop.is_set()):
            replies.extend(probe.poll(0.5))
        return replies
    finally:
        probe.close()
