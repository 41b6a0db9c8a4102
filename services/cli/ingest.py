"""``audiencesync import``, ``dead-letters`` and ``rates``: getting facts in, and seeing what was refused.

Exit codes: 0 done; 1 the import stopped or ended with (nearly) every record refused for one
reason, or its ingestor stopped; 2 bad input (a file, a rates file or a shop that cannot be used),
answered with one line on stderr before anything is started or stored.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from shared.config import Settings

if TYPE_CHECKING:
    from rich.progress import TaskID

    from services.ingestor.bulk import ImportResult, Progress
    from services.ingestor.domain import Rates

BAD_INPUT = 2
STOPPED = 1


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``import``, ``dead-letters list`` and ``rates load``."""
    imp = sub.add_parser(
        "import", help="import orders, refunds, customers, tickets or checkouts from a file (.gz accepted)"
    )
    imp.add_argument("kind", choices=("orders", "refunds", "customers", "tickets", "checkouts"))
    imp.add_argument("file", type=Path)
    imp.add_argument(
        "--format",
        dest="fmt",
        choices=("auto", "shopify", "generic", "shopify-csv"),
        default="auto",
        help="shopify: Shopify's REST JSON; generic: the generic layouts; shopify-csv: Shopify's admin"
        " order export; auto (default): from the CSV header or each record's fields (docs/import.md)",
    )
    imp.add_argument(
        "--shop",
        default=None,
        metavar="DOMAIN",
        help="the shop's domain, as webhooks name it (x.myshopify.com); default: the SHOP setting",
    )
    imp.add_argument("--rates", type=Path, default=None, help="load this rates file first (YAML or CSV)")
    imp.add_argument("--verbose", action="store_true", help="show the embedded ingestor's log (LOG_LEVEL)")
    imp.set_defaults(func=_import)

    dead = sub.add_parser("dead-letters", help="messages set aside, with their reasons")
    dead_actions = dead.add_subparsers(dest="dead_command", metavar="ACTION", required=True)
    listing = dead_actions.add_parser("list", help="list dead letters (newest first)")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.add_argument("--limit", type=_positive, default=100, help="at most this many (default 100)")
    listing.add_argument("--unresolved", action="store_true", help="only those not marked handled")
    listing.set_defaults(func=_dead_letters)
    resolving = dead_actions.add_parser(
        "resolve", help="mark unresolved dead letters handled (after fixing their cause), by filter"
    )
    resolving.add_argument("--consumer", help="e.g. ingestor")
    resolving.add_argument("--topic", help="e.g. orders.raw")
    resolving.add_argument("--reason", help="part of the reason, e.g. a currency code")
    resolving.add_argument("--before", type=_moment, help="set aside before this ISO time (UTC if no zone)")
    resolving.add_argument("--all", action="store_true", help="every unresolved one (no filter)")
    resolving.set_defaults(func=_resolve_dead_letters)

    rates = sub.add_parser("rates", help="exchange rates to the base currency")
    rate_actions = rates.add_subparsers(dest="rates_command", metavar="ACTION", required=True)
    load = rate_actions.add_parser("load", help="replace the rates table from a YAML or CSV file")
    load.add_argument("file", type=Path)
    load.set_defaults(func=_rates_load)


