"""The runner's failure policy with a fake log and fake handlers: poison is isolated, outages retry."""

from __future__ import annotations

import json
from collections.abc import Callable, MutableMapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pytest
from kafka.errors import KafkaTimeoutError
from sqlalchemy.exc import IntegrityError, OperationalError
from structlog.testing import capture_logs

from shared.bus.consumer import HEARTBEAT, ConsumerRunner, RunnerConfig
from shared.bus.envelope import Envelope, encode
from shared.bus.failures import TransientError
from shared.bus.records import MAX_HEARTBEAT_BYTES, DeadLetter, Delivery, decode_record
from shared.bus.topics import dead_letter_topic

TOPIC = "orders.raw"


@dataclass
class Record:
    """The fields of kafka-python's ``ConsumerRecord`` the runner reads."""

    offset: int
    value: bytes | None
    key: bytes | None = b"k"
    topic: str = TOPIC
    partition: int = 0


class FakeLog:
    """One partition: ``poll`` reads from the position, ``seek`` rewinds, ``commit`` records."""

    def __init__(self, records: Sequence[Record]) -> None:
        self.records = list(records)
        self.position = 0
        self.committed = 0

    def poll(self, timeout_ms: int, max_records: int) -> dict[str, list[Record]]:
        batch = self.records[self.position : self.position + max_records]
        self.position += len(batch)
        return {"tp": batch} if batch else {}

    def seek(self, _tp: object, offset: int) -> None:
        self.position = offset

    def commit(self, offsets: dict[Any, Any]) -> None:
        self.committed = max(o.offset for o in offsets.values())

    def close(self, autocommit: bool) -> None:
        pass


@dataclass
class FakePublisher:
    sent: list[tuple[str, Envelope]] = field(default_factory=list)

    def publish(self, topic: str, envelope: Envelope) -> None:
        self.sent.append((topic, envelope))

    def flush(self, timeout: float | None = None) -> None:
        pass


@dataclass
class Sink:
    letters: list[DeadLetter] = field(default_factory=list)

    def record(self, consumer: str, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)


class Store:
    """A handler with transactional effects: a call's messages count only if it returns."""

    def __init__(self, fail: Callable[[Delivery], None] = lambda _d: None) -> None:
        self.fail = fail
        self.applied: list[int] = []
        self.calls = 0

    def __call__(self, batch: Sequence[Delivery]) -> list[DeadLetter]:
        self.calls += 1
        for delivery in batch:
            self.fail(delivery)
        self.applied.extend(
            d.envelope.payload["n"] for d in batch if d.envelope.payload["n"] not in self.applied
        )
        return []


class Runner(ConsumerRunner):
    """The real runner on a fake log; stops at the first empty poll."""

    def __init__(self, log: FakeLog, handler: Any, *, batch_size: int = 50) -> None:
        config = RunnerConfig(
            name="test", topics=(TOPIC,), bootstrap="-", batch_size=batch_size, backoff_base=0.001
        )
        self.log, self.recorded, self.out = log, Sink(), FakePublisher()
        super().__init__(config, handler, publisher=self.out, dead_letters=self.recorded)  # type: ignore[arg-type]
        self.on_idle = self.stop.set
        self.logs: list[MutableMapping[str, Any]] = []

    def _connect(self) -> Any:
        return self.log

    @property
    def letters(self) -> list[DeadLetter]:
        return self.recorded.letters


def message(n: int, key: str = "k", **payload: Any) -> bytes:
    return encode(Envelope(type="T", key=key, payload={"n": n, **payload}, id=f"m{n}"))


def run(records: Sequence[Record], handler: Any, **kwargs: Any) -> Runner:
    runner = Runner(FakeLog(records), handler, **kwargs)
    with capture_logs() as logs:  # also spares the dev renderer's slow tracebacks
        runner.run()
    runner.logs = logs
    return runner


