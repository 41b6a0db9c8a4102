"""The ingestor's handler: raw messages in, facts stored once, changed customers announced.

A message is a webhook's one record or an import's ``RawBatch`` of many; every record is handled
alone as far as refusals go. Records are written in transactions of at most
``RECORDS_PER_TRANSACTION``; consecutive orders, customers and refunds in set-based runs, other
records with one savepoint each. Run records are parsed and hashed one transaction ahead, in the
parse worker for big transactions (``parsing.py``), so writing one overlaps parsing the next.
A record that fails validation or the store's checks is dead-lettered alone with its reason.
Changed customer keys go to the outbox in the same transaction, one ``CustomersChanged`` per
partition, and are published after commit. Database errors are left to the runner, which
retries the batch (locked file, failover, a concurrent ingestor's insert) or isolates the one
message an unexpected error comes from.
"""

from __future__ import annotations

import re
from collections import Counter as CountOf
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from prometheus_client import Counter
from sqlalchemy.exc import IntegrityError

from services.ingestor import parsing, privacy
from services.ingestor.adapters.customer_store import ERASED, Identified
from services.ingestor.adapters.facts_store import CustomerErased, FactsWriter
from services.ingestor.adapters.order_batch import write_orders
from services.ingestor.adapters.parse_worker import WORKER, ParseWorker, Pending
from services.ingestor.adapters.refund_batch import write_refunds
from services.ingestor.domain import (
    InvalidPayload,
    Rates,
    ingest_checkout,
    ingest_customer_redact,
    ingest_data_request,
    ingest_shop_redact,
    ingest_ticket,
)
from services.ingestor.domain.errors import ROOT, Reason, invalid
from services.ingestor.parsing import parse_batch
from shared.bus.consumer import DeadLetter, Delivery, Handler
from shared.bus.envelope import Envelope, InvalidMessage
from shared.bus.failures import is_infrastructure, poison_reason
from shared.bus.metrics import HANDLER_FAILURES
from shared.bus.producer import Publisher, partition_for
from shared.bus.topics import CUSTOMERS_CHANGED, ORDERS_RAW
from shared.log import get_logger
from shared.messages import CustomerChanged, CustomersChanged, RawBatch, RawReceived
from shared.store.db import Store
from shared.store.messages import mark_handled, record_dead_letters
from shared.store.outbox import add_to_outbox, consume, relay_outbox

log = get_logger(__name__)
DROPPED = Counter("audiencesync_ingest_dropped_total", "Events dropped on purpose", ["why"])
STORED = Counter("audiencesync_ingest_stored_total", "Raw messages applied to the store", ["topic"])

# A poll may bring many batches (a fetch holds megabytes of compressed records): a transaction
# takes whole messages up to about this many records, bounding the time and memory of each.
# Every record is idempotent, so a crash between two of a poll's transactions redelivers the
# poll and repeats nothing in effect (messages already handled are skipped by id).
RECORDS_PER_TRANSACTION = 2000
CONFLICT_RETRIES = 3  # a record alone retried after an IntegrityError before it counts as its own
# The shop a raw message names: a host name (``shop.myshopify.com``) or a configured name such
# as the default ``default``. The webhook header is outside Shopify's signature, so anything
# else (empty once stripped, spaces, control characters) is refused before it scopes a key.
_SHOP = re.compile(r"(?=.{1,253}\Z)[A-Za-z0-9](?:[A-Za-z0-9._-]*[A-Za-z0-9])?")


def read_raw(delivery: Delivery) -> RawReceived:
    """The ``RawReceived`` a delivery carries; raises ``InvalidMessage`` for anything else."""
    envelope = delivery.envelope
    if envelope.type != RawReceived.TYPE or envelope.version != RawReceived.VERSION:
        raise InvalidMessage(f"not a {RawReceived.TYPE} v{RawReceived.VERSION}", "type")
    raw = RawReceived.from_envelope(envelope)
    if not _SHOP.fullmatch(raw.shop):
        raise InvalidMessage("invalid_shop", "payload.shop")
    return raw


