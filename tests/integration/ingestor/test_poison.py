"""No single message stops the ingestor: every poison shape through the real broker is dead-lettered
with a reason, every good order around it is stored, and the consumer is still consuming afterwards.
Infrastructure failures (a locked database) are waited out instead: nothing is dead-lettered."""

from __future__ import annotations

import copy
import json
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition
from prometheus_client import REGISTRY
from sqlalchemy import event, select
from structlog.testing import capture_logs

from services.ingestor.bootstrap import cached_rates
from services.ingestor.handlers import make_handler
from shared.bus.broker import EmbeddedBroker, ensure_topics
from shared.bus.consumer import HEARTBEAT, ConsumerRunner, RunnerConfig
from shared.bus.envelope import Envelope, encode
from shared.bus.producer import Publisher
from shared.bus.records import Delivery
from shared.bus.topics import ALL_TOPICS, dead_letter_topic
from shared.messages import RawReceived
from shared.store.db import Store
from shared.store.messages import SqlDeadLetterSink, SqlSeenMessages
from shared.store.models import DeadLetterRecord, Order
from tests.integration.bus.harness import SESSION_TIMEOUT_MS, wait_for
from tests.integration.ingestor.harness import sample

pytestmark = pytest.mark.integration
SHOP = "demo.myshopify.com"
TRIPWIRES: dict[str, type[Exception]] = {
    "tripwire-value": ValueError,
    "tripwire-key": KeyError,
    "tripwire-type": TypeError,
}
REDACT = {"shop_id": 1, "shop_domain": SHOP, "customer": {"id": 1000, "email": "buyer1000@example.com"}}


def order_body(order_id: int) -> dict[str, Any]:
    """A valid Shopify order of its own customer."""
    body = copy.deepcopy(sample("orders_create.real_store_rudderstack.json"))
    email = f"buyer{order_id}@example.com"
    body.update({"id": order_id, "email": email, "contact_email": email})
    body["customer"] = {**body["customer"], "email": email, "id": order_id}
    return body


