"""The ingest floor: orders JSON-decoded and validated in a loop in one process, no bus, no database.

The end-to-end ingest benchmark is judged against this figure (issue 5: one consumer within 1.5x
of the floor's time per order). The orders are the demo generator's (seed 1, ~100,000 orders,
Shopify-shaped, ~5.7 KB each); Shopify's own 15 KB documentation order is timed too, since the
issue's reference figure (about 2,700/s) was measured on an order of that size. Stages, each one
pass over the same bytes:

- ``json.loads``: the C decoder alone, for scale;
- ``decode_json``: strict decoding (duplicate-key check, decimals for floats, UTF-8 check);
- ``decode + validate`` (**the floor**): ``decode_json`` + the marshmallow order schema;
- ``+ normalize``: through ``order_facts`` to frozen facts, money converted to the base currency;
- the same orders in the generic CSV layout: ``csv.DictReader`` rows, validated and normalized.

Prints figures only; nothing here asserts on speed. Run: ``python -m bench ingest_parse``.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import os
import time
from collections.abc import Callable, Iterable
from datetime import date
from pathlib import Path
from typing import Any

from services.ingestor.demo_data import GENERIC_COLUMNS, generate, rates_yaml
from services.ingestor.domain import (
    ORDER,
    decode_json,
    generic_facts,
    load_generic_row,
    order_facts,
    validate,
)
from services.ingestor.domain.money import parse_rates_yaml

SEED = 1
AS_OF = date(2026, 1, 1)
CUSTOMERS = 28_600  # ~100,000 orders at the demo's ~3.5 orders a customer
DOCS_ORDER = (
    Path(__file__).resolve().parents[1]
    / "tests"
    / "fixtures"
    / "shopify"
    / "orders_create.shopify_docs_2026-07.json"
)
DOCS_REPEAT = 10_000
RATES = parse_rates_yaml(rates_yaml())


def _timed(label: str, items: Iterable[Any], work: Callable[[Any], object], count: int) -> float:
    """Run ``work`` over ``items`` once; print wall and CPU rates, return orders per CPU second.

    CPU time is what one uncontended core would take; wall time also counts waiting for a core
    on a busy machine, so the two differ by about the load (printed in the header).
    """
    gc.collect()
    wall, cpu = time.perf_counter(), time.process_time()
    for item in items:
        work(item)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    per = cpu / count * 1e6
    print(f"  {label:<38} {count / cpu:>8,.0f}/s cpu {per:>7.1f} us  |  {count / wall:>8,.0f}/s wall")
    return count / cpu


def _floor(body: bytes) -> object:
    return validate(ORDER, decode_json(body))


def _facts(body: bytes) -> object:
    return order_facts(validate(ORDER, decode_json(body)), shop="bench", rates=RATES)


def _generic(row: dict[str, str]) -> object:
    return generic_facts(load_generic_row(row), shop="bench", rates=RATES)


def _orders() -> tuple[list[bytes], str]:
    """The demo orders as webhook bytes, and the same orders in the generic CSV layout."""
    bodies: list[bytes] = []
    rows = io.StringIO()
    writer = csv.DictWriter(rows, fieldnames=GENERIC_COLUMNS)
    writer.writeheader()
    for cust in generate(CUSTOMERS, SEED, AS_OF):
        bodies.extend(order.encode() for order in cust.orders)
        writer.writerows(cust.rows)
    return bodies, rows.getvalue()


def main() -> None:
    """Print the floor (decode + validate) and its neighbours for the demo orders and the docs order."""
    started = time.perf_counter()
    bodies, generic = _orders()
    n, size = len(bodies), sum(map(len, bodies)) / len(bodies)
    made = time.perf_counter() - started
    print(f"  {n:,} demo orders (seed {SEED}), {size / 1024:.1f} KB average, made in {made:.1f}s")
    print(f"  load average {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; one process, one pass per line")
    _timed("json.loads", bodies, json.loads, n)
    _timed("decode_json (strict)", bodies, decode_json, n)
    floor = _timed("decode + validate  [FLOOR]", bodies, _floor, n)
    _timed("decode + validate + normalize", bodies, _facts, n)
    rows = list(csv.DictReader(io.StringIO(generic)))
    _timed("generic CSV row: validate + normalize", rows, _generic, len(rows))
    docs = DOCS_ORDER.read_bytes()
    print(f"  Shopify's docs order ({len(docs) / 1024:.1f} KB), {DOCS_REPEAT:,} times:")
    docs_floor = _timed("decode + validate  [FLOOR]", [docs] * DOCS_REPEAT, _floor, DOCS_REPEAT)
    print(f"  FLOOR: {floor:,.0f} demo orders/s, {docs_floor:,.0f} docs orders/s per CPU second "
          "(issue 5 measured ~2,700/s for a 15 KB order)")  # fmt: skip


if __name__ == "__main__":
    main()
