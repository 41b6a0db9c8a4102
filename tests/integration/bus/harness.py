"""Runs real ConsumerRunners against the real broker in threads, with recording fakes."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from shared.bus.consumer import ConsumerRunner, Handler, RunnerConfig
from shared.bus.producer import Publisher
from shared.bus.records import DeadLetter, Delivery

SESSION_TIMEOUT_MS = 4000  # the tests' consumers' session timeout (tests/conftest.py says why)


@dataclass
class MemorySeen:
    """SeenMessages fake: a set per consumer."""

    ids: dict[str, set[str]] = field(default_factory=dict)

    def seen(self, consumer: str, ids: Sequence[str]) -> set[str]:
        return self.ids.setdefault(consumer, set()) & set(ids)

    def mark(self, consumer: str, ids: Sequence[str]) -> None:
        self.ids.setdefault(consumer, set()).update(ids)


@dataclass
class MemorySink:
    """DeadLetterSink fake."""

    letters: list[DeadLetter] = field(default_factory=list)

    def record(self, consumer: str, letters: Sequence[DeadLetter]) -> None:
        self.letters.extend(letters)


@dataclass
class Recorder:
    """A handler that records what it was given; optionally fails transiently first."""

    deliveries: list[Delivery] = field(default_factory=list)
    before: Callable[[Sequence[Delivery]], None] | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def __call__(self, batch: Sequence[Delivery]) -> list[DeadLetter]:
        if self.before:
            self.before(batch)
        with self.lock:
            self.deliveries.extend(batch)
        return []


def start_runner(
    bootstrap: str, topic: str, group: str, handler: Handler, **kwargs: Any
) -> tuple[ConsumerRunner, threading.Thread]:
    """A runner on its own thread (stop with ``runner.stop.set()`` and join)."""
    publisher = Publisher(bootstrap)
    config = RunnerConfig(
        name=group,
        topics=(topic,),
        bootstrap=bootstrap,
        batch_size=kwargs.pop("batch_size", 200),
        poll_timeout_ms=200,
        session_timeout_ms=SESSION_TIMEOUT_MS,
        backoff_base=0.05,
    )
    runner = ConsumerRunner(config, handler, publisher=publisher, **kwargs)
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    return runner, thread


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    """Poll ``predicate`` until true or fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.05)
    raise AssertionError("condition not met in time")
