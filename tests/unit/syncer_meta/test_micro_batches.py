"""The consumer's micro-batches: flush on size or age, keep keys a destination could not take yet."""

from __future__ import annotations

from sqlalchemy.exc import OperationalError

from shared.bus.consumer import Delivery
from shared.bus.envelope import Envelope
from shared.messages import LabelChanged
from shared.sync.consumer import MicroBatch, make_handler
from shared.sync.outcome import RunReport

K = [f"{i:064d}" for i in range(5)]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


class Syncs:
    """Stands in for the sync service: records what it was asked, answers with set statuses."""

    def __init__(self, status: str = "succeeded") -> None:
        self.asked: list[frozenset[str]] = []
        self.status = status

    def __call__(self, keys: frozenset[str]) -> list[RunReport]:
        self.asked.append(keys)
        return [RunReport("a", "act_1", self.status, "incremental")]


def delivery(envelope: Envelope, offset: int = 0) -> Delivery:
    return Delivery(envelope, "labels.changed", 0, offset)


def test_flushes_when_enough_keys_gathered() -> None:
    syncs = Syncs()
    handle = make_handler(MicroBatch(syncs, size=3, seconds=60, clock=Clock()))

    handle([delivery(LabelChanged(k, "icp").to_envelope()) for k in K[:2]])
    assert syncs.asked == []
    handle(
        [
            delivery(LabelChanged(K[2], "icp").to_envelope()),
            delivery(LabelChanged(K[0], None, erased=True).to_envelope()),
        ]
    )
    assert syncs.asked == [frozenset(K[:3])]


def test_flushes_on_idle_once_the_oldest_key_waited_long_enough() -> None:
    clock, syncs = Clock(), Syncs()
    batch = MicroBatch(syncs, size=100, seconds=5, clock=clock)
    batch.add([K[0]])
    clock.now += 4
    batch.add([K[1]])
    batch.on_idle()
    assert syncs.asked == []
    clock.now += 1
    batch.on_idle()
    assert syncs.asked == [frozenset(K[:2])] and not batch.pending


def test_keys_stay_pending_when_a_destination_is_throttled_or_busy() -> None:
    clock, syncs = Clock(), Syncs("throttled")
    batch = MicroBatch(syncs, size=1, seconds=5, clock=clock)
    batch.add([K[0]])
    batch.flush()
    assert batch.pending == {K[0]}
    syncs.status = "auth_error"  # permanent: recorded on its run, not retried forever
    batch.flush()
    assert batch.pending == set()


def test_a_database_outage_at_idle_keeps_the_keys() -> None:
    def broken(keys: frozenset[str]) -> list[RunReport]:
        raise OperationalError("SELECT", {}, Exception("database is locked"))

    clock = Clock()
    batch = MicroBatch(broken, size=100, seconds=0, clock=clock)
    batch.add([K[0]])
    batch.on_idle()
    assert batch.pending == {K[0]}


def test_other_messages_and_bad_payloads_are_dead_lettered() -> None:
    handle = make_handler(MicroBatch(Syncs(), size=10, seconds=60, clock=Clock()))
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
