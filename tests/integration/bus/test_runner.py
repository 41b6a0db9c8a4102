"""The consumer runner against the real embedded broker over TCP."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict

import pytest
from kafka import KafkaConsumer

from shared.bus.broker import EmbeddedBroker
from shared.bus.envelope import Envelope, decode
from shared.bus.failures import TransientError
from shared.bus.producer import Publisher
from tests.integration.bus.harness import MemorySeen, MemorySink, Recorder, start_runner, wait_for

pytestmark = pytest.mark.integration


def _read_all(bootstrap: str, topic: str, expected: int, timeout: float = 20.0) -> list[Envelope]:
    consumer = KafkaConsumer(
        topic,
        bootstrap_servers=bootstrap,
        auto_offset_reset="earliest",
        enable_auto_commit=False,
        group_id=f"reader-{uuid.uuid4().hex[:6]}",
    )
    out: list[Envelope] = []
    try:
        wait_for(
            lambda: (
                out.extend(decode(r.value) for b in consumer.poll(300).values() for r in b)
                or len(out) >= expected
            ),
            timeout,
        )
    finally:
        consumer.close()
    return out


def test_per_key_order_is_kept_across_partitions(broker: EmbeddedBroker, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic("order")
    keys = [f"customer-{i}" for i in range(40)]
    with Publisher(broker.bootstrap) as pub:
        for seq in range(50):
            for key in keys:
                pub.publish(topic, Envelope(type="T", key=key, payload={"seq": seq}))
        pub.flush()
    rec = Recorder()
    runner, thread = start_runner(broker.bootstrap, topic, f"g-{uuid.uuid4().hex[:6]}", rec)
    try:
        wait_for(lambda: len(rec.deliveries) >= 2000)
    finally:
        runner.stop.set()
        thread.join(10)
    seqs: dict[str, list[int]] = defaultdict(list)
    partitions: dict[str, set[int]] = defaultdict(set)
    for d in rec.deliveries:
        seqs[d.envelope.key].append(d.envelope.payload["seq"])
        partitions[d.envelope.key].add(d.partition)
    assert all(s == list(range(50)) for s in seqs.values())
    assert all(len(p) == 1 for p in partitions.values())
    assert len({p for ps in partitions.values() for p in ps}) == 4  # keys really spread out


def test_malformed_envelope_goes_to_dead_letter_topic_and_consumer_keeps_going(
    broker: EmbeddedBroker, new_topic
) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic("dlq")
    with Publisher(broker.bootstrap) as pub:
        pub.publish(topic, Envelope(type="T", key="a", payload={"n": 1}))
        pub.publish_raw(topic, b"a", b'{"type": "T", "version": "one"')
        pub.publish_raw(
            topic,
            b"a",
            json.dumps(
                {
                    "type": "T",
                    "version": 1,
                    "id": "x",
                    "key": "a",
                    "occurred_at": "2026-01-01T00:00:00Z",
                    "payload": [],
                }
            ).encode(),
        )
        pub.publish(topic, Envelope(type="T", key="a", payload={"n": 2}))
        pub.flush()
    rec, sink = Recorder(), MemorySink()
    runner, thread = start_runner(
        broker.bootstrap, topic, f"g-{uuid.uuid4().hex[:6]}", rec, dead_letters=sink
    )
    try:
        wait_for(lambda: len(rec.deliveries) == 2 and len(sink.letters) == 2)
    finally:
        runner.stop.set()
        thread.join(10)
    assert [d.envelope.payload["n"] for d in rec.deliveries] == [1, 2]
    letters = _read_all(broker.bootstrap, f"{topic}.dlq", 2)
    sources = sorted(
        (e.payload["source"]["offset"], e.payload["reason"], e.payload["field_path"]) for e in letters
    )
    assert sources[0][0] == 1 and sources[0][1].startswith("body is not JSON")
    assert sources[1] == (2, "Not a valid mapping type.", "payload")
    assert all(e.payload["source"]["topic"] == topic for e in letters)
    assert sorted(letter.offset for letter in sink.letters) == [1, 2]


def test_redelivered_envelope_ids_are_handled_once(broker: EmbeddedBroker, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic("dedupe")
    env = Envelope(type="T", key="k", payload={})
    with Publisher(broker.bootstrap) as pub:
        pub.publish(topic, env)
        pub.publish(topic, env)  # a producer retry or replay delivers the same id again
        pub.publish(topic, Envelope(type="T", key="k", payload={"last": True}))
        pub.flush()
    rec = Recorder()
    runner, thread = start_runner(
        broker.bootstrap, topic, f"g-{uuid.uuid4().hex[:6]}", rec, seen=MemorySeen()
    )
    try:
        wait_for(lambda: any(d.envelope.payload.get("last") for d in rec.deliveries))
    finally:
        runner.stop.set()
        thread.join(10)
    assert [d.envelope.id for d in rec.deliveries].count(env.id) == 1


def test_transient_error_retries_the_batch_until_it_succeeds(broker: EmbeddedBroker, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic("retry")
    with Publisher(broker.bootstrap) as pub:
        pub.publish_many(topic, [Envelope(type="T", key=f"k{i}", payload={"i": i}) for i in range(20)])
        pub.flush()
    failures = {"left": 2}

    def flaky(_batch: object) -> None:
        if failures["left"]:
            failures["left"] -= 1
            raise TransientError("database busy")

    rec = Recorder(before=flaky)
    runner, thread = start_runner(broker.bootstrap, topic, f"g-{uuid.uuid4().hex[:6]}", rec)
    try:
        wait_for(lambda: len({d.envelope.payload["i"] for d in rec.deliveries}) == 20)
    finally:
        runner.stop.set()
        thread.join(10)
    assert failures["left"] == 0
    assert sorted(d.envelope.payload["i"] for d in rec.deliveries) == list(range(20))


def test_two_consumers_in_one_group_share_the_partitions(broker: EmbeddedBroker, new_topic) -> None:  # type: ignore[no-untyped-def]
    topic = new_topic("share")
    group = f"g-{uuid.uuid4().hex[:6]}"
    first, second = Recorder(), Recorder()
    r1, t1 = start_runner(broker.bootstrap, topic, group, first)
    r2, t2 = start_runner(broker.bootstrap, topic, group, second)
    try:
        wait_for(
            lambda: (
                len(r1._consumer.assignment() if r1._consumer else ()) == 2
                and len(r2._consumer.assignment() if r2._consumer else ()) == 2
            ),
            timeout=40,
        )
        with Publisher(broker.bootstrap) as pub:
            pub.publish_many(topic, [Envelope(type="T", key=f"k{i}", payload={"i": i}) for i in range(400)])
            pub.flush()
        wait_for(lambda: len(first.deliveries) + len(second.deliveries) >= 400)
    finally:
        for r in (r1, r2):
            r.stop.set()
        t1.join(10)
        t2.join(10)
    p1 = {d.partition for d in first.deliveries}
    p2 = {d.partition for d in second.deliveries}
    assert p1 and p2 and not p1 & p2 and p1 | p2 == {0, 1, 2, 3}
    ids = [d.envelope.payload["i"] for d in first.deliveries + second.deliveries]
    assert sorted(ids) == list(range(400))


def test_the_runners_consumer_accepts_every_fetch_response_it_asks_for(broker: EmbeddedBroker) -> None:
    # kafka-python 2.x asks for fetches up to fetch_max_bytes (50 MB by default) but drops any
    # response frame over receive_message_max_bytes (1,000,000 by default) as "Invalid frame
    # length", then fetches the same data again: seen on the ingestor catching up on a backlog of
    # 512 KiB import batches (frames of 1.6 and 2.2 MB). The largest message must fit too.
    from shared.bus.consumer import ConsumerRunner, RunnerConfig
    from shared.bus.producer import MAX_MESSAGE_BYTES

    config = RunnerConfig(name="frames", topics=("frames",), bootstrap=broker.bootstrap)
    with Publisher(broker.bootstrap) as pub:
        consumer = ConsumerRunner(config, Recorder(), publisher=pub)._connect()
    try:
        limits = consumer.config
        assert limits["receive_message_max_bytes"] > limits["fetch_max_bytes"] >= MAX_MESSAGE_BYTES
        assert limits["fetch_max_bytes"] >= limits["max_partition_fetch_bytes"]
    finally:
        consumer.close()