@pytest.mark.parametrize("error", [ValueError, KeyError, TypeError, RecursionError, ZeroDivisionError])
def test_a_message_the_handler_raises_on_is_dead_lettered_and_every_other_one_is_handled(
    error: type[Exception],
) -> None:
    def fail(delivery: Delivery) -> None:
        if delivery.envelope.payload.get("poison"):
            raise error("customer jane@example.com broke it")  # text that must not be stored

    records = [Record(i, message(i, poison=i in {3, 17, 18})) for i in range(40)]
    store = Store(fail)
    runner = run(records, store)
    assert store.applied == [i for i in range(40) if i not in {3, 17, 18}]  # order kept
    assert sorted(letter.offset for letter in runner.letters) == [3, 17, 18]
    for letter in runner.letters:
        assert letter.reason.startswith(f"handler_error: {error.__name__} at tests/unit/foundation/")
        assert "example.com" not in letter.reason and letter.message_id == f"m{letter.offset}"
    assert [t for t, _ in runner.out.sent] == [dead_letter_topic(TOPIC)] * 3
    failed = [e for e in runner.logs if e["event"] == "message.handler_failed"]
    assert [(e["offset"], e["error"]) for e in failed] == [(n, error.__name__) for n in (3, 17, 18)]
    assert all(isinstance(e["exc_info"], error) for e in failed)  # the traceback is logged
    assert runner.log.committed == 40


def test_a_batch_of_nothing_but_poison_is_dead_lettered_whole() -> None:
    def fail(_delivery: Delivery) -> None:
        raise ValueError

    runner = run([Record(i, message(i)) for i in range(7)], Store(fail))
    assert sorted(letter.offset for letter in runner.letters) == list(range(7))
    assert runner.log.committed == 7


def test_an_invalid_message_raised_for_the_batch_keeps_its_own_reason() -> None:
    from shared.bus.envelope import InvalidMessage

    def fail(delivery: Delivery) -> None:
        if delivery.envelope.payload["n"] == 1:
            raise InvalidMessage("not_a_decimal", "payload.total")

    runner = run([Record(i, message(i)) for i in range(3)], Store(fail))
    assert [(x.offset, x.reason, x.field_path) for x in runner.letters] == [
        (1, "not_a_decimal", "payload.total")
    ]


@pytest.mark.parametrize(
    "outage",
    [
        OperationalError("INSERT", {}, Exception("database is locked")),
        KafkaTimeoutError("flush timed out"),
        ConnectionResetError(104, "reset by peer"),
        TransientError("platform unavailable"),
    ],
    ids=["database", "broker", "socket", "declared"],
)
def test_infrastructure_failures_retry_the_batch_and_dead_letter_nothing(outage: Exception) -> None:
    left = {"failures": 3}

    def fail(_delivery: Delivery) -> None:
        if left["failures"]:
            left["failures"] -= 1
            raise outage

    store = Store(fail)
    runner = run([Record(i, message(i)) for i in range(10)], store)
    assert runner.letters == []
    assert store.applied == list(range(10)) and store.calls == 4
    assert runner.log.committed == 10


def test_a_sink_outage_retries_rather_than_losing_the_dead_letter() -> None:
    class FlakySink(Sink):
        down = 2

        def record(self, consumer: str, letters: Sequence[DeadLetter]) -> None:
            if self.down:
                self.down -= 1
                raise OperationalError("INSERT", {}, Exception("database is locked"))
            super().record(consumer, letters)

    runner = Runner(FakeLog([Record(0, b"garbage"), Record(1, message(1))]), Store())
    runner.recorded = runner.sink = FlakySink()
    with capture_logs():
        runner.run()
    assert [letter.offset for letter in runner.letters] == [0]


def test_a_concurrent_write_conflict_is_retried_and_a_persistent_one_isolated() -> None:
    conflict = IntegrityError("INSERT", {}, Exception("UNIQUE constraint failed"))
    once = {"left": 1}

    def fail_once(_delivery: Delivery) -> None:
        if once["left"]:
            once["left"] -= 1
            raise conflict

    runner = run([Record(i, message(i)) for i in range(5)], Store(fail_once))
    assert runner.letters == []

    def fail_always(delivery: Delivery) -> None:
        if delivery.envelope.payload["n"] == 2:
            raise conflict

    store = Store(fail_always)
    runner = run([Record(i, message(i)) for i in range(5)], store)
    assert [(x.offset, x.reason.split(" at ")[0]) for x in runner.letters] == [
        (2, "handler_error: IntegrityError")
    ]
    assert store.applied == [0, 1, 3, 4]


