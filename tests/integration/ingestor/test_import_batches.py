"""Imports travel as ``RawBatch`` messages of many records: through the real broker and ingestor,
on SQLite and PostgreSQL, every record is still stored, refused or repeated on its own."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select

from services.ingestor.importer import Published, publish_batches
from services.ingestor.layouts import Record
from shared.bus.topics import ORDERS_RAW
from shared.messages import RawBatch
from shared.store.db import Store
from shared.store.models import Customer, DeadLetterRecord, Order, ProcessedMessage, Refund
from tests.integration.bus.harness import wait_for
from tests.integration.ingestor.harness import pipeline

pytestmark = pytest.mark.integration

SHOP = "demo.myshopify.com"


def _order(n: int, gross: str = "40.00") -> Record:
    row = {
        "order_id": f"B-{n}",
        "customer_id": f"C-{n % 50}",
        "created_at": "2025-02-03 10:00:00",
        "currency": "USD",
        "gross": gross,
        "email": f"buyer.{n % 50}@example.com",
    }
    return Record("import/generic", f"{SHOP}/B-{n}", json.dumps(row).encode(), f"id:C-{n % 50}")


def _count(store: Store, model: type) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(model)) or 0)


def _letters(store: Store) -> dict[str, str]:
    with store.session() as s:
        return {d.message_id or "": d.reason for d in s.scalars(select(DeadLetterRecord))}


def test_bad_records_in_a_large_import_are_refused_alone_under_their_own_names(
    store: Store, tmp_path: Path
) -> None:
    bad = {0, 201, 449}
    records = [_order(n, gross="-1" if n in bad else "40.00") for n in range(450)]
    with pipeline(store, tmp_path) as p:
        sent = list(publish_batches(p.publisher, iter(records), SHOP))
        p.publisher.flush()
        assert sum(m.records for m in sent) == 450 and max(m.records for m in sent) <= 200
        wait_for(lambda: p.handled() == 450, timeout=60)  # one handled name per record
    letters = _letters(store)
    assert len(letters) == 3 and set(letters) <= {
        RawBatch.record_id(m.envelope_id, i) for m in sent for i in range(m.records)
    }
    assert all(reason.startswith("negative_amount") for reason in letters.values())
    assert _count(store, Order) == 447
    assert _count(store, Customer) == 50


def test_a_repeated_batch_and_the_same_records_sent_again_change_nothing(
    store: Store, tmp_path: Path
) -> None:
    records = [_order(n, gross="-1" if n == 3 else "40.00") for n in range(10)]
    now = datetime.now(UTC)
    envelope = RawBatch(SHOP, now, tuple((r.topic, r.key, r.body.decode()) for r in records)).to_envelope()
    with pipeline(store, tmp_path) as p:
        p.publisher.publish(ORDERS_RAW, envelope)
        p.publisher.publish(ORDERS_RAW, envelope)  # redelivered as it was: dropped by its id
        p.publisher.flush()
        wait_for(lambda: p.handled() == 10)
        again: list[Published] = list(publish_batches(p.publisher, iter(records), SHOP))  # a new import
        p.publisher.flush()
        wait_for(lambda: p.handled() == 20)
    assert _count(store, Order) == 9
    with store.session() as s:
        orders = s.scalars(select(Order)).all()
        handled = set(s.scalars(select(ProcessedMessage.message_id)))
    assert {o.gross_base for o in orders} == {Decimal("40.0000")}
    letters = _letters(store)
    again_names = {RawBatch.record_id(m.envelope_id, i) for m in again for i in range(m.records)}
    assert len(letters) == 2 and RawBatch.record_id(envelope.id, 3) in letters
    assert len(set(letters) & again_names) == 1  # the new import's refusal, under its own name
    assert {RawBatch.record_id(envelope.id, i) for i in range(10)} <= handled


def test_customers_and_refunds_imports_are_written_in_runs(store: Store, tmp_path: Path) -> None:
    orders = [_order(n) for n in range(20)]
    customers = [
        Record(
            "import/customers",
            f"{SHOP}/customer/C-{n}",
            json.dumps(
                {"customer_id": f"C-{n}", "email": f"buyer.{n}@example.com", "country": "DE"}
            ).encode(),
        )
        for n in range(20)
    ] + [Record("import/customers", f"{SHOP}/customer/", json.dumps({"country": "DE"}).encode())]
    refund_rows = [
        {"refund_id": f"R-{n}", "order_id": f"B-{n}", "created_at": "2025-02-05", "amount": "10.00"}
        for n in range(10)
    ]
    refund_rows += [
        {"refund_id": "R-0", "order_id": "B-0", "created_at": "2025-02-05", "amount": "10.00"},  # again
        {"refund_id": "R-X", "order_id": "NOPE", "created_at": "2025-02-05", "amount": "5.00"},
    ]
    refunds = [
        Record("import/refunds", f"{SHOP}/{r['order_id']}", json.dumps(r).encode()) for r in refund_rows
    ]
    with pipeline(store, tmp_path) as p:
        for batch in (orders, customers, refunds):
            list(publish_batches(p.publisher, iter(batch), SHOP))
            p.publisher.flush()
        wait_for(lambda: p.handled() == 20 + 21 + 12, timeout=60)
    with store.session() as s:
        countries = set(s.scalars(select(Customer.country)))
        refunded = {o.order_id: o.refunded_base for o in s.scalars(select(Order))}
    assert _count(store, Customer) == 20 and countries == {"DE"}
    assert _count(store, Refund) == 10
    assert refunded["B-0"] == Decimal("10.0000") and refunded["B-15"] == Decimal("0.0000")
    assert sorted(reason.split(" ")[0] for reason in _letters(store).values()) == [
        "no_customer_identifier",
        "refund_without_order",
    ]


def _refuse_order_in_the_database(store: Store, order_id: str) -> None:
    """A fault from outside our code: a trigger that makes the database refuse one order's row."""
    with store.engine.begin() as conn:
        if store.url.startswith("sqlite"):
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON orders "
                f"WHEN NEW.order_id = '{order_id}' BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"
            )
        else:
            conn.exec_driver_sql(
                "CREATE FUNCTION refuse_one() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
                f"IF NEW.order_id = '{order_id}' THEN RAISE EXCEPTION 'refused by a trigger'; END IF; "
                "RETURN NEW; END $$"
            )
            conn.exec_driver_sql(
                "CREATE TRIGGER refuse_one BEFORE INSERT ON orders FOR EACH ROW EXECUTE FUNCTION refuse_one()"
            )


