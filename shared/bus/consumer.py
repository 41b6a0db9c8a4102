"""The one consumer runner: poll a batch, decode, drop redeliveries, handle, dead-letter, commit.

Failure policy, written in exception types; no single message can stop a consumer:
- A record that is not a message (not UTF-8, not JSON, not an envelope, no key, nested too deep)
  and ``InvalidMessage`` (a handler's per-message rejection): the message goes to the
  dead-letter topic and sink with its reason and source coordinates; the batch goes on.
- Infrastructure failures: ``TransientError``, and the database, broker and network errors
  ``is_infrastructure`` recognises (handlers let them out; the runner owns the translation):
  nothing is committed, the partitions are rewound to the batch start and the batch is retried
  after a jittered exponential backoff, for as long as it takes.
- ``IntegrityError`` (a concurrent writer inserted the same row first): retried the same way up
  to ``conflict_retries`` times in a row, since idempotent writes converge; then as below.
- Any other exception from the handler: the batch is halved until the message that still fails
  alone is found; every other message is handled, that one is dead-lettered as
  ``handler_error: <type> at <file>:<line>`` (never the error's text, which may quote PII),
  counted and logged with its traceback.
- A commit refused during a rebalance: the batch will come again; nothing crashes.
- A failure of the runner itself (polling, committing) still stops the process loudly; the
  uncommitted batch is redelivered to whoever takes the partitions over.

Which errors are which is decided in ``shared.bus.failures``; turning records into deliveries or
dead letters, in ``shared.bus.records``. This module acts on their answers.
"""

from __future__ import annotations

import contextlib
import random
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from shared.bus import metrics
from shared.bus.envelope import Envelope
from shared.bus.failures import ConflictBudget, TransientError, as_transient, describe, poison_reason
from shared.bus.failures import is_infrastructure as is_infrastructure  # re-exported: syncer_meta
from shared.bus.producer import MAX_MESSAGE_BYTES, Publisher
from shared.bus.records import DeadLetter as DeadLetter  # re-exported: the handler contract
from shared.bus.records import Delivery as Delivery  # re-exported: the handler contract
from shared.bus.records import decode_record, heartbeat_problem
from shared.bus.topics import HEARTBEATS, dead_letter_topic
from shared.log import get_logger

log = get_logger(__name__)