def _positive(text: str) -> int:
    """An argparse type: a whole number of at least 1 (PostgreSQL refuses a negative LIMIT)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not 1 or more")
    return value


def _refuse(message: str) -> int:
    print(f"audiencesync: {message}", file=sys.stderr)
    return BAD_INPUT


def _read_rates(settings: Settings, path: Path) -> Rates:
    """The rates in ``path``; raises ``ImportInputError`` (one line) for any problem with the file."""
    from services.ingestor.domain import RatesError, load_rates
    from services.ingestor.importer import ImportInputError, check_text_file

    if path.suffix.lower() not in {".yaml", ".yml", ".csv"}:
        raise ImportInputError(f"{path}: a rates file is .yaml, .yml or .csv (docs/import.md)")
    check_text_file(path)
    try:
        rates = load_rates(path)
    except RatesError as exc:
        raise ImportInputError(f"{path}: {exc}") from None
    if not rates.rates and not rates.history:  # loading it would delete every stored rate
        raise ImportInputError(f"{path}: a base but no rates")
    if rates.base != settings.base_currency:
        raise ImportInputError(
            f"{path}: rates are to {rates.base}, but BASE_CURRENCY is {settings.base_currency};"
            f" set BASE_CURRENCY={rates.base} or write the rates to {settings.base_currency}"
        )
    return rates


def _rates_load(args: argparse.Namespace, settings: Settings) -> int:
    from services.ingestor.importer import ImportInputError

    try:
        rates = _read_rates(settings, args.file)
    except ImportInputError as exc:
        return _refuse(str(exc))
    from services.ingestor.bulk import save_rates_to_store

    count = save_rates_to_store(settings, rates)
    print(f"{count} rates loaded (base {settings.base_currency})")
    return 0


def _import(args: argparse.Namespace, settings: Settings) -> int:
    from services.ingestor.importer import ImportInputError, ImportStalledError, check_import
    from shared.bus.producer import PublishError
    from shared.log import configure_logging

    if not args.verbose:  # the summary below says what the ingestor's per-record lines would
        # CRITICAL, not ERROR: a record the database refused is logged as an error with its
        # traceback (258 lines on stderr for one row), though the summary already counts it as
        # handler_error and `dead-letters list` keeps it; a stopped ingestor says --verbose.
        configure_logging(fmt=settings.log_format, level="CRITICAL", service="import")
        # kafka-python logs a connection it drops and re-opens at once as an error; a broker that
        # stays away stops the import, which then says to run again with --verbose.
        logging.getLogger("kafka").setLevel(logging.CRITICAL)
    try:
        rates = _read_rates(settings, args.rates) if args.rates else None
        with _progress(args.file.name) as bars:
            checked = check_import(
                args.file, args.kind, args.fmt, args.shop, settings.shop, on_bytes=bars.checking
            )
            # The broker, the ingestor and the store's modules only for a file that passed.
            from services.ingestor.bulk import run_import

            result = run_import(
                settings,
                args.file,
                args.kind,
                rates=rates,
                on_progress=bars.importing,
                fmt=args.fmt,
                checked=checked,
            )
    except ImportInputError as exc:
        return _refuse(str(exc))
    except ImportStalledError as exc:
        print(f"audiencesync: {args.file}: {exc} (run again with --verbose to see why)", file=sys.stderr)
        return STOPPED
    except PublishError as exc:  # the broker refused or lost records: nothing more was published
        print(
            f"audiencesync: {args.file}: import stopped, the broker did not take every record ({exc})",
            file=sys.stderr,
        )
        return STOPPED
    if result.rates_loaded is not None:
        print(f"{result.rates_loaded} rates loaded (base {settings.base_currency})")
    _report(result, args.file)
    if result.verdict is not None:
        early = (result.handled or 0) < result.records
        print(f"audiencesync: import {'stopped' if early else 'refused'}: {result.verdict}", file=sys.stderr)
        return STOPPED
    return 0


@dataclass
class _Bars:
    """The two progress callbacks of an import: the file check's bytes, then the records handled."""

    checking: Progress
    importing: Progress


@contextmanager
def _progress(name: str) -> Iterator[_Bars]:
    """Progress bars on stderr, with the time left and the time spent: first the file check's
    bytes read of the file's size (a large file only), then the records handled of the total the
    check counted (an export's orders rather than its lines).

    Only when both stdout and stderr are terminals, and only from the first report on: a refused
    file leaves one line on stderr, its reason, and a piped or redirected run prints no bar.
    """
    from rich.console import Console
    from rich.progress import BarColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn
    from rich.progress import Progress as Bar

    console = Console(stderr=True)
    if not (console.is_terminal and sys.stdout.isatty()):
        yield _Bars(lambda _done, _total: None, lambda _done, _total: None)
        return
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.fields[amount]}"),
        TimeRemainingColumn(),
        TimeElapsedColumn(),
    )
    with ExitStack() as stack:
        bar: Bar | None = None
        tasks: dict[str, TaskID] = {}

        def show(phase: str, done: int, total: int, amount: str) -> None:
            nonlocal bar
            if bar is None:
                bar = stack.enter_context(Bar(*columns, console=console, transient=True))
            if phase not in tasks:
                for other in tasks.values():  # the check is over once records are handled
                    bar.update(other, visible=False)
                tasks[phase] = bar.add_task(f"{phase} {name}", total=total, amount=amount)
            bar.update(tasks[phase], completed=done, total=total, amount=amount)

        def checking(done: int, total: int) -> None:
            show("checking", done, total, f"{done / 1e6:,.1f}/{total / 1e6:,.1f} MB")

        def importing(done: int, total: int) -> None:
            show("importing", done, total, f"{done:,}/{total:,}")

        yield _Bars(checking, importing)