def test_a_record_the_store_fails_on_is_refused_alone_and_its_batch_is_stored(
    store: Store, tmp_path: Path
) -> None:
    # Whatever the cause of an unexpected store error, it costs only its own record: the batch's
    # other records are stored. SQLite reports the trigger as an IntegrityError (retried first as a
    # concurrent write), PostgreSQL as another error. An id too long for the store is refused by
    # validation first.
    _refuse_order_in_the_database(store, "B-20")
    records = [_order(n) for n in range(50)]
    records[30] = Record(
        "import/generic",
        f"{SHOP}/long",
        json.dumps({**json.loads(records[30].body), "order_id": "L" * 100}).encode(),
        "id:C-30",
    )
    with pipeline(store, tmp_path) as p:
        sent = list(publish_batches(p.publisher, iter(records), SHOP))
        p.publisher.flush()
        wait_for(lambda: p.handled() == 50, timeout=60)
    names = {RawBatch.record_id(m.envelope_id, i) for m in sent for i in range(m.records)}
    letters = _letters(store)
    assert _count(store, Order) == 48 and len(letters) == 2 and set(letters) <= names
    reasons = sorted(letters.values())
    assert reasons[0].startswith("handler_error:"), reasons  # the type and our frame, no values
    assert reasons[1].startswith("too_long"), reasons
