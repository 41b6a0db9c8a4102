"""Dead letters over HTTP with the real broker: list, resolve, replay while the broker holds the message."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from kafka import KafkaConsumer, TopicPartition

from services.cli.main import main
from shared.bus.broker import EmbeddedBroker
from shared.bus.envelope import Envelope, decode
from shared.bus.producer import Publisher
from shared.messages import CustomerChanged
from shared.store.db import Store
from shared.store.models import DeadLetterRecord
from tests.integration.api.conftest import Api, make_api

pytestmark = pytest.mark.integration


@pytest.fixture
def broker_api(store: Store, broker: EmbeddedBroker) -> Iterator[Api]:
    api = make_api(store, api_rate_per_second=0, kafka_bootstrap=broker.bootstrap)
    yield api
    api.app.extensions["audiencesync"].close()


def _letter(store: Store, topic: str, partition: int, offset: int, message_id: str | None) -> int:
    with store.transaction() as session:
        row = DeadLetterRecord(
            consumer="scorer",
            topic=topic,
            partition=partition,
            offset=offset,
            reason="decoding failed",
            message_id=message_id,
            created_at=datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return int(row.id)


def _ids_on(bootstrap: str, topic: str, partition: int) -> list[str]:
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False, consumer_timeout_ms=1500)
    tp = TopicPartition(topic, partition)
    consumer.assign([tp])
    consumer.seek_to_beginning(tp)
    found = [decode(r.value).id for r in consumer]
    consumer.close()
    return found


def test_replay_republishes_the_message_the_broker_still_holds(
    broker_api: Api, broker: EmbeddedBroker, new_topic: Any
) -> None:
    topic = new_topic("dl", partitions=1)
    envelope: Envelope = CustomerChanged("c" * 64, "order").to_envelope()
    with Publisher(broker.bootstrap) as publisher:
        meta = publisher.publish(topic, envelope).get(timeout=10)
    letter = _letter(broker_api.store, topic, 0, meta.offset, envelope.id)
    answer = broker_api.call("POST", f"/dead-letters/{letter}/replay", "operate")
    assert answer.status_code == 202 and answer.json["status"] == "replayed", answer.json
    assert _ids_on(broker.bootstrap, topic, 0) == [envelope.id, envelope.id]
    listed = broker_api.call("GET", "/dead-letters?consumer=scorer", "read").json["items"]
    assert listed[0]["id"] == letter and listed[0]["replayed_at"]
    audit = broker_api.call("GET", "/audit?action=dead_letter.replayed").json["items"]
    assert [e["target"] for e in audit] == [f"dead_letter:{letter}"]


def test_replay_says_clearly_when_the_broker_no_longer_holds_it(
    broker_api: Api, broker: EmbeddedBroker, new_topic: Any
) -> None:
    topic = new_topic("dl", partitions=1)
    other = CustomerChanged("d" * 64, "order").to_envelope()
    with Publisher(broker.bootstrap) as publisher:
        meta = publisher.publish(topic, other).get(timeout=10)
    gone = _letter(broker_api.store, topic, 0, meta.offset + 50, "m-gone")
    answer = broker_api.call("POST", f"/dead-letters/{gone}/replay", "operate")
    assert answer.status_code == 410 and answer.json["code"] == "message_gone"
    assert "no longer holds" in answer.json["detail"]
    replaced = _letter(broker_api.store, topic, 0, meta.offset, "another-id")
    answer = broker_api.call("POST", f"/dead-letters/{replaced}/replay", "operate")
    assert answer.status_code == 410 and answer.json["code"] == "message_replaced"
    assert _ids_on(broker.bootstrap, topic, 0) == [other.id]  # nothing was sent
    assert broker_api.call("POST", "/dead-letters/999999/replay", "operate").status_code == 404


def test_resolve_is_idempotent_and_filters_see_it(broker_api: Api) -> None:
    letter = _letter(broker_api.store, "orders.raw", 0, 5, "m-resolve")
    first = broker_api.call("POST", f"/dead-letters/{letter}/resolve", "operate").json
    again = broker_api.call("POST", f"/dead-letters/{letter}/resolve", "admin").json
    assert first["resolved_by"] == again["resolved_by"] and first["resolved_at"] == again["resolved_at"]
    resolved = broker_api.call("GET", "/dead-letters?resolved=true", "read").json
    assert [d["id"] for d in resolved["items"]] == [letter]
    assert letter not in [
        d["id"] for d in broker_api.call("GET", "/dead-letters?resolved=false", "read").json["items"]
    ]
    audit = broker_api.call("GET", f"/audit?target=dead_letter:{letter}").json
    assert audit["total"] == 1


def test_replay_fetches_a_message_larger_than_kafka_pythons_default_frame(
    broker_api: Api, broker: EmbeddedBroker, new_topic: Any, caplog: pytest.LogCaptureFixture
) -> None:
    import logging
    import os

    topic = new_topic("dl", partitions=1)
    # ~3 MB of hex, ~1.6 MB gzipped on the wire: over kafka-python's 1,000,000-byte frame default.
    big = Envelope(type="OrderReceived", key="k", payload={"blob": os.urandom(1_500_000).hex()})
    with Publisher(broker.bootstrap) as publisher:
        meta = publisher.publish(topic, big).get(timeout=10)
    letter = _letter(broker_api.store, topic, 0, meta.offset, big.id)
    with caplog.at_level(logging.ERROR, logger="kafka"):
        answer = broker_api.call("POST", f"/dead-letters/{letter}/replay", "operate")
    assert answer.status_code == 202 and answer.json["status"] == "replayed", answer.json
    # With kafka-python's default frame limit the fetch is dropped and retried (logged as errors).
    assert not [r for r in caplog.records if "Invalid frame length" in r.getMessage()]


def _refused(store: Store, reason: str, *, consumer: str = "ingestor", at: datetime | None = None) -> int:
    with store.transaction() as session:
        row = DeadLetterRecord(
            consumer=consumer,
            topic="orders.raw",
            partition=0,
            offset=0,
            reason=reason,
            message_id=uuid.uuid4().hex,
            created_at=at or datetime.now(UTC),
        )
        session.add(row)
        session.flush()
        return int(row.id)


def _unresolved(api: Api) -> set[int]:
    return {d["id"] for d in api.call("GET", "/dead-letters?resolved=false&limit=100", "read").json["items"]}


def test_resolving_by_filter_marks_only_the_matching_unresolved_ones(
    api: Api, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """After loading the missing rate and importing again, the failed attempt's letters are history."""
    old = datetime(2026, 1, 1, tzinfo=UTC)
    sek = [_refused(api.store, "no exchange rate for SEK on 2025-03-01") for _ in range(3)]
    sek_old = _refused(api.store, "no exchange rate for SEK on 2025-03-01", at=old)
    other = _refused(api.store, "email: not an email address")
    scorer = _refused(api.store, "no exchange rate for SEK", consumer="scorer")
    assert api.call("POST", "/dead-letters/resolve", "read", json={"reason": "SEK"}).status_code == 403
    refused = api.call("POST", "/dead-letters/resolve", "operate", json={})
    assert refused.status_code == 422 and "all: true" in refused.get_data(as_text=True)
    before = {"reason": "for SEK", "consumer": "ingestor", "before": "2026-06-01T00:00:00+00:00"}
    assert api.call("POST", "/dead-letters/resolve", "operate", json=before).json == {"resolved": 1}
    assert _unresolved(api) == {*sek, other, scorer}
    answer = api.call(  # any case, on both databases
        "POST", "/dead-letters/resolve", "operate", json={"reason": "sek", "consumer": "ingestor"}
    )
    assert answer.json == {"resolved": 3} and _unresolved(api) == {other, scorer}
    again = api.call(
        "POST", "/dead-letters/resolve", "operate", json={"reason": "SEK", "consumer": "ingestor"}
    )
    assert again.json == {"resolved": 0}  # the resolved ones keep their first resolver and time
    audit = api.call("GET", "/audit?target=dead_letters").json
    assert audit["total"] == 3 and {e["details"]["resolved"] for e in audit["items"]} == {0, 1, 3}
    assert sek_old not in _unresolved(api)
    # The command line does the same, and refuses to resolve everything without --all.
    monkeypatch.setenv("DATABASE_URL", api.store.url)
    assert main(["dead-letters", "resolve"]) == 2
    assert main(["dead-letters", "resolve", "--reason", "email"]) == 0
    assert "resolved 1 dead letters" in capsys.readouterr().out
    assert main(["dead-letters", "list", "--unresolved", "--json"]) == 0
    listed = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["consumer"], d["reason"]) for d in listed] == [("scorer", "no exchange rate for SEK")]
    assert main(["dead-letters", "resolve", "--all"]) == 0 and _unresolved(api) == set()
