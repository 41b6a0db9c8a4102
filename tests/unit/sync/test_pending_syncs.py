"""The syncer consumer's pending keys: noted by the handler, synced by the worker when due, kept
when a destination could not take them yet, drained only with the stamp that was synced."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from shared.bus.consumer import Delivery
from shared.bus.envelope import Envelope
from shared.messages import LabelChanged
from shared.sync.consumer import NS, PendingSyncs, make_handler
from shared.sync.outcome import RunReport
from shared.sync.pending import MemoryPendingKeys
from shared.sync.status import RunStatus

K = [f"{i:064d}" for i in range(5)]


class Clock:
    def __init__(self) -> None:
        self.now = 100 * NS

    def __call__(self) -> int:
        return self.now


class Syncs:
    """Stands in for the sync service: records what it was asked, answers with set statuses."""

    def __init__(self, status: RunStatus = RunStatus.SUCCEEDED) -> None:
        self.asked: list[frozenset[str]] = []
        self.status = status
        self.during: list[str] = []  # keys noted again while a sync runs
        self.pending: MemoryPendingKeys | None = None

    def __call__(self, keys: frozenset[str]) -> list[RunReport]:
        self.asked.append(keys)
        if self.pending is not None and self.during:
            self.pending.note(self.during)
        return [RunReport("a", "act_1", self.status, "incremental")]


def delivery(envelope: Envelope, offset: int = 0) -> Delivery:
    return Delivery(envelope, "labels.changed", 0, offset)


def worker(syncs: Syncs, clock: Clock, *, size: int = 100, seconds: float = 5) -> PendingSyncs:
    pending = MemoryPendingKeys(clock)
    syncs.pending = pending
    return PendingSyncs(syncs, pending, size=size, seconds=seconds, platform="meta", clock_ns=clock)


def test_the_handler_only_notes_keys_and_the_worker_flushes_when_enough_gathered() -> None:
    clock, syncs = Clock(), Syncs()
    work = worker(syncs, clock, size=3, seconds=60)
    handle = make_handler(work.pending, "meta")

    handle([delivery(LabelChanged(k, "icp").to_envelope()) for k in K[:2]])
    work.tick()
    assert syncs.asked == []
    handle(
        [
            delivery(LabelChanged(K[2], "icp").to_envelope()),
            delivery(LabelChanged(K[0], None, erased=True).to_envelope()),
        ]
    )
    assert syncs.asked == []  # the poll loop never syncs
    work.tick()
    assert syncs.asked == [frozenset(K[:3])] and work.pending.state() == (0, None)


def test_flushes_once_the_oldest_key_waited_long_enough() -> None:
    clock, syncs = Clock(), Syncs()
    work = worker(syncs, clock, seconds=5)
    work.pending.note([K[0]])
    clock.now += 4 * NS
    work.pending.note([K[1]])
    work.tick()
    assert syncs.asked == []
    clock.now += 1 * NS
    work.tick()
    assert syncs.asked == [frozenset(K[:2])] and work.pending.state()[0] == 0


def test_keys_stay_pending_when_a_destination_is_throttled_or_busy() -> None:
    clock, syncs = Clock(), Syncs(RunStatus.THROTTLED)
    work = worker(syncs, clock, size=1)
    work.pending.note([K[0]])
    work.tick()
    assert set(work.pending.keys) == {K[0]}
    work.tick()
    assert len(syncs.asked) == 1  # held for one interval before the next try
    clock.now += 5 * NS
    syncs.status = RunStatus.AUTH_ERROR  # permanent: recorded on its run, not retried forever
    work.tick()
    assert len(syncs.asked) == 2 and work.pending.keys == {}


def test_a_key_noted_again_while_its_sync_ran_stays_pending() -> None:
    clock, syncs = Clock(), Syncs()
    work = worker(syncs, clock, size=2)
    work.pending.note(K[:2])
    syncs.during = [K[1]]
    work.tick()
    assert set(work.pending.keys) == {K[1]}  # its newer change may have missed the sync


def test_a_database_outage_or_a_bug_keeps_the_keys_and_the_worker_alive() -> None:
    clock = Clock()

    def broken(keys: frozenset[str]) -> list[RunReport]:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    pending = MemoryPendingKeys(clock)
    work = PendingSyncs(broken, pending, size=1, seconds=0, platform="meta", clock_ns=clock)
    pending.note([K[0]])
    work.tick()
    work.sync = lambda keys: [][0]  # an IndexError: a bug, not the message's fault
    work.tick()
    assert set(pending.keys) == {K[0]}


def test_other_messages_and_bad_payloads_are_dead_lettered() -> None:
    pending = MemoryPendingKeys()
    handle = make_handler(pending, "meta")
    letters = handle(
        [
            delivery(Envelope(type="OrderIngested", key="x", payload={}), 1),
            delivery(
                Envelope(type=LabelChanged.TYPE, key="x", payload={"customer_key": "short", "label": "icp"}),
                2,
            ),
        ]
    )
    assert [(letter.offset, letter.field_path) for letter in letters] == [
        (1, None),
        (2, "payload.customer_key"),
    ]
    assert pending.keys == {}
