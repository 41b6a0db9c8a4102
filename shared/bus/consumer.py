"""The one consumer runner: poll a batch, decode, drop redeliveries, handle, dead-letter, commit.

Failure policy, written in exception types:
- ``InvalidMessage`` (undecodable envelope, or a handler's per-message rejection): the message goes
  to the dead-letter topic and sink with its reason and source coordinates; the batch goes on.
- ``TransientError`` from the handler: nothing is committed, the partitions are rewound to the
  batch start and the batch is retried after a jittered exponential backoff.
- Anything else: the process stops loudly; the uncommitted batch is redelivered to whoever
  takes the partitions over (at-least-once in, exactly-once in effect via idempotent handlers).
- A commit refused during a rebalance: the batch will come again; nothing crashes.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.bus import metrics
from shared.bus.envelope import Envelope, InvalidMessage, decode
from shared.bus.producer import Publisher
from shared.bus.topics import HEARTBEATS, dead_letter_topic
from shared.log import get_logger

log = get_logger(__name__)

HEARTBEAT = "Heartbeat"


class TransientError(Exception):
    """A failure that may pass (database busy, platform unavailable): retry the whole batch."""


@dataclass(frozen=True)
class Delivery:
    """An envelope with where it came from."""

    envelope: Envelope
    topic: str
    partition: int
    offset: int


@dataclass(frozen=True)
class DeadLetter:
    """Why a message was set aside, and where it is. Carries no payload: raw topics hold PII."""

    topic: str
    partition: int
    offset: int
    reason: str
    field_path: str | None = None
    message_id: str | None = None
    message_type: str | None = None
    key: str | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    @classmethod
    def of(cls, delivery: Delivery, reason: str, field_path: str | None = None) -> DeadLetter:
        """A dead letter for a decoded delivery the handler rejected."""
        env = delivery.envelope
        return cls(
            delivery.topic,
            delivery.partition,
            delivery.offset,
            reason,
            field_path,
            env.id,
            env.type,
            env.key,
        )

    def to_envelope(self) -> Envelope:
        """The envelope published on the dead-letter topic."""
        return Envelope(
            type="DeadLettered",
            key=self.key or "",
            payload={
                "source": {"topic": self.topic, "partition": self.partition, "offset": self.offset},
                "reason": self.reason,
                "field_path": self.field_path,
                "message_id": self.message_id,
                "message_type": self.message_type,
            },
        )


Handler = Callable[[Sequence[Delivery]], Iterable[DeadLetter] | None]


class SeenMessages(Protocol):
    """Remembers which envelope ids a consumer has fully handled (de-duplication of redeliveries)."""

    def seen(self, consumer: str, ids: Sequence[str]) -> set[str]: ...
    def mark(self, consumer: str, ids: Sequence[str]) -> None: ...


class DeadLetterSink(Protocol):
    """Durable record of dead letters beside the topic (the database table)."""

    def record(self, consumer: str, letters: Sequence[DeadLetter]) -> None: ...


@dataclass
class RunnerConfig:
    """How one consumer polls and commits."""

    name: str  # consumer group id, also the metrics label
    topics: tuple[str, ...]
    bootstrap: str
    batch_size: int = 500
    poll_timeout_ms: int = 500
    session_timeout_ms: int = 10000
    heartbeat_forward_to: str | None = None  # None: this is the last hop, reply on HEARTBEATS
    backoff_base: float = 0.2
    backoff_cap: float = 10.0


def install_stop_signals(stop: threading.Event) -> None:
    """Set ``stop`` on SIGTERM and SIGINT so the runner finishes its batch and exits cleanly."""
    import signal

    def _handler(signum: int, _frame: Any) -> None:
        log.info("signal.stop", signal=signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, _handler)
    signal.signal(signal.SIGINT, _handler)


class ConsumerRunner:
    """Runs one handler over a consumer group until ``stop`` is set."""

    def __init__(
        self,
        config: RunnerConfig,
        handler: Handler,
        *,
        publisher: Publisher,
        seen: SeenMessages | None = None,
        dead_letters: DeadLetterSink | None = None,
        on_idle: Callable[[], None] | None = None,
        service: str | None = None,
    ) -> None:
        self.config = config
        self.handler = handler
        self.publisher = publisher
        self.seen = seen
        self.sink = dead_letters
        self.on_idle = on_idle
        self.service = service or config.name
        self.stop = threading.Event()
        self._consumer: Any = None

    def _connect(self) -> Any:
        from kafka import KafkaConsumer

        return KafkaConsumer(
            *self.config.topics,
            bootstrap_servers=self.config.bootstrap,
            group_id=self.config.name,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
            max_poll_records=self.config.batch_size,
            session_timeout_ms=self.config.session_timeout_ms,
            heartbeat_interval_ms=max(1000, self.config.session_timeout_ms // 3),
            client_id=f"{self.config.name}-{id(self):x}",
        )

    def run(self) -> None:
        """Poll and handle until stopped; unexpected handler errors propagate (stop loudly)."""
        self._consumer = self._connect()
        log.info("consumer.started", consumer=self.config.name, topics=list(self.config.topics))
        attempt = 0
        try:
            while not self.stop.is_set():
                polled = self._consumer.poll(
                    timeout_ms=self.config.poll_timeout_ms, max_records=self.config.batch_size
                )
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    if self.on_idle:
                        self.on_idle()
                    continue
                try:
                    with metrics.BATCH_SECONDS.labels(self.config.name).time():
                        self._process(records)
                    attempt = 0
                except TransientError as exc:
                    attempt += 1
                    delay = min(self.config.backoff_cap, self.config.backoff_base * 2**attempt)
                    delay *= random.uniform(0.5, 1.0)
                    metrics.RETRIES.labels(self.config.name).inc()
                    log.warning(
                        "batch.retry",
                        consumer=self.config.name,
                        attempt=attempt,
                        delay=round(delay, 2),
                        error=str(exc),
                    )
                    self._rewind(records)
                    self.stop.wait(delay)
                    continue
                self._commit(records)
        finally:
            self._consumer.close(autocommit=False)
            log.info("consumer.stopped", consumer=self.config.name)

    def _process(self, records: list[Any]) -> None:
        letters: list[DeadLetter] = []
        deliveries: list[Delivery] = []
        for rec in records:
            try:
                env = decode(rec.value)
            except InvalidMessage as exc:
                key = rec.key.decode("utf-8", "replace") if rec.key else None
                letters.append(
                    DeadLetter(rec.topic, rec.partition, rec.offset, exc.reason, exc.field_path, key=key)
                )
                continue
            deliveries.append(Delivery(env, rec.topic, rec.partition, rec.offset))
        deliveries = self._drop_duplicates(deliveries)
        beats = [d for d in deliveries if d.envelope.type == HEARTBEAT]
        work = [d for d in deliveries if d.envelope.type != HEARTBEAT]
        if work:
            letters.extend(self.handler(work) or ())
        for beat in beats:
            self._forward_heartbeat(beat)
        if letters:
            self._dead_letter(letters)
        self.publisher.flush()
        if self.seen is not None and deliveries:
            self.seen.mark(self.config.name, [d.envelope.id for d in deliveries])
        for rec in records:
            metrics.MESSAGES.labels(self.config.name, rec.topic).inc()

    def _drop_duplicates(self, deliveries: list[Delivery]) -> list[Delivery]:
        """Drop repeats of an id within the batch and ids already handled in earlier batches."""
        first: dict[str, Delivery] = {}
        for d in deliveries:
            first.setdefault(d.envelope.id, d)
        unique = list(first.values())
        done = (
            self.seen.seen(self.config.name, [d.envelope.id for d in unique])
            if self.seen and unique
            else set()
        )
        fresh = [d for d in unique if d.envelope.id not in done]
        if len(fresh) < len(deliveries):
            metrics.DUPLICATES.labels(self.config.name).inc(len(deliveries) - len(fresh))
        return fresh

    def _forward_heartbeat(self, beat: Delivery) -> None:
        hops = [
            *beat.envelope.payload.get("hops", []),
            {"service": self.service, "topic": beat.topic, "at": datetime.now(UTC).isoformat()},
        ]
        env = Envelope(type=HEARTBEAT, key=beat.envelope.key, payload={**beat.envelope.payload, "hops": hops})
        self.publisher.publish(self.config.heartbeat_forward_to or HEARTBEATS, env)

    def _dead_letter(self, letters: Sequence[DeadLetter]) -> None:
        for letter in letters:
            self.publisher.publish(dead_letter_topic(letter.topic), letter.to_envelope())
            metrics.DEAD_LETTERS.labels(self.config.name, letter.topic).inc()
            log.warning(
                "message.dead_lettered",
                consumer=self.config.name,
                topic=letter.topic,
                partition=letter.partition,
                offset=letter.offset,
                reason=letter.reason,
                field_path=letter.field_path,
            )
        if self.sink is not None:
            self.sink.record(self.config.name, letters)

    def _last_offsets(self, records: list[Any]) -> dict[Any, tuple[int, int]]:
        from kafka.structs import TopicPartition

        spans: dict[Any, tuple[int, int]] = {}
        for rec in records:
            tp = TopicPartition(rec.topic, rec.partition)
            first, last = spans.get(tp, (rec.offset, rec.offset))
            spans[tp] = (min(first, rec.offset), max(last, rec.offset))
        return spans

    def _rewind(self, records: list[Any]) -> None:
        from kafka.errors import IllegalStateError

        for tp, (first, _) in self._last_offsets(records).items():
            # A partition revoked meanwhile cannot be sought: its new owner starts from the commit.
            with contextlib.suppress(IllegalStateError, AssertionError):
                self._consumer.seek(tp, first)

    def _commit(self, records: list[Any]) -> None:
        from kafka.errors import CommitFailedError, IllegalGenerationError, RebalanceInProgressError
        from kafka.structs import OffsetAndMetadata

        offsets = {
            tp: OffsetAndMetadata(last + 1, "", -1) for tp, (_, last) in self._last_offsets(records).items()
        }
        try:
            self._consumer.commit(offsets)
        except (CommitFailedError, RebalanceInProgressError, IllegalGenerationError) as exc:
            # The group moved on while we worked: the batch is redelivered to the new owner and
            # de-duplicated by id there; effects are idempotent, so this is safe to ignore.
            metrics.COMMIT_REFUSED.labels(self.config.name).inc()
            log.warning("commit.refused", consumer=self.config.name, error=type(exc).__name__)


def unhandled(deliveries: Sequence[Delivery]) -> list[DeadLetter]:
    """Handler for a service with nothing to do yet: every message type is unknown to it."""
    return [
        DeadLetter.of(d, f"no handler for message type {d.envelope.type!r} v{d.envelope.version}")
        for d in deliveries
    ]
