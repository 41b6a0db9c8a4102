"""``audiencesync score``, ``export customers``, ``report icp`` and ``backtest``: the scorer's commands."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from shared.config import Settings

if TYPE_CHECKING:
    from rich.console import Console

    from shared.definitions.scoring import ScoringConfig
    from shared.store.db import Store

EXPORT_FEATURES = (
    "orders", "aov", "ltv", "orders_per_year", "return_rate", "discount_share", "mean_discount_depth",
    "min_discount_depth", "tickets_per_order", "recency_days", "expected_orders", "country", "channel",
    "top_category", "accepts_email",
)  # fmt: skip
EXPORT_COLUMNS = ("customer_key", "customer_id", "label", "stage", "reasons", "value", "p_alive",
                  *EXPORT_FEATURES, "as_of")  # fmt: skip


def end_of_day(text: str) -> datetime:
    """``YYYY-MM-DD`` as the last microsecond of that day, UTC: facts up to and on it count."""
    try:
        return datetime.combine(date.fromisoformat(text), time.max, UTC)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a date YYYY-MM-DD, got {text!r}") from None


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``score``, ``export customers``, ``report icp`` and ``backtest``."""
    scoring = sub.add_parser("score", help="rescore customers: labels, stages, predicted value")
    scoring.add_argument("--all", action="store_true", required=True, help="rescore every customer")
    scoring.add_argument("--as-of", type=end_of_day, default=None, metavar="YYYY-MM-DD",
                         help="use only facts up to the end of this day (default: now)")  # fmt: skip
    scoring.set_defaults(func=_score)

    export = sub.add_parser("export", help="export stored results")
    what = export.add_subparsers(dest="export_command", metavar="WHAT", required=True)
    customers = what.add_parser("customers", help="every customer's label, reasons, value and features (CSV)")
    customers.add_argument("--out", type=Path, required=True, metavar="FILE.csv")
    customers.set_defaults(func=_export)

    report = sub.add_parser("report", help="reports on the stored labels")
    kinds = report.add_subparsers(dest="report_command", metavar="REPORT", required=True)
    icp = kinds.add_parser("icp", help="the ICP report: terminal summary and an HTML file")
    icp.add_argument("--out", type=Path, default=None, metavar="FILE.html",
                     help="HTML file to write (default: var/reports/icp-<date>.html)")  # fmt: skip
    icp.add_argument("--since", type=end_of_day, default=None, metavar="YYYY-MM-DD",
                     help="count movements since this day (default: since the last report)")  # fmt: skip
    icp.set_defaults(func=_report)

    back = sub.add_parser("backtest", help="score as of a past date and measure the lists on what followed")
    back.add_argument("--calibration-end", type=end_of_day, required=True, metavar="YYYY-MM-DD",
                      help="score as of the end of this day, with only the facts known then "
                           "(e.g. 6 months before the last order)")  # fmt: skip
    back.add_argument("--holdout-end", type=end_of_day, default=None, metavar="YYYY-MM-DD",
                      help="end of the following period (default: the last stored order)")  # fmt: skip
    back.set_defaults(func=_backtest)


def _open(settings: Settings) -> tuple[Store, ScoringConfig]:
    from shared.definitions import load_definitions
    from shared.store.db import Store
    from shared.store.migrate import upgrade

    scoring = load_definitions(settings.config_file).scoring
    upgrade(settings.database_url)
    return Store(settings.database_url), scoring


def _console() -> Console:
    from rich.console import Console

    return Console(highlight=False)


def _pct(share: float) -> str:
    return "–" if math.isnan(share) else f"{share:.1%}"


def _score(args: argparse.Namespace, settings: Settings) -> int:
    from rich.table import Table

    from services.scorer.rescoring import full_rescore
    from shared.bus.producer import Publisher
    from shared.store.outbox import relay_outbox

    store, scoring = _open(settings)
    announce = settings.kafka_bootstrap is not None
    try:
        result, scored = full_rescore(
            store, scoring, as_of=args.as_of or datetime.now(UTC), announce=announce
        )
        if announce:
            assert settings.kafka_bootstrap is not None
            publisher = Publisher(settings.kafka_bootstrap, client_id="score")
            try:
                relay_outbox(store, publisher)
            finally:
                publisher.close()
    finally:
        store.dispose()
    when = f"{args.as_of:%Y-%m-%d}" if args.as_of else "now"
    table = Table(title=f"Full rescore as of {when} (profile {scoring.profile})")
    for name in ("label", "customers", "share", "predicted value"):
        table.add_column(name, justify="left" if name == "label" else "right")
    for label in ("icp", "neutral", "negative_icp"):
        count = result.labels.get(label, 0)
        share = count / result.customers if result.customers else math.nan
        value = result.value_by_label.get(label, 0.0)
        table.add_row(label, f"{count:,}", _pct(share), f"{value:,.2f}")
    console = _console()
    console.print(table)
    stages = ", ".join(f"{k} {v:,}" for k, v in sorted(result.stages.items()))
    console.print(f"stages: {stages}")
    console.print(f"value model: {result.method}; " + "; ".join(scored.calibration.model.notes))
    sent = "announced on labels.changed" if announce else "not announced (no broker configured)"
    seconds = ", ".join(f"{k} {v:.1f}s" for k, v in result.seconds.items())
    console.print(f"{result.changed:,} material changes, {sent}; {seconds}")
    return 0


def _cell(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return value


def _export(args: argparse.Namespace, settings: Settings) -> int:
    from services.scorer.adapters.label_reads import export_rows

    store, _ = _open(settings)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    try:
        with open(args.out, "w", encoding="utf-8", newline="") as handle, store.session() as session:
            writer = csv.writer(handle)
            writer.writerow(EXPORT_COLUMNS)
            for row in export_rows(session):
                features = [_cell(row.features.get(name)) for name in EXPORT_FEATURES]
                value = "" if row.value is None else f"{row.value:.2f}"
                head = [row.customer_key, row.customer_id or "", row.label, row.stage or ""]
                tail = [";".join(row.reasons), value, _cell(row.p_alive), *features, row.as_of.isoformat()]
                writer.writerow(head + tail)
                count += 1
    finally:
        store.dispose()
    print(f"{count:,} customers written to {args.out}")
    return 0


def _report(args: argparse.Namespace, settings: Settings) -> int:
    from services.scorer.report_extras import build_extras
    from services.scorer.report_html import render
    from services.scorer.report_terminal import print_report
    from services.scorer.reporting import build_report, record_report
    from shared.definitions.stored import load_effective

    store, _ = _open(settings)
    try:
        report = build_report(store, since=args.since)
        extras = build_extras(store, settings.base_currency, load_effective(store, settings.config_file))
        out = args.out or settings.var_dir / "reports" / f"icp-{report.generated_at:%Y-%m-%d}.html"
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(render(report, extras), encoding="utf-8")
        record_report(store, report)
    finally:
        store.dispose()
    print_report(_console(), report, extras)
    print(f"HTML report written to {out}")
    return 0


def _backtest(args: argparse.Namespace, settings: Settings) -> int:
    from services.scorer.backtesting import NothingToBacktestError, run_backtest
    from services.scorer.report_terminal import print_backtest

    store, scoring = _open(settings)
    try:
        run = run_backtest(store, scoring, args.calibration_end, args.holdout_end)
    except NothingToBacktestError as exc:
        print(f"audiencesync: {exc}", file=sys.stderr)
        return 2
    finally:
        store.dispose()
    print_backtest(_console(), run)
    return 0
