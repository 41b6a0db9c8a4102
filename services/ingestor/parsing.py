"""Raw records of the kinds written in runs (orders, customers, refunds), parsed into facts.

A record's body in; out, the item its run writes (plain rows, contacts already hashed) or the
reason it is refused. Parsing, validating and hashing are half of an import's CPU time: the
handler has them done for the next transaction by the parse worker (``adapters/parse_worker.py``)
while it writes this one, so one ingestor uses two cores. Items are built so that they cross the
process boundary cheaply (rows of plain values; slotted classes pickled as their values: the
facts themselves cost the writer half as much to unpickle as to parse). Small batches
(webhooks) are parsed inline, where a process hop would only add latency.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeAlias

from services.ingestor.adapters.contact_hashes import hash_all
from services.ingestor.adapters.facts_store import CustomerItem
from services.ingestor.adapters.order_batch import OrderItem, order_item
from services.ingestor.domain import (
    Contact,
    CustomerFacts,
    InvalidPayload,
    OrderFacts,
    Rates,
    RefundFacts,
    ingest_customer,
    ingest_generic_row,
    ingest_order,
    ingest_refund,
)
from services.ingestor.domain.customer_rows import ingest_customer_row
from services.ingestor.domain.refund_rows import ingest_refund_row
from services.ingestor.domain.resolution import Sighting
from shared.messages import RawReceived
from shared.pickling import register_compact

ORDER_TOPICS = frozenset(
    {"orders/create", "orders/updated", "orders/paid", "orders/cancelled", "import/shopify", "import/generic"}
)
CUSTOMER_TOPICS = frozenset({"customers/create", "customers/update", "import/customers"})
REFUND_TOPICS = frozenset({"refunds/create", "import/refunds"})

register_compact(Sighting, RefundFacts)  # the items themselves are named tuples

Item: TypeAlias = OrderItem | CustomerItem | RefundFacts
# Per record of a batch: its item, why it is refused, or None (not a run topic, or to be parsed by
# the writer itself, which then meets any unexpected error where it can isolate it).
Parsed: TypeAlias = list[Item | InvalidPayload | None]
_Facts: TypeAlias = tuple[OrderFacts | CustomerFacts, Contact] | RefundFacts  # before hashing


def kind_of(topic: str) -> str | None:
    """The run a topic's records are written in (orders, customers, refunds), else None."""
    if topic in ORDER_TOPICS:
        return "orders"
    if topic in CUSTOMER_TOPICS:
        return "customers"
    if topic in REFUND_TOPICS:
        return "refunds"
    return None


def _facts(raw: RawReceived, rates: Rates) -> _Facts:
    """A run topic's body as facts; raises ``InvalidPayload``."""
    kind = kind_of(raw.topic)
    if kind == "orders":
        if raw.topic == "import/generic":
            order = ingest_generic_row(raw.body, shop=raw.shop, rates=rates)
        else:
            order = ingest_order(raw.body, shop=raw.shop, rates=rates)
        return order.facts, order.contact
    if kind == "customers":
        if raw.topic == "import/customers":
            customer = ingest_customer_row(raw.body, shop=raw.shop)
        else:
            customer = ingest_customer(raw.body, shop=raw.shop)
        return customer.facts, customer.contact
    if kind == "refunds":
        if raw.topic == "import/refunds":
            return ingest_refund_row(raw.body, shop=raw.shop, rates=rates).facts
        return ingest_refund(raw.body, shop=raw.shop, rates=rates).facts
    raise ValueError(f"{raw.topic!r} is not written in runs")


def _items(raws: Sequence[RawReceived], parsed: Sequence[_Facts]) -> list[Item]:
    """The facts as items, every contact hashed in one batch."""
    contacts = [p[1] for p in parsed if isinstance(p, tuple)]
    hashed = iter(hash_all(contacts))
    items: list[Item] = []
    for raw, facts in zip(raws, parsed, strict=True):
        if not isinstance(facts, tuple):
            items.append(facts)
        elif isinstance(facts[0], OrderFacts):
            source = "import" if raw.source == "import" else "webhook"
            items.append(order_item(facts[0], facts[1], next(hashed), source))
        else:
            items.append(CustomerItem(facts[0], facts[1].email, next(hashed)))
    return items


def parse(raw: RawReceived, rates: Rates) -> Item:
    """A run topic's record as the item its run writes; raises ``InvalidPayload``."""
    return _items([raw], [_facts(raw, rates)])[0]


def parse_batch(raws: Sequence[RawReceived | None], rates: Rates) -> Parsed:
    """Parse every run record of a transaction, hashing the contacts in one batch."""
    results: Parsed = []
    good: list[tuple[int, RawReceived, _Facts]] = []
    for at, raw in enumerate(raws):
        results.append(None)
        if raw is None or kind_of(raw.topic) is None:
            continue
        try:
            good.append((at, raw, _facts(raw, rates)))
        except InvalidPayload as exc:
            results[at] = exc
        except Exception:  # the writer parses it again and handles the error there
            results[at] = None
    try:
        items = _items([raw for _, raw, _ in good], [facts for _, _, facts in good])
    except Exception:  # likewise: each record is parsed again alone, its error isolated
        return [r if isinstance(r, InvalidPayload) else None for r in results]
    for (at, _, _), item in zip(good, items, strict=True):
        results[at] = item
    return results