@dataclass(frozen=True)
class Received:
    """One record as the handler takes it: its delivery (named as the record), the raw message or
    why it is unusable, its place in its ``RawBatch`` (None: a message of its own), and, once
    parsed ahead, its item or refusal (None: parsed when written)."""

    delivery: Delivery
    raw: RawReceived | InvalidMessage
    index: int | None = None
    parsed: parsing.Item | InvalidPayload | None = None

    def item(self, rates: Rates) -> parsing.Item:
        """The run item of a raw record; raises ``InvalidPayload``."""
        assert isinstance(self.raw, RawReceived)
        parsed = self.parsed if self.parsed is not None else parsing.parse(self.raw, rates)
        if isinstance(parsed, InvalidPayload):
            raise parsed
        return parsed

    @property
    def marked_here(self) -> bool:
        """Whether the handler marks it handled with its effects: a batch's records after the
        first. The first bears the message's own id, which the runner marks once the whole
        message is handled, so a message cut short by a crash is redelivered whole."""
        return bool(self.index)


def unpack(delivery: Delivery) -> list[Received]:
    """The records a delivery carries: a webhook's one, or each of an import's ``RawBatch``.

    A batch's record gets a delivery of its own named ``RawBatch.record_id``, so it is marked
    handled and its refusal dead-lettered alone, under a name no other record shares. A batch
    that cannot be read refuses each of its records under its name, so every record is counted.
    """
    envelope = delivery.envelope
    if envelope.type != RawBatch.TYPE or envelope.version != RawBatch.VERSION:
        try:
            return [Received(delivery, read_raw(delivery))]
        except InvalidMessage as exc:
            return [Received(delivery, exc)]

    def named(index: int, key: str) -> Delivery:
        name = RawBatch.record_id(envelope.id, index)
        record = Envelope(
            type=RawReceived.TYPE, key=key, payload={}, id=name, occurred_at=envelope.occurred_at
        )
        return Delivery(record, delivery.topic, delivery.partition, delivery.offset)  # not replace(): 2x

    try:
        batch = RawBatch.from_envelope(envelope)
        if not _SHOP.fullmatch(batch.shop):
            raise InvalidMessage("invalid_shop", "payload.shop")
    except InvalidMessage as exc:
        records = envelope.payload.get("records")
        if not isinstance(records, list) or not records:
            return [Received(delivery, exc)]
        return [Received(named(index, envelope.key), exc, index) for index in range(len(records))]
    return [
        Received(named(index, key), raw, index)
        for index, ((_, key, _), raw) in enumerate(zip(batch.records, batch.raws(), strict=True))
    ]


def apply(raw: RawReceived, writer: FactsWriter, rates: Rates, exports: Path, default_shop: str) -> None:
    """Route one raw message not written in runs to its parser and writer; raises ``InvalidPayload``."""
    topic, shop = raw.topic, raw.shop
    if topic in {"checkouts/create", "checkouts/update"}:
        got_checkout = ingest_checkout(raw.body, shop=shop, rates=rates)
        writer.checkout(got_checkout.facts, got_checkout.contact)
    elif topic in {"tickets/create", "tickets/update", "import/tickets"}:
        got_ticket = ingest_ticket(raw.body, shop=shop)
        if writer.ticket(got_ticket.facts, got_ticket.contact) is None:
            raise invalid(ROOT, Reason.NO_CUSTOMER_IDENTIFIER)
    elif topic == "customers/redact":
        privacy.redact_customer(writer, ingest_customer_redact(raw.body), shop, default_shop)
    elif topic == "customers/data_request":
        privacy.export_customer(writer.session, ingest_data_request(raw.body), shop, default_shop, exports)
    elif topic == "shop/redact":
        privacy.redact_shop(writer, ingest_shop_redact(raw.body).facts, shop, default_shop)
    else:
        raise InvalidMessage(f"unsupported raw topic {topic!r}", "payload.topic")