def raw(
    body: bytes | dict[str, Any], *, shop: str = SHOP, topic: str = "orders/create", **over: Any
) -> Envelope:
    """A ``RawReceived`` envelope as the webhook edge would publish it (``over`` patches the payload)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    received = RawReceived("shopify", topic, shop, data, datetime.now(UTC), over.pop("webhook_id", None))
    envelope = received.to_envelope(f"{SHOP}/{hash(data) % 10_000}")
    envelope.payload.update(over)
    return envelope


def wire(**fields: Any) -> bytes:
    """Envelope JSON with ``fields`` replaced (to break what ``Envelope`` itself cannot hold)."""
    env = json.loads(encode(raw(order_body(9999))))
    env.update(fields)
    return json.dumps(env).encode()


def deep(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


@dataclass(frozen=True)
class Poison:
    """One poison record: its key and value on the wire and the reason it must be dead-lettered for."""

    name: str
    value: bytes | None
    reason: str  # the dead letter's reason starts with this
    key: bytes | None = b"poison"


def P(name: str, value: bytes | Envelope | None, reason: str, key: bytes | None = b"poison") -> Poison:
    return Poison(name, encode(value) if isinstance(value, Envelope) else value, reason, key)


POISON: list[Poison] = [
    # the record itself
    P("not json", b"hello", "body is not JSON"),
    P("not utf-8", b"\xff\xfe\x00{", "body is not valid UTF-8"),
    P("empty value", b"", "empty message body"),
    P("json array", b"[1, 2]", "envelope must be a JSON object"),
    P("json but no envelope", b'{"hello": "world"}', "Missing data for required field."),
    P("nested too deep", b'{"payload": ' + deep(50_000) + b"}", "body is nested too deeply"),
    P("integer past the digit limit", b'{"version": ' + b"9" * 5000 + b"}", "undecodable: ValueError"),
    P("version not an integer", wire(version="1"), "Not a valid integer."),
    P("lone surrogate in the id", wire(id="\ud800"), "envelope type, id or key holds"),
    P("null key", raw(order_body(9101)), "record has no key", key=None),
    P("key not utf-8", raw(order_body(9102)), "record key is not valid UTF-8", key=b"\xc3\x28"),
    P("key past the column", b"x", "body is not JSON", key=b"k" * 5000),
    # the envelope: not what the ingestor reads
    P("unknown type", Envelope("OrderPlaced", "k", raw(order_body(9103)).payload), "not a RawReceived v1"),
    P(
        "unknown version",
        Envelope("RawReceived", "k", raw(order_body(9104)).payload, 2),
        "not a RawReceived v1",
    ),
    P("heartbeat with broken hops", Envelope(HEARTBEAT, "k", {"ping": "p", "hops": "x"}), "heartbeat hops"),
    # the RawReceived payload
    P("body not base64", raw(order_body(9105), body_b64="!!not base64!!"), "not valid base64"),
    P("no body", raw(order_body(9106), body_b64=None), "Field may not be null."),
    P("unknown source", raw(order_body(9107), source="ftp"), "Must be one of"),
    P("received_at not a date", raw(order_body(9108), received_at="yesterday"), "Not a valid datetime."),
    P("unknown raw topic", raw(order_body(9109), topic="orders/deleted"), "unsupported raw topic"),
    P("shop nbsp", raw(order_body(9110), shop="\xa0"), "invalid_shop"),
    P("shop empty", raw(order_body(9111), shop=""), "Length must be between 1 and 255."),
    P("shop not a domain", raw(order_body(9112), shop="not a domain"), "invalid_shop"),
    P("shop padded", raw(order_body(9113), shop=" demo.myshopify.com"), "invalid_shop"),
    P("shop with NUL", raw(order_body(9114), shop="demo\x00shop"), "invalid_shop"),
    P("shop not ascii", raw(order_body(9115), shop="dëmo.example"), "invalid_shop"),
    P("redact for shop nbsp", raw(REDACT, topic="customers/redact", shop="\xa0"), "invalid_shop"),
    # the body the shop sent
    P("body not utf-8", raw(b'{"id": 9120, "email": "\xff@x.com"}'), "not_utf8"),
    P("body not json", raw(b"hello"), "not_json"),
    P("body empty", raw(b""), "empty_body"),
    P("body json array", raw(b"[1, 2, 3]"), "not_an_object"),
    P("body nested too deep", raw(b'{"id": 9121, "note": ' + deep(100_000) + b"}"), "too_deep"),
    P("body integer past the digit limit", raw(b'{"id": ' + b"9" * 5000 + b"}"), "too_large"),
    P("body NaN", raw(b'{"id": 9122, "total_price": NaN}'), "not_json"),
    P("body huge amount string", raw({**order_body(9123), "total_price": "9" * 400}), "not_a_decimal"),
    P("body huge id string", raw({**order_body(9124), "id": "9" * 400}), "not_an_id"),
    P("body lone surrogate email", raw({**order_body(9126), "email": "\ud800x@example.com"}), "not_utf8"),
    P("body NUL in email", raw({**order_body(9127), "email": "a\x00b@example.com"}), "invalid"),
    P("body duplicate keys", raw(b'{"id": 9125, "id": 1, "email": "a@b.co"}'), "duplicate_key"),
    # a handler bug that one message triggers, in the middle of a batch
    P(
        "handler ValueError",
        raw(order_body(9130), webhook_id="tripwire-value"),
        "handler_error: ValueError at ",
    ),
    P("handler KeyError", raw(order_body(9131), webhook_id="tripwire-key"), "handler_error: KeyError at "),
    P("handler TypeError", raw(order_body(9132), webhook_id="tripwire-type"), "handler_error: TypeError at "),
]


def tripwired(handler: Callable[[Sequence[Delivery]], Any]) -> Callable[[Sequence[Delivery]], Any]:
    """The real handler, plus a bug: it raises on any batch holding a tripwire message."""

    def handle(batch: Sequence[Delivery]) -> Any:
        for delivery in batch:
            error = TRIPWIRES.get(str(delivery.envelope.payload.get("webhook_id")))
            if error:
                raise error(f"cannot handle customer buyer{delivery.offset}@example.com")  # PII-laden text
        return handler(batch)

    return handle


@contextmanager
def ingestor(
    store: Store, broker: EmbeddedBroker, topic: str, tmp_path: Path, group: str
) -> Iterator[tuple[ConsumerRunner, threading.Thread]]:
    """The real ingestor handler (tripwired) in a real runner on its own thread."""
    ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=2)  # customers.changed, for the outbox relay
    publisher = Publisher(broker.bootstrap)
    handler = make_handler(store, publisher, cached_rates(store, "USD"), tmp_path / "exports")
    runner = ConsumerRunner(
        RunnerConfig(
            name=group,
            topics=(topic,),
            bootstrap=broker.bootstrap,
            poll_timeout_ms=100,
            session_timeout_ms=SESSION_TIMEOUT_MS,
            backoff_base=0.05,
            backoff_cap=0.5,
        ),
        tripwired(handler),
        publisher=publisher,
        seen=SqlSeenMessages(store),
        dead_letters=SqlDeadLetterSink(store),
    )
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    try:
        yield runner, thread
    finally:
        runner.stop.set()
        thread.join(15)
        publisher.close()


def stored_orders(store: Store) -> set[str]:
    with store.session() as s:
        return set(s.scalars(select(Order.order_id)))


def dead_letters(store: Store, group: str) -> dict[tuple[int, int], DeadLetterRecord]:
    with store.session() as s:
        rows = s.scalars(select(DeadLetterRecord).where(DeadLetterRecord.consumer == group))
        return {(d.partition, d.offset): d for d in rows}


def read_topic(bootstrap: str, topic: str, expected: int) -> list[bytes]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    parts = [TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()]
    consumer.assign(parts)
    consumer.seek_to_beginning(*parts)
    out: list[bytes] = []

    def read_all() -> bool:
        out.extend(r.value for b in consumer.poll(300).values() for r in b)
        return len(out) >= expected

    try:
        wait_for(read_all)
    finally:
        consumer.close()
    return out


def test_every_poison_shape_is_dead_lettered_and_the_ingestor_keeps_consuming(
    store: Store, broker: EmbeddedBroker, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic, group = new_topic("orders.raw", partitions=2), f"ingestor-{uuid.uuid4().hex[:6]}"
    good = [str(1000 + i) for i in range(len(POISON) + 10)]
    where: dict[tuple[int, int], Poison] = {}
    with Publisher(broker.bootstrap) as pub:
        for i, order_id in enumerate(good):
            pub.publish_raw(topic, f"{SHOP}/{order_id}".encode(), encode(raw(order_body(int(order_id)))))
            if i < len(POISON):
                poison = POISON[i]
                meta = pub.publish_raw(topic, poison.key, poison.value).get(timeout=10)  # type: ignore[arg-type]
                where[(meta.partition, meta.offset)] = poison
        pub.flush()
        with capture_logs() as logs, ingestor(store, broker, topic, tmp_path, group) as (_runner, thread):
            wait_for(
                lambda: stored_orders(store) >= set(good) and len(dead_letters(store, group)) >= len(POISON),
                timeout=90,
            )
            pub.publish_raw(topic, f"{SHOP}/2000".encode(), encode(raw(order_body(2000))))
            pub.flush()
            wait_for(lambda: "2000" in stored_orders(store))  # still consuming after all of it
            assert thread.is_alive()
    letters = dead_letters(store, group)
    assert set(letters) == set(where), sorted(p.name for c, p in where.items() if c not in letters)
    wrong = {
        p.name: letters[c].reason for c, p in where.items() if not letters[c].reason.startswith(p.reason)
    }
    assert wrong == {}
    assert all(d.reason and "example.com" not in d.reason for d in letters.values())
    assert all(d.key is None or len(d.key) <= 256 for d in letters.values())
    assert stored_orders(store) == {*good, "2000"}  # no poison order slipped in, no good one lost
    failed = [e for e in logs if e["event"] == "message.handler_failed"]
    assert sorted(e["error"] for e in failed) == ["KeyError", "TypeError", "ValueError"]
    assert len(read_topic(broker.bootstrap, dead_letter_topic(topic), len(POISON))) == len(POISON)


def _short_lock_waits(store: Store) -> None:
    """Make the ingestor's connections give up on a lock after 300 ms (the default waits 30 s)."""

    def on_connect(dbapi_conn: Any, _record: Any) -> None:
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA busy_timeout=300" if store.dialect == "sqlite" else "SET lock_timeout = '300ms'")
        cur.close()
        dbapi_conn.commit()  # a PostgreSQL SET rolled back with the pool's reset would not stick

    event.listen(store.engine, "connect", on_connect)
    store.dispose()