HEARTBEAT = "Heartbeat"
# kafka-python's defaults disagree: fetches of up to 50 MB, but response frames over 1 MB dropped
# as "Invalid frame length" and fetched again (seen on a backlog of 512 KiB import batches). Every
# consumer that reads records asks for what it accepts, and the largest message fits.
FETCH_LIMITS: dict[str, int] = {
    "fetch_max_bytes": 2 * MAX_MESSAGE_BYTES,
    "receive_message_max_bytes": 2 * MAX_MESSAGE_BYTES + (1 << 20),  # + response headers
}


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
    max_poll_interval_ms: int = 300_000  # kafka-python's default; the handler must return well within it
    heartbeat_forward_to: str | None = None  # None: this is the last hop, reply on HEARTBEATS
    backoff_base: float = 0.2
    backoff_cap: float = 10.0
    conflict_retries: int = 3  # IntegrityError retries in a row before it counts as the message's


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
        self._conflicts = ConflictBudget(config.conflict_retries)  # IntegrityErrors retried in a row

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
            max_poll_interval_ms=self.config.max_poll_interval_ms,
            heartbeat_interval_ms=max(1000, self.config.session_timeout_ms // 3),
            client_id=f"{self.config.name}-{id(self):x}",
            check_crcs=_crc_is_cheap(),
            **FETCH_LIMITS,
        )

    def run(self) -> None:
        """Poll and handle until stopped; infrastructure failures retry, poison is dead-lettered."""
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
                    self._idle()
                    continue
                try:
                    with metrics.BATCH_SECONDS.labels(self.config.name).time():
                        self._process(records)
                except Exception as exc:
                    if not is_infrastructure(exc):
                        raise  # a fault of the runner itself (the handler's are isolated)
                    attempt += 1
                    delay = min(self.config.backoff_cap, self.config.backoff_base * 2**attempt)
                    delay *= random.uniform(0.5, 1.0)
                    metrics.RETRIES.labels(self.config.name).inc()
                    log.warning(
                        "batch.retry",
                        consumer=self.config.name,
                        attempt=attempt,
                        delay=round(delay, 2),
                        error=describe(exc),
                    )
                    self._rewind(records)
                    self.stop.wait(delay)
                    continue
                attempt = 0
                self._conflicts.reset()
                self._commit(records)
        finally:
            self._consumer.close(autocommit=False)
            log.info("consumer.stopped", consumer=self.config.name)

    def _idle(self) -> None:
        if self.on_idle is None:
            return
        try:
            self.on_idle()
        except Exception as exc:
            if not is_infrastructure(exc):
                raise
            # Idle work (a syncer's due flush) is tried again at the next empty poll.
            metrics.RETRIES.labels(self.config.name).inc()
            log.warning("idle.retry", consumer=self.config.name, error=describe(exc))

    def _process(self, records: list[Any]) -> None:
        letters: list[DeadLetter] = []
        deliveries: list[Delivery] = []
        for rec in records:
            got = decode_record(rec)
            if isinstance(got, DeadLetter):
                letters.append(got)
            else:
                deliveries.append(got)
        deliveries = self._drop_duplicates(deliveries)
        beats = [d for d in deliveries if d.envelope.type == HEARTBEAT]
        work = [d for d in deliveries if d.envelope.type != HEARTBEAT]
        if work:
            letters.extend(self._handle(work))
        for beat in beats:
            problem = heartbeat_problem(beat)
            if problem:
                letters.append(DeadLetter.of(beat, problem, "payload"))
            else:
                self._forward_heartbeat(beat)
        if letters:
            self._dead_letter(letters)
        self.publisher.flush()
        if self.seen is not None and work:
            # Pings are not work: counting them would tell an import or the outbox that a
            # record was handled when only a heartbeat passed (a repeated ping is harmless).
            self.seen.mark(self.config.name, [d.envelope.id for d in work])
        for rec in records:
            metrics.MESSAGES.labels(self.config.name, rec.topic).inc()

    def _handle(self, batch: Sequence[Delivery]) -> list[DeadLetter]:
        """The handler's dead letters for ``batch``; a batch it raises on is halved until the
        message that still fails alone is found and dead-lettered, so every other one is handled.

        Handlers are idempotent, so handling the good half of a failed batch again is safe.
        """
        try:
            return self._call(batch)
        except TransientError:
            raise
        except Exception as exc:
            if len(batch) == 1:
                return [self._poisoned(batch[0], exc)]
            log.warning(
                "batch.isolating", consumer=self.config.name, size=len(batch), error=type(exc).__name__
            )
            half = len(batch) // 2
            return self._handle(batch[:half]) + self._handle(batch[half:])

    def _call(self, batch: Sequence[Delivery]) -> list[DeadLetter]:
        """Run the handler once; infrastructure failures come out as ``TransientError``."""
        try:
            return list(self.handler(batch) or ())
        except TransientError:
            raise
        except Exception as exc:
            transient = as_transient(exc, self._conflicts)
            if transient is None:
                raise
            raise transient from exc

    def _poisoned(self, delivery: Delivery, exc: Exception) -> DeadLetter:
        """The dead letter for a message the handler raised on alone."""
        error = type(exc).__name__
        metrics.HANDLER_FAILURES.labels(self.config.name, error).inc()
        log.error(
            "message.handler_failed",
            consumer=self.config.name,
            topic=delivery.topic,
            partition=delivery.partition,
            offset=delivery.offset,
            message_type=delivery.envelope.type,
            error=error,
            exc_info=exc,  # the log guard masks contact data in the traceback's text
        )
        return DeadLetter.of(delivery, *poison_reason(exc))

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

    def _dead_letter(self, poison: Sequence[DeadLetter]) -> None:
        letters = [letter.storable() for letter in poison]
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


def _crc_is_cheap() -> bool:
    """Whether kafka-python checks CRC32C with the optional C module rather than in pure Python.

    Without it, checking each fetched batch's CRC took a quarter of the ingestor's time
    (cProfile, 20k orders: 4.9 s of 51 s in ``_crc32c.crc_update``), more than validating the
    orders. The check is skipped then: the broker verified the CRC when it accepted the batch,
    TCP checksums the wire, and a corrupted batch still fails decompression or strict decoding.
    """
    from kafka.record import util

    return getattr(util, "crc32c_c", None) is not None


def unhandled(deliveries: Sequence[Delivery]) -> list[DeadLetter]:
    """Handler for a service with nothing to do yet: every message type is unknown to it."""
    return [
        DeadLetter.of(d, f"no handler for message type {d.envelope.type!r} v{d.envelope.version}")
        for d in deliveries
    ]