def _deep(depth: int) -> bytes:
    return ("[" * depth + "]" * depth).encode()


def _envelope(**fields: Any) -> bytes:
    body = {"type": "T", "version": 1, "id": "i", "occurred_at": "2026-01-01T00:00:00Z", "key": "k"}
    body["payload"] = {}
    body.update(fields)
    return json.dumps(body).encode()


RECORDS = [
    ("no value", None, b"k", "empty message body"),
    ("not utf-8", b"\xff\xfe{}", b"k", "body is not valid UTF-8"),
    ("not json", b"hello", b"k", "body is not JSON"),
    ("json array", b"[1, 2]", b"k", "envelope must be a JSON object"),
    ("deeply nested", b'{"payload": ' + _deep(100_000) + b"}", b"k", "body is nested too deeply"),
    ("huge integer", b'{"version": ' + b"9" * 5000 + b"}", b"k", "undecodable: ValueError"),
    ("unknown version", _envelope(version=0), b"k", "Must be greater than or equal to 1."),
    ("payload not an object", _envelope(payload=[1]), b"k", "Not a valid mapping type."),
    ("null key", _envelope(), None, "record has no key"),
    ("key not utf-8", _envelope(), b"\xff", "record key is not valid UTF-8"),
    ("lone surrogate id", _envelope(id="\ud800"), b"k", "envelope type, id or key holds"),
    ("NUL in key", _envelope(key="a\x00b"), b"k", "envelope type, id or key holds"),
]


@pytest.mark.parametrize(("value", "key", "reason"), [r[1:] for r in RECORDS], ids=[r[0] for r in RECORDS])
def test_records_that_are_not_messages_become_dead_letters(
    value: bytes | None, key: bytes | None, reason: str
) -> None:
    got = decode_record(Record(7, value, key))
    assert isinstance(got, DeadLetter)
    assert got.reason.startswith(reason) and got.offset == 7


def test_poison_records_never_stop_the_runner_and_their_letters_fit_the_table() -> None:
    records = [Record(i, value, key) for i, (_, value, key, _) in enumerate(RECORDS)]
    records.append(Record(len(records), b"x", b"\xff" * 1000))  # a key longer than the column
    records.append(Record(len(records), message(99)))
    store = Store()
    runner = run(records, store)
    assert store.applied == [99]
    assert len(runner.letters) == len(records) - 1
    for letter in runner.letters:
        assert letter.reason
        assert letter.key is None or len(letter.key) <= 256
        for text in (letter.key, letter.message_id, letter.message_type):
            assert text is None or ("\x00" not in text and text.encode("utf-8"))


def _beat(payload: dict[str, Any]) -> bytes:
    return encode(Envelope(type=HEARTBEAT, key="ping", payload=payload))


def test_heartbeats_are_forwarded_and_broken_ones_dead_lettered() -> None:
    records = [
        Record(0, _beat({"ping": "a", "hops": []})),
        Record(1, _beat({"ping": "b", "hops": 5})),
        Record(2, _beat({"ping": "c", "hops": [], "pad": "x" * MAX_HEARTBEAT_BYTES})),
        Record(3, _envelope(type=HEARTBEAT, payload={"ping": "\ud800"})),
    ]
    runner = run(records, Store())
    forwarded = [env.payload["ping"] for topic, env in runner.out.sent if env.type == HEARTBEAT]
    assert forwarded == ["a"]
    assert sorted((x.offset, x.reason.split(":")[0]) for x in runner.letters) == [
        (1, "heartbeat hops is not a list"),
        (2, "heartbeat too large"),
        (3, "heartbeat is not encodable"),
    ]


def test_a_fault_of_the_runner_itself_still_stops_it_loudly() -> None:
    class BrokenSeen:
        def seen(self, consumer: str, ids: Sequence[str]) -> set[str]:
            raise AttributeError("a bug in the runner's own wiring")

        def mark(self, consumer: str, ids: Sequence[str]) -> None: ...

    runner = Runner(FakeLog([Record(0, message(0))]), Store())
    runner.seen = BrokenSeen()
    with pytest.raises(AttributeError):
        runner.run()
    assert runner.log.committed == 0