@dataclass
class _Run:
    """Consecutive records of one kind (orders, customers, refunds), written in one go.

    Any other record waits until the run is written, so effects keep the partition's order.
    """

    writer: FactsWriter
    kind: str = ""
    deliveries: list[Delivery] = field(default_factory=list)
    items: list[Any] = field(default_factory=list)
    labels: list[str] = field(default_factory=list)  # the stored counter's label of each record

    def add(self, kind: str, delivery: Delivery, item: Any, label: str) -> list[DeadLetter]:
        """Queue a record (writing the run of another kind first); that run's dead letters."""
        letters = self.flush() if kind != self.kind else []
        self.kind = kind
        self.deliveries.append(delivery)
        self.items.append(item)
        self.labels.append(label)
        return letters

    def flush(self) -> list[DeadLetter]:
        """Write the run; the dead letters of records it refused."""
        if not self.items:
            return []
        writer = self.writer
        keys: Sequence[str | None]
        changed: dict[str, str]
        missing: Reason | None
        if self.kind == "orders":
            written = write_orders(writer.session, self.items, writer.now, writer.identified)
            keys, changed, missing = written.keys, written.changed, Reason.NO_CUSTOMER_IDENTIFIER
        elif self.kind == "refunds":
            refunds = write_refunds(writer.session, self.items)
            keys, changed, missing = refunds.keys, refunds.changed, Reason.REFUND_WITHOUT_ORDER
        else:  # a customer record naming nobody is kept as it is: nothing to store, nothing wrong
            keys, changed, missing = writer.customers(self.items), {}, None
        for changed_key, cause in changed.items():
            writer.changed.setdefault(changed_key, cause)
        letters: list[DeadLetter] = []
        stored: CountOf[str] = CountOf()  # counted per label, not per record (~2 % of a batch)
        for delivery, key, label in zip(self.deliveries, keys, self.labels, strict=True):
            if key is None and missing is not None:
                path = "order_id" if missing is Reason.REFUND_WITHOUT_ORDER else ROOT
                letters.append(DeadLetter.of(delivery, missing.value, path))
            elif key == ERASED:
                DROPPED.labels("customer_erased").inc()  # the tombstone's point
            else:
                stored[label] += 1
        for label, count in stored.items():
            STORED.labels(label).inc(count)
        self.kind, self.deliveries, self.items, self.labels = "", [], [], []
        return letters


def announcements(changed: dict[str, str], partitions: int) -> list[Envelope]:
    """The outbox messages for a transaction's changed customers.

    Erasures go alone as ``CustomerChanged``; the others as one ``CustomersChanged`` per
    partition of ``customers.changed``, holding the keys the producer's partitioner would put on
    that partition, so one customer's changes keep reaching one scorer in order.
    """
    erased = [
        CustomerChanged(key, cause, erased=True) for key, cause in changed.items() if cause == "erasure"
    ]
    groups: dict[int, list[tuple[str, str]]] = {}
    for key, cause in changed.items():
        if cause != "erasure":
            groups.setdefault(partition_for(key, partitions), []).append((key, cause))
    return [e.to_envelope() for e in erased] + [
        CustomersChanged(tuple(g)).to_envelope() for g in groups.values()
    ]


def _reason(exc: InvalidPayload) -> str:
    first = exc.problems[0]
    return f"{first.reason.value} ({first.detail})" if first.detail else first.reason.value


def transactions(batch: Sequence[Delivery]) -> list[list[Received]]:
    """A poll's records in transactions of whole messages, about ``RECORDS_PER_TRANSACTION`` each."""
    groups: list[list[Received]] = [[]]
    for delivery in batch:
        if len(groups[-1]) >= RECORDS_PER_TRANSACTION:
            groups.append([])
        groups[-1] += unpack(delivery)
    return [group for group in groups if group]


def parsed_ahead(
    groups: Sequence[list[Received]], rates: Rates, worker: ParseWorker
) -> Iterator[list[Received]]:
    """Each transaction's records with their items. The first is parsed here while the worker
    takes the next (nothing is being written yet to overlap with, and a poll of one transaction,
    as when the ingestor keeps up, pays no pickling); each later one by the worker while the one
    before is written (at most two in its hands, bounding memory)."""

    def raws(group: list[Received]) -> list[RawReceived | None]:
        return [r.raw if isinstance(r.raw, RawReceived) else None for r in group]

    ahead: list[Pending] = [worker.submit(raws(group), rates) for group in groups[1:3]]
    for at, group in enumerate(groups):
        parsed = parse_batch(raws(group), rates) if at == 0 else ahead.pop(0)()
        if at and at + 2 < len(groups):
            ahead.append(worker.submit(raws(groups[at + 2]), rates))
        yield [Received(r.delivery, r.raw, r.index, p) for r, p in zip(group, parsed, strict=True)]