@contextmanager
def database_locked(store: Store) -> Iterator[None]:
    """Another process holds the write lock: a SQLite write transaction, a PostgreSQL table lock."""
    if store.dialect == "sqlite":
        conn = sqlite3.connect(store.url.split("///", 1)[1], isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    import psycopg

    with psycopg.connect(store.url.replace("postgresql+psycopg://", "postgresql://")) as pg:
        pg.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        yield
        pg.rollback()


def _retries(group: str) -> float:
    return REGISTRY.get_sample_value("audiencesync_handler_retries_total", {"consumer": group}) or 0.0


def test_a_locked_database_is_waited_out_and_nothing_is_dead_lettered(
    store: Store, broker: EmbeddedBroker, new_topic: Callable[..., str], tmp_path: Path
) -> None:
    topic, group = new_topic("orders.raw", partitions=2), f"ingestor-{uuid.uuid4().hex[:6]}"
    good = [str(3000 + i) for i in range(30)]
    _short_lock_waits(store)
    with Publisher(broker.bootstrap) as pub:
        for order_id in good:
            pub.publish_raw(topic, f"{SHOP}/{order_id}".encode(), encode(raw(order_body(int(order_id)))))
        pub.flush()
    with capture_logs(), ExitStack() as lock:
        lock.enter_context(database_locked(store))
        with ingestor(store, broker, topic, tmp_path, group) as (_runner, thread):
            wait_for(lambda: _retries(group) >= 2, timeout=30)  # the lock really was in the way
            lock.close()  # the database is back
            wait_for(lambda: stored_orders(store) == set(good), timeout=60)
            assert thread.is_alive()
    assert dead_letters(store, group) == {}
