"""Durable pending keys on SQLite and PostgreSQL, and the worker keeping platform calls out of the
poll loop: a platform call far longer than max_poll_interval_ms neither stalls the consumer nor
gets it evicted from its group."""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from collections.abc import Callable

import pytest

from services.syncer_meta.domain.rows import META_ROWS
from services.syncer_meta.domain.targets import meta_target
from shared.bus import metrics
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.definitions import parse_definitions
from shared.messages import LabelChanged
from shared.runtime import run_consumer_service
from shared.store.db import Store
from shared.sync.consumer import syncer_service
from shared.sync.fake_platform import RecordingPlatform
from shared.sync.guardrails import Guardrails
from shared.sync.membership import Consent
from shared.sync.pending import SqlPendingKeys
from shared.sync.ports import Caps
from shared.sync.service import SyncService
from shared.sync.wiring import EngineSettings, assemble
from tests.integration.syncer_meta.seed import Person, email_hash, key_of, seed

pytestmark = pytest.mark.integration


def _eventually(check: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not reached in time"
        time.sleep(0.05)


def test_pending_keys_are_drained_only_with_the_stamp_that_was_synced(store: Store) -> None:
    ticks = iter(range(1, 100))
    pending = SqlPendingKeys(store, "meta", clock_ns=lambda: next(ticks))
    other = SqlPendingKeys(store, "google")
    pending.note([key_of(0), key_of(1), key_of(0)])
    other.note([key_of(0)])
    assert pending.state() == (2, 1)

    claimed = pending.claim(10)
    pending.note([key_of(1)])  # changed again while its sync ran
    assert pending.drain(claimed) == 1
    assert pending.claim(10) == {key_of(1): 2} and other.state()[0] == 1


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)  # about the broker, not the database
def test_a_platform_call_longer_than_max_poll_interval_does_not_stall_or_evict_the_consumer(
    store: Store, broker, new_topic
) -> None:
    seed(store, [Person(i) for i in range(3)])
    platform = RecordingPlatform("acct", caps=Caps(10_000), rows=META_ROWS, delay=3.0)
    audiences = parse_definitions(
        {"audiences": [{"key": "icp", "select": {"label": "icp"}, "destinations": {"meta": {}}}]}
    ).audiences

    def build(runner_store: Store) -> SyncService:
        return assemble(
            runner_store,
            platform="fake",
            rows_from=META_ROWS.identifiers,
            platforms={"acct": platform},
            audiences=audiences,
            targets=meta_target,
            settings=EngineSettings(10_000, Guardrails(0), Consent.ANY, 3600.0, "test"),
        )

    name = f"syncer-fake-{uuid.uuid4().hex[:6]}"
    topic = new_topic("labels")
    service = dataclasses.replace(
        syncer_service(name=name, platform="fake", build=build, flush_size=1, flush_seconds=0.1),
        topics=(topic,),
        max_poll_interval_ms=1_000,  # the platform call below takes 3 s
    )
    settings = Settings.from_env({"DATABASE_URL": store.url, "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap})
    stop = threading.Event()
    thread = threading.Thread(
        target=run_consumer_service, args=(service, settings), kwargs={"stop": stop, "install_signals": False}
    )
    thread.start()
    pending = SqlPendingKeys(store, "fake")
    try:
        with Publisher(broker.bootstrap) as publisher:
            publisher.publish(topic, LabelChanged(key_of(0), "icp").to_envelope())
            publisher.flush()
            _eventually(lambda: (platform.calls > 0 and pending.state()[0] == 0) or bool(platform.lists))
            started = time.monotonic()  # the first (3 s) send is under way
            for i in (1, 2):
                publisher.publish(topic, LabelChanged(key_of(i), "icp").to_envelope())
            publisher.flush()
            # The poll loop keeps taking messages while the platform call runs.
            _eventually(lambda: set(pending.claim(10)) >= {key_of(1), key_of(2)}, timeout=2.5)
            assert time.monotonic() - started < 2.8 and not platform.requests  # still in the first call
            _eventually(lambda: pending.state()[0] == 0 and len(platform.requests) >= 2, timeout=30.0)
    finally:
        stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()
    (held,) = platform.lists.values()
    assert set(held.members) == {email_hash(i) for i in range(3)}
    assert metrics.COMMIT_REFUSED.labels(name)._value.get() == 0  # never evicted, never rebalanced