def make_handler(
    store: Store,
    publisher: Publisher,
    rates: Callable[[], Rates],
    exports: Path,
    *,
    default_shop: str = "default",
    consumer: str = "ingestor",
    worker: ParseWorker = WORKER,
) -> Handler:
    """The batch handler wired to the store and the publisher (``default_shop``: the ``SHOP``
    setting; ``consumer``: the group whose handled ids and dead letters it writes; ``worker``:
    where big transactions are parsed while the one before is written)."""

    def write(
        received: Sequence[Received], table: Rates, partitions: int, identified: Identified
    ) -> list[DeadLetter]:
        try:
            letters = store_records(received, table, partitions, identified)
        except BaseException:
            identified.discard()
            raise
        identified.commit()
        relay_outbox(store, publisher, topics=(CUSTOMERS_CHANGED,))
        return letters

    def store_records(
        received: Sequence[Received], table: Rates, partitions: int, identified: Identified
    ) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        with store.transaction() as session:
            writer = FactsWriter(session, identified=identified)
            run = _Run(writer)
            # Raw deliveries that may have an outbox row to delete: every one but imports, which
            # are published straight to the topic (the scan for them cost ~5 % of an import).
            inboxed: list[str] = []
            for record in received:
                delivery, raw = record.delivery, record.raw
                try:
                    if isinstance(raw, InvalidMessage):
                        raise raw
                    if raw.source != "import":
                        inboxed.append(delivery.envelope.id)
                    kind = parsing.kind_of(raw.topic)
                    if kind is not None:
                        label = raw.topic
                        if kind == "orders":
                            label = "import" if raw.source == "import" else "orders"
                        letters += run.add(kind, delivery, record.item(table), label)
                    else:
                        letters += run.flush()
                        with session.begin_nested():
                            apply(raw, writer, table, exports, default_shop)
                        STORED.labels(raw.topic).inc()
                except InvalidPayload as exc:
                    letters.append(DeadLetter.of(delivery, _reason(exc), exc.field_path))
                except InvalidMessage as exc:
                    inboxed.append(delivery.envelope.id)  # its edge is unknown: look for a row
                    letters.append(DeadLetter.of(delivery, exc.reason, exc.field_path))
                except CustomerErased:
                    # Late event of an erased customer: dropping it is the point of the tombstone.
                    DROPPED.labels("customer_erased").inc()
            letters += run.flush()
            add_to_outbox(session, CUSTOMERS_CHANGED, announcements(writer.changed, partitions))
            consume(session, ORDERS_RAW, inboxed)
            # A batch's records are marked handled, and their refusals stored, with their effects:
            # the runner marks only the message, and an import counts its records by their names.
            mark_handled(session, consumer, [r.delivery.envelope.id for r in received if r.marked_here])
            record_dead_letters(session, consumer, [letter.storable() for letter in letters])
        return letters

    def isolating(
        received: Sequence[Received],
        table: Rates,
        partitions: int,
        identified: Identified,
        conflicts_left: int = CONFLICT_RETRIES,
    ) -> list[DeadLetter]:
        """``write``; when it raises for a batch's records, halve them until the one record that
        still fails alone is found and refused, so one bad record never costs its batch's others.

        An ``IntegrityError`` is most likely a concurrent writer's row: each half is a new
        transaction (a retry), and a record alone is tried ``CONFLICT_RETRIES`` more times before
        it is refused (a constraint the database keeps refusing is that record's, not the
        batch's). The runner does the same for whole messages, which is where anything else is left.
        """
        try:
            return write(received, table, partitions, identified)
        except Exception as exc:
            if is_infrastructure(exc) or not all(r.index is not None for r in received):
                raise
            if len(received) > 1:
                half = len(received) // 2
                return isolating(received[:half], table, partitions, identified) + isolating(
                    received[half:], table, partitions, identified
                )
            if isinstance(exc, IntegrityError) and conflicts_left > 0:
                return isolating(received, table, partitions, identified, conflicts_left - 1)
            letter = DeadLetter.of(received[0].delivery, *poison_reason(exc))
            HANDLER_FAILURES.labels(consumer, type(exc).__name__).inc()
            log.error("record.handler_failed", consumer=consumer, error=type(exc).__name__, exc_info=exc)
            with store.transaction() as session:
                if received[0].marked_here:
                    mark_handled(session, consumer, [received[0].delivery.envelope.id])
                record_dead_letters(session, consumer, [letter.storable()])
            return [letter]

    def handle(batch: Sequence[Delivery]) -> list[DeadLetter]:
        table = rates()
        partitions = publisher.partitions(CUSTOMERS_CHANGED)
        identified = Identified()  # for this poll: the contacts its transactions stored
        letters: list[DeadLetter] = []
        for received in parsed_ahead(transactions(batch), table, worker):
            letters += isolating(received, table, partitions, identified)
        return letters

    return handle
