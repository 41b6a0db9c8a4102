"""``audiencesync import``, ``dead-letters`` and ``rates``: getting facts in, and seeing what was refused."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from shared.config import Settings


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``import``, ``dead-letters list`` and ``rates load``."""
    imp = sub.add_parser("import", help="import orders, tickets or checkouts from a file (.gz accepted)")
    imp.add_argument("kind", choices=("orders", "tickets", "checkouts"))
    imp.add_argument("file", type=Path)
    imp.add_argument("--rates", type=Path, default=None, help="load this rates file first (YAML or CSV)")
    imp.set_defaults(func=_import)

    dead = sub.add_parser("dead-letters", help="messages set aside, with their reasons")
    dead_actions = dead.add_subparsers(dest="dead_command", metavar="ACTION", required=True)
    listing = dead_actions.add_parser("list", help="list dead letters (newest first)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--limit", type=int, default=100)
    listing.set_defaults(func=_dead_letters)

    rates = sub.add_parser("rates", help="exchange rates to the base currency")
    rate_actions = rates.add_subparsers(dest="rates_command", metavar="ACTION", required=True)
    load = rate_actions.add_parser("load", help="replace the rates table from a YAML or CSV file")
    load.add_argument("file", type=Path)
    load.set_defaults(func=_rates_load)


def _load_rates(settings: Settings, path: Path) -> int:
    from services.ingestor.adapters.rates_store import save_rates
    from services.ingestor.domain import load_rates
    from shared.store.db import Store
    from shared.store.migrate import upgrade

    rates = load_rates(path)
    if rates.base != settings.base_currency:
        raise SystemExit(f"{path}: base {rates.base} differs from BASE_CURRENCY {settings.base_currency}")
    upgrade(settings.database_url)
    store = Store(settings.database_url)
    try:
        return save_rates(store, rates)
    finally:
        store.dispose()


def _rates_load(args: argparse.Namespace, settings: Settings) -> int:
    from services.ingestor.domain import RatesError

    try:
        count = _load_rates(settings, args.file)
    except (RatesError, OSError) as exc:
        print(f"audiencesync: {exc}", file=sys.stderr)
        return 2
    print(f"{count} rates loaded (base {settings.base_currency})")
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from services.ingestor.bulk import run_import

    if args.rates:
        _rates_load(argparse.Namespace(file=args.rates), settings)
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        TextColumn("{task.completed:,} records"),
        TimeElapsedColumn(),
        transient=True,
    ) as progress:
        task = progress.add_task(f"publishing {args.file.name}", total=None)
        result = run_import(settings, args.file, args.kind, on_record=lambda: progress.advance(task))
    if result.stored is None:
        print(f"published {result.published:,} records in {result.seconds:.1f}s (the ingestors store them)")
    else:
        rate = result.published / result.seconds if result.seconds else 0.0
        print(
            f"{result.published:,} records: {result.stored:,} stored, {result.dead_lettered:,} dead-lettered "
            f"in {result.seconds:.1f}s ({rate:,.0f}/s)"
        )
        if result.dead_lettered:
            print("see them with: audiencesync dead-letters list")
    return 0


def _dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from shared.store.db import Store
    from shared.store.models import DeadLetterRecord

    store = Store(settings.database_url)
    try:
        with store.session() as session:
            rows = session.scalars(
                select(DeadLetterRecord).order_by(DeadLetterRecord.id.desc()).limit(args.limit)
            ).all()
    finally:
        store.dispose()
    for row in rows:
        item = {
            "at": row.created_at.isoformat(),
            "consumer": row.consumer,
            "reason": row.reason,
            "field_path": row.field_path,
            "source": {"topic": row.topic, "partition": row.partition, "offset": row.offset},
            "message_id": row.message_id,
            "key": row.key,
        }
        if args.json:
            print(json.dumps(item))
        else:
            where = f"{row.topic}[{row.partition}]@{row.offset}"
            print(f"{item['at']}  {where}  {row.field_path or '-'}: {row.reason}")
    return 0
