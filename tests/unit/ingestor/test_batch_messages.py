"""Import batches and grouped change announcements: their wire form and how the ingestor reads them."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from kafka.partitioner.default import DefaultPartitioner

from services.ingestor.handlers import announcements, unpack
from services.ingestor.importer import publish_batches
from services.ingestor.layouts import Record
from shared.bus.consumer import Delivery
from shared.bus.envelope import Envelope, InvalidMessage, decode, encode
from shared.bus.producer import partition_keys
from shared.messages import CustomerChanged, CustomersChanged, RawBatch, RawReceived

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def _key(n: int) -> str:
    return hashlib.sha256(str(n).encode()).hexdigest()


def _delivery(envelope: Envelope) -> Delivery:
    return Delivery(decode(encode(envelope)), "orders.raw", 1, 41)


def test_a_batch_unpacks_into_its_records_each_named_by_the_batch_and_its_place() -> None:
    batch = RawBatch(
        shop="demo.myshopify.com",
        received_at=NOW,
        records=(
            ("import/generic", "demo.myshopify.com/A-1", '{"order_id": "A-1"}'),
            ("import/generic", "demo.myshopify.com/A-2", '{"order_id": "A-2", "note": "é"}'),
        ),
    )
    envelope = batch.to_envelope()
    units = unpack(_delivery(envelope))
    # The first record is named by the message's own id: one handled id per record.
    assert [u.delivery.envelope.id for u in units] == [envelope.id, f"{envelope.id}/1"]
    assert [u.delivery.envelope.key for u in units] == ["demo.myshopify.com/A-1", "demo.myshopify.com/A-2"]
    assert all(
        (u.delivery.topic, u.delivery.partition, u.delivery.offset) == ("orders.raw", 1, 41) for u in units
    )
    assert [u.index for u in units] == [0, 1]
    assert [u.marked_here for u in units] == [False, True]  # the first is the message: the runner's
    raws = [u.raw for u in units]
    assert all(isinstance(raw, RawReceived) for raw in raws)
    assert [raw.body for raw in raws if isinstance(raw, RawReceived)] == [
        b'{"order_id": "A-1"}',
        '{"order_id": "A-2", "note": "é"}'.encode(),
    ]
    assert {(raw.source, raw.shop, raw.topic) for raw in raws if isinstance(raw, RawReceived)} == {
        ("import", "demo.myshopify.com", "import/generic")
    }


@pytest.mark.parametrize(
    ("payload_change", "path"),
    [
        ({"records": [["import/generic", "k"], ["import/generic", "k", "{}"]]}, "payload.records.0"),
        ({"records": [["import/generic", "k", "{}"], ["", "k", "{}"]]}, "payload.records.1"),
        ({"records": [["import/generic", "k", 7], ["import/generic", "k", "{}"]]}, "payload.records.0"),
        ({"source": "shopify"}, "payload.source"),
        ({"shop": "bad shop"}, "payload.shop"),
    ],
)
def test_a_malformed_batch_refuses_each_of_its_records_under_its_name(
    payload_change: dict[str, object], path: str
) -> None:
    good = RawBatch("demo.myshopify.com", NOW, (("import/generic", "k", "{}"),) * 2).to_envelope()
    envelope = Envelope(
        type=good.type, key=good.key, payload={**good.payload, **payload_change}, id=good.id, occurred_at=NOW
    )
    units = unpack(_delivery(envelope))
    assert [u.delivery.envelope.id for u in units] == [good.id, f"{good.id}/1"]
    assert all(isinstance(u.raw, InvalidMessage) and u.raw.field_path == path for u in units)
    assert [u.index for u in units] == [0, 1]


def test_a_batch_without_a_record_list_is_one_refusal_under_the_message_id() -> None:
    good = RawBatch("demo.myshopify.com", NOW, (("import/generic", "k", "{}"),)).to_envelope()
    envelope = Envelope(type=good.type, key=good.key, payload={**good.payload, "records": "x"}, id=good.id)
    (unit,) = unpack(_delivery(envelope))
    assert unit.delivery.envelope.id == good.id and unit.index is None
    assert isinstance(unit.raw, InvalidMessage) and unit.raw.field_path == "payload.records"


def test_a_webhook_message_is_its_own_single_record() -> None:
    raw = RawReceived("shopify", "orders/create", "demo.myshopify.com", b"{}", NOW, "w-1")
    envelope = raw.to_envelope("demo.myshopify.com/1")
    (unit,) = unpack(_delivery(envelope))
    assert unit.delivery.envelope.id == envelope.id and unit.raw == raw and unit.index is None


def test_changes_are_grouped_on_the_partition_each_customer_would_have_had_alone() -> None:
    changed = {_key(n): "order" for n in range(200)} | {_key(999): "erasure"}
    messages = announcements(changed, partitions=4)
    erasures = [m for m in messages if m.type == CustomerChanged.TYPE]
    assert [CustomerChanged.from_envelope(m) for m in erasures] == [
        CustomerChanged(_key(999), "erasure", True)
    ]
    groups = [
        CustomersChanged.from_envelope(decode(encode(m))) for m in messages if m.type != CustomerChanged.TYPE
    ]
    assert len(groups) == 4
    assert sorted(k for g in groups for k, _ in g.changes) == sorted(k for k in changed if k != _key(999))
    partition = DefaultPartitioner()
    for message, group in zip([m for m in messages if m.type != CustomerChanged.TYPE], groups, strict=True):
        home = partition(message.key.encode(), [0, 1, 2, 3], [0, 1, 2, 3])
        assert {partition(k.encode(), [0, 1, 2, 3], [0, 1, 2, 3]) for k, _ in group.changes} == {home}
        assert [c.customer_key for c in group.each()] == [k for k, _ in group.changes]


@pytest.mark.parametrize(
    "changes",
    ["nope", [["short", "order"]], [[_key(1)]], [[_key(1), 3]]],
)
def test_a_malformed_change_batch_is_refused(changes: object) -> None:
    envelope = Envelope(type=CustomersChanged.TYPE, key=_key(1), payload={"changes": changes})
    with pytest.raises(InvalidMessage):
        CustomersChanged.from_envelope(envelope)


class _Publisher:
    """Records what an import publishes (a broker of 4 partitions)."""

    def __init__(self) -> None:
        self.sent: list[Envelope] = []

    def partitions(self, topic: str) -> int:
        return 4

    def publish(self, topic: str, envelope: Envelope) -> None:
        self.sent.append(envelope)


def test_an_import_batches_each_customer_on_one_partition_in_file_order() -> None:
    records = [
        Record("import/generic", f"s/{n}", f'{{"n": {n}}}'.encode(), f"id:C-{n % 30}" if n % 10 else "")
        for n in range(1000)
    ]
    publisher = _Publisher()
    read: list[int] = []
    sent_after: list[int] = []

    def source() -> Iterator[Record]:
        for n, record in enumerate(records):
            read.append(n)
            yield record

    for message in publish_batches(publisher, source(), "s", first=200):  # type: ignore[arg-type]
        sent_after.append(len(read))
        assert message.records <= 200
    assert sent_after[0] == 200  # the probe's records go out once read, whatever their partition
    assert {e.key for e in publisher.sent} <= set(partition_keys(4))
    where: dict[str, set[str]] = {}
    order: list[int] = []
    for envelope in publisher.sent:
        batch = RawBatch.from_envelope(envelope)
        for _, key, body in batch.records:
            n = json.loads(body)["n"]
            order.append(n)
            where.setdefault(records[n].group or key, set()).add(envelope.key)
    assert sorted(order) == list(range(1000))
    assert all(len(keys) == 1 for keys in where.values())  # one partition per customer
    for customer in {r.group for r in records if r.group}:
        mine = [n for n in order if records[n].group == customer]
        assert mine == sorted(mine)  # a customer's records keep the file's order