def _records(count: int, unit: str = "record") -> str:
    return f"{count:,} {unit}{'' if count == 1 else 's'}"


def _report(result: ImportResult, path: Path) -> None:
    """The summary on stdout: this import's own counts."""
    from services.ingestor.verdict import fix, reason_code

    where = f"{path.name} (shop {result.shop})"
    if result.handled is None:
        print(
            f"{where}: published {result.published:,} of {_records(result.records, result.unit)} in"
            f" {result.seconds:.1f}s; the ingestors store them (see `audiencesync dead-letters list`)"
        )
        return
    rate = result.handled / result.seconds if result.seconds else 0.0
    counts = f"{result.stored:,} stored, {result.refused:,} refused"
    if result.handled < result.records:
        counts = f"stopped after {result.handled:,} of {_records(result.records, result.unit)}: {counts}"
    else:
        counts = f"{_records(result.records, result.unit)}: {counts}"
    print(f"{where}: {counts} in {result.seconds:.1f}s ({rate:,.0f}/s)")
    by_reason: dict[tuple[str, str | None], Counter[str]] = {}
    for (reason, field_path), count in result.refusals.items():
        code, detail = reason_code(reason)
        by_reason.setdefault((code, field_path), Counter())[detail] += count
    ranked = sorted(by_reason.items(), key=lambda item: -item[1].total())
    for (code, field_path), details in ranked[:5]:
        at = f" at {field_path}" if field_path and field_path != "$" else ""
        shown = [f"{detail} {count:,}" for detail, count in details.most_common(4) if detail]
        more = ", ..." if len(details) > 4 else ""
        print(
            f"  {details.total():,} refused: {code}{at}" + (f" ({', '.join(shown)}{more})" if shown else "")
        )
    if ranked:
        (code, field_path), details = ranked[0]
        print(f"  fix: {fix(code, field_path, tuple(d for d, _ in details.most_common() if d))}")
    if result.refused:
        print("see them with: audiencesync dead-letters list")
    if result.shop == "default":
        print(
            "stored under shop 'default': name your shop with --shop or SHOP (x.myshopify.com)"
            " before webhooks arrive, or their customers are counted apart from these"
        )


def _dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from shared.store.db import Store
    from shared.store.migrate import upgrade
    from shared.store.models import DeadLetterRecord

    upgrade(settings.database_url)  # a fresh install has no table yet: an empty list, not an error
    store = Store(settings.database_url)
    try:
        with store.session() as session:
            query = select(DeadLetterRecord).order_by(DeadLetterRecord.id.desc()).limit(args.limit)
            if args.unresolved:
                query = query.where(DeadLetterRecord.resolved_at.is_(None))
            rows = session.scalars(query).all()
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


def _moment(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _resolve_dead_letters(args: argparse.Namespace, settings: Settings) -> int:
    from services.api.adapters.dead_letters import resolve_matching
    from shared.store.db import Store
    from shared.store.migrate import upgrade

    upgrade(settings.database_url)
    store = Store(settings.database_url)
    try:
        count = resolve_matching(
            store,
            "cli",
            consumer=args.consumer,
            topic=args.topic,
            reason=args.reason,
            before=args.before,
            everything=args.all,
        )
    except ValueError:  # no filter: resolving everything takes --all
        print(
            "audiencesync: name a filter (--consumer, --topic, --reason, --before), or --all", file=sys.stderr
        )
        return 2
    finally:
        store.dispose()
    print(f"resolved {count:,} dead letters")
    return 0
