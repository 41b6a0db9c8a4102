"""``audiencesync demo-data``: write a demo shop's orders, checkouts, tickets and the truth."""

from __future__ import annotations

import argparse
import time
from datetime import UTC, date, datetime
from pathlib import Path

from shared.config import Settings


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``demo-data``."""
    parser = sub.add_parser(
        "demo-data",
        help="generate demo Shopify orders with planted segments (and their truth)",
        description="Writes FILE (orders), FILE.checkouts.jsonl, FILE.tickets.jsonl, FILE.truth.csv "
        "and FILE.rates.yaml. The same --seed and --as-of always give the same files.",
    )
    parser.add_argument("--customers", type=_positive, default=1000, help="buying customers (default 1000)")
    parser.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    parser.add_argument("--out", type=Path, required=True, metavar="FILE", help="the orders file to write")
    parser.add_argument(
        "--as-of",
        type=date.fromisoformat,
        default=None,
        metavar="YYYY-MM-DD",
        help="the day the history ends (default: today, UTC)",
    )
    parser.add_argument(
        "--format",
        choices=("shopify", "generic"),
        default="shopify",
        help="shopify: one order JSON per line; generic: the generic CSV layout (docs/import.md)",
    )
    parser.add_argument(
        "--workers",
        type=_positive,
        default=1,
        help="processes rendering in parallel (default 1; same output)",
    )
    parser.set_defaults(func=run)


def run(args: argparse.Namespace, settings: Settings) -> int:
    """Generate the files and print what was written."""
    from services.ingestor.demo_data import write_demo

    as_of = args.as_of or datetime.now(UTC).date()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    started = time.monotonic()
    summary = write_demo(
        args.out, customers=args.customers, seed=args.seed, as_of=as_of, fmt=args.format, workers=args.workers
    )
    took = time.monotonic() - started
    print(
        f"{summary.orders} orders ({summary.test_orders} test) for {summary.customers} customers, "
        f"{summary.checkouts} abandoned checkouts, {summary.tickets} tickets in {took:.1f}s (as of {as_of})"
    )
    for path in summary.files:
        print(f"  {path}")
    return 0
