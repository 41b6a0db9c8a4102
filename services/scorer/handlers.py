"""The scorer's handler: ``customers.changed`` in, rescored labels stored, material changes out.

One rescore per batch: the batch's customers are aggregated with one set of queries and scored
together against the stored calibration; erasures delete labels and announce the removal.
``LabelChanged`` messages go to the outbox in the same transaction as the labels and are
published after commit. Database errors are left to the runner (it retries the batch), and so
is an unexpected error (it isolates the one message it comes from).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from prometheus_client import Counter

from services.scorer.rescoring import rescore_customers
from shared.bus import topics
from shared.bus.consumer import DeadLetter, Delivery, Handler
from shared.bus.envelope import InvalidMessage
from shared.bus.producer import Publisher
from shared.definitions.scoring import ScoringConfig
from shared.messages import CustomerChanged, CustomersChanged
from shared.store.db import Store
from shared.store.outbox import relay_outbox

RESCORED = Counter("audiencesync_scorer_rescored_total", "Customers rescored incrementally")
LABELS_CHANGED = Counter("audiencesync_scorer_label_changes_total", "Material label changes announced")


def parse(delivery: Delivery) -> list[CustomerChanged]:
    """The changes a delivery carries (one, or an ingest batch's); raises ``InvalidMessage`` otherwise."""
    envelope = delivery.envelope
    if envelope.type == CustomersChanged.TYPE and envelope.version == CustomersChanged.VERSION:
        return CustomersChanged.from_envelope(envelope).each()
    if envelope.type != CustomerChanged.TYPE or envelope.version != CustomerChanged.VERSION:
        raise InvalidMessage(f"unexpected message type {envelope.type!r} v{envelope.version}", "type")
    return [CustomerChanged.from_envelope(envelope)]


def make_handler(
    store: Store, publisher: Publisher, config: ScoringConfig, clock: Callable[[], datetime]
) -> Handler:
    """The batch handler wired to the store, the publisher and the scoring configuration."""

    def handle(batch: Sequence[Delivery]) -> list[DeadLetter]:
        letters: list[DeadLetter] = []
        changed: set[str] = set()
        erased: set[str] = set()
        for delivery in batch:
            try:
                messages = parse(delivery)
            except InvalidMessage as exc:
                letters.append(DeadLetter.of(delivery, exc.reason, exc.field_path))
                continue
            for message in messages:
                # An erasure is final: a change of the same customer earlier in the batch is moot.
                (erased if message.erased else changed).add(message.customer_key)
        if changed or erased:
            result = rescore_customers(store, config, changed, erased=erased, now=clock())
            relay_outbox(store, publisher, topics=(topics.LABELS_CHANGED,))
            RESCORED.inc(result.customers)
            LABELS_CHANGED.inc(result.changed + result.erased)
        return letters

    return handle
