"""The demo pipeline ``make run`` shows: a heartbeat through every topic and back.

Later steps add generated shop data through ingest, scoring and syncing to the sandboxes.
"""

from __future__ import annotations

import time
import uuid
from datetime import datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table

from shared.bus.consumer import HEARTBEAT
from shared.bus.envelope import Envelope, decode
from shared.bus.producer import Publisher
from shared.bus.topics import HEARTBEATS, ORDERS_RAW

if TYPE_CHECKING:
    from services.cli.embedded import EmbeddedStack

LAST_HOPS = {"syncer-meta", "syncer-google"}


def heartbeat(bootstrap: str, *, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Send one heartbeat into the raw topic; return the replies of every last hop."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(HEARTBEATS, p) for p in consumer.partitions_for_topic(HEARTBEATS) or ()]
    consumer.assign(parts)
    consumer.seek_to_end(*parts)
    for tp in parts:
        consumer.position(tp)  # resolve the end offsets before publishing
    ping = uuid.uuid4().hex
    sent_at = datetime.now().astimezone()
    with Publisher(bootstrap) as publisher:
        publisher.publish(
            ORDERS_RAW,
            Envelope(
                type=HEARTBEAT,
                key=ping,
                payload={"ping": ping, "sent_at": sent_at.isoformat(), "hops": []},
            ),
        )
        publisher.flush()
    replies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline and {r["hops"][-1]["service"] for r in replies} < LAST_HOPS:
            for records in consumer.poll(timeout_ms=500).values():
                for rec in records:
                    env = decode(rec.value)
                    if env.payload.get("ping") == ping:
                        replies.append(env.payload)
    finally:
        consumer.close()
    return replies


def run_demo(stack: EmbeddedStack) -> bool:
    """Run the demo and print its summary; True when every hop answered."""
    console = Console()
    assert stack.settings.kafka_bootstrap
    started = time.monotonic()
    replies = heartbeat(stack.settings.kafka_bootstrap)
    table = Table(title="audiencesync: heartbeat through every topic")
    table.add_column("path")
    table.add_column("hops")
    table.add_column("ms", justify="right")
    for reply in replies:
        sent = datetime.fromisoformat(reply["sent_at"])
        hops = reply["hops"]
        elapsed = (datetime.fromisoformat(hops[-1]["at"]) - sent).total_seconds() * 1000
        path = " -> ".join(f"{h['topic']}@{h['service']}" for h in hops)
        table.add_row(path, str(len(hops)), f"{elapsed:.0f}")
    console.print(table)
    answered = {r["hops"][-1]["service"] for r in replies}
    ok = answered >= LAST_HOPS
    missing = ", ".join(sorted(LAST_HOPS - answered)) or "none"
    console.print(
        f"[{'green' if ok else 'red'}]pipeline {'OK' if ok else 'INCOMPLETE'}[/] "
        f"(missing: {missing}) in {time.monotonic() - started:.1f}s"
    )
    return ok
