"""``audiencesync sync meta|google`` and ``sync status``: push audiences by difference, see how runs went.

Exit codes: 0 every run succeeded (or a dry run planned), 1 some run stopped or was refused
(the table says why and what to do), 2 a configuration or usage error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any

from shared.config import Settings

FINE = frozenset({"succeeded", "dry_run"})
PLATFORMS = ("meta", "google")


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``sync meta`` and ``sync status``."""
    sync = sub.add_parser("sync", help="sync audiences to the ad platforms, and list sync runs")
    actions = sync.add_subparsers(dest="sync_command", metavar="ACTION", required=True)
    meta = actions.add_parser(
        "meta",
        help="sync Meta custom audiences (adds and removes only what changed)",
        description="Compute each audience's desired members, compare them with the ledger and send "
        "only the differences to Meta in batches of up to 10,000; see docs/syncer-meta.md.",
    )
    meta.add_argument("--audience", metavar="KEY", help="only this audience (default: every audience)")
    meta.add_argument("--account", metavar="act_N", help="only this ad account (default: META_ACCOUNTS)")
    meta.add_argument("--dry-run", action="store_true", help="print the plan; send and change nothing")
    meta.add_argument("--repair", action="store_true", help="full replace (usersreplace); never empties")
    meta.add_argument("--force", action="store_true", help="go past the guardrails (mass removals)")
    meta.add_argument(
        "--adopt", metavar="AUDIENCE_ID", help="use this existing Meta audience for --audience, then sync"
    )
    meta.add_argument("--json", action="store_true", help="one JSON object per run")
    meta.set_defaults(func=_sync_meta)
    google = actions.add_parser(
        "google",
        help="sync Google Customer Match lists (Data Manager API by default; Google Ads API per audience)",
        description="Compute each audience's desired members (with Google's consent rules), compare them "
        "with the ledger and send only the differences: Data Manager requests of up to 10,000 members, or "
        "Google Ads API jobs; see docs/syncer-google.md.",
    )
    google.add_argument("--audience", metavar="KEY", help="only this audience (default: every audience)")
    google.add_argument(
        "--account", metavar="CUSTOMER_ID", help="only this customer (default: GOOGLE_CUSTOMERS)"
    )
    google.add_argument("--dry-run", action="store_true", help="print the plan; send and change nothing")
    google.add_argument(
        "--repair", action="store_true", help="safe replace (ingest all, then remove-all as of the start)"
    )
    google.add_argument("--force", action="store_true", help="go past the guardrails (mass removals)")
    google.add_argument("--json", action="store_true", help="one JSON object per run")
    google.set_defaults(func=_sync_google)
    status = actions.add_parser("status", help="recent sync runs, newest first")
    status.add_argument("--limit", type=int, default=20)
    status.add_argument("--audience", metavar="KEY")
    status.add_argument("--json", action="store_true", help="one JSON object per run")
    status.set_defaults(func=_status)


def _error(message: str) -> int:
    print(f"audiencesync: {message}", file=sys.stderr)
    return 2


def _sync_meta(args: argparse.Namespace, settings: Settings) -> int:
    from services.syncer_meta.bootstrap import build_service
    from services.syncer_meta.config import MetaSettings
    from shared.config import SettingsError

    try:
        meta = MetaSettings.from_env()
    except SettingsError as exc:
        return _error(f"configuration error: {exc}")
    if not meta.accounts:
        return _error("no Meta ad account: set META_ACCOUNTS and META_ACCESS_TOKEN (docs/syncer-meta.md)")
    if args.adopt and not args.audience:
        return _error("--adopt needs --audience KEY")
    first = meta.accounts[0].account_id

    def adopt(syncer: Any, console: Any) -> None:
        if args.adopt:
            account = args.account or first
            name = syncer.adopt(args.audience, account, args.adopt)
            console.print(f"adopted Meta audience {args.adopt} ({name}) as {args.audience} on {account}")

    return _run_sync(
        args,
        settings,
        platform="Meta",
        account=first,
        build=lambda store, on_batch: build_service(
            settings, store, meta=meta, dry_run=args.dry_run, on_batch=on_batch
        ),
        before=adopt,
    )


def _sync_google(args: argparse.Namespace, settings: Settings) -> int:
    from services.syncer_google.bootstrap import build_service
    from services.syncer_google.config import GoogleSettings
    from shared.config import SettingsError

    try:
        google = GoogleSettings.from_env()
    except SettingsError as exc:
        return _error(f"configuration error: {exc}")
    if not google.customers:
        return _error("no Google Ads customer: set GOOGLE_CUSTOMERS and credentials (docs/syncer-google.md)")
    return _run_sync(
        args,
        settings,
        platform="Google",
        account=google.customers[0],
        build=lambda store, on_batch: build_service(
            settings, store, google=google, dry_run=args.dry_run, on_batch=on_batch
        ),
    )


def _run_sync(
    args: argparse.Namespace,
    settings: Settings,
    *,
    platform: str,
    account: str,
    build: Callable[[Any, Callable[[Any], None]], Any],
    before: Callable[[Any, Any], None] | None = None,
) -> int:
    """Build a platform's sync service, sync what was asked with a progress line, print the runs."""
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from shared.config import SettingsError
    from shared.definitions import DefinitionsError
    from shared.store.db import Store
    from shared.store.migrate import upgrade
    from shared.sync.errors import PlatformError
    from shared.sync.outcome import SyncOptions
    from shared.sync.service import UnknownTargetError
    from shared.sync.uploads import Progress as BatchProgress

    upgrade(settings.database_url)
    store = Store(settings.database_url)
    console = Console(stderr=True)
    try:
        with Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            TextColumn("{task.completed:,} rows"),
            TimeElapsedColumn(),
            console=console,
            transient=True,
            disable=args.json,
        ) as progress:
            task = progress.add_task(f"syncing {platform} audiences", total=None)

            def on_batch(step: BatchProgress) -> None:
                progress.update(task, advance=step.rows, description=f"batch {step.seq} ({step.direction})")

            try:
                syncer = build(store, on_batch)
            except (DefinitionsError, SettingsError) as exc:
                return _error(str(exc))
            try:
                if before is not None:
                    before(syncer, console)
                options = SyncOptions(dry_run=args.dry_run, repair=args.repair, force=args.force)
                reports = syncer.sync(options, audience_key=args.audience, account=args.account)
            except UnknownTargetError as exc:
                return _error(str(exc.args[0]))
            except PlatformError as exc:
                return _error(exc.failure.operator_message(args.account or account))
            finally:
                syncer.close()
    finally:
        store.dispose()
    rows = [_report_row(r) for r in reports]
    if args.json:
        for row in rows:
            print(json.dumps(row, default=str))
    else:
        _print_reports(rows, dry_run=args.dry_run, platform=platform)
    return 0 if all(r["status"] in FINE for r in rows) else 1


def _report_row(report: Any) -> dict[str, Any]:
    run, plan, readback = report.run, report.plan, report.readback
    row: dict[str, Any] = {
        "audience": report.audience,
        "account": report.account,
        "mode": run.mode if run else report.mode,
        "status": report.status,
        "run_id": run.id if run else None,
        "resumed": report.resumed,
        "desired": run.desired if run else (plan.desired if plan else None),
        "added": run.added if run else 0,
        "removed": run.removed if run else 0,
        "invalid": run.invalid if run else 0,
        "api_calls": run.api_calls if run else 0,
        "size_lower": readback.lower if readback else None,
        "size_upper": readback.upper if readback else None,
        "operation_status": readback.operation_status if readback else None,
        "delivery_status": readback.delivery_status if readback else None,
        "platform_audience_id": report.platform_audience_id,
        "message": report.message,
    }
    if plan is not None:
        row["plan"] = {
            "new": plan.new,
            "updated": plan.updated,
            "deselected": plan.deselected,
            "erased": plan.erased,
        }
    if report.feedback.get("planned_calls") is not None:
        row["planned_calls"] = report.feedback["planned_calls"]
    if report.feedback.get("invalid_samples") or (run and run.feedback.get("invalid_samples")):
        row["invalid_samples"] = (run.feedback if run else report.feedback).get("invalid_samples", [])[:5]
    if report.feedback.get("lookalikes"):
        row["lookalikes"] = report.feedback["lookalikes"]
    return row


def _print_reports(rows: list[dict[str, Any]], *, dry_run: bool, platform: str = "Meta") -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(width=None if sys.stdout.isatty() else 160)
    title = f"{platform} sync plan (dry run: nothing sent)" if dry_run else f"{platform} sync runs"
    table = Table(title=title)
    for column in ("audience", "account", "mode", "status", "desired"):
        table.add_column(column, justify="right" if column == "desired" else "left")
    if dry_run:
        for column in ("new", "updated", "deselected", "erased", "calls"):
            table.add_column(column, justify="right")
    else:
        for column in ("added", "removed", "invalid", "calls", f"size ({platform})", "op / delivery"):
            table.add_column(column, justify="right")
    for row in rows:
        first = [row["audience"], row["account"], row["mode"], _styled(row["status"]), _n(row["desired"])]
        if dry_run:
            plan = row.get("plan") or {}
            rest = [_n(plan.get(k)) for k in ("new", "updated", "deselected", "erased")]
            rest.append(_n(row.get("planned_calls")))
        else:
            size = "-" if row["size_lower"] is None else f"{row['size_lower']:,}"
            if row["size_upper"] is not None and platform == "Meta":  # Meta reports a range
                size += f"–{row['size_upper']:,}"
            statuses = "-"
            if row["operation_status"] is not None:
                statuses = f"{row['operation_status']} / {row['delivery_status']}"
            rest = [_n(row[k]) for k in ("added", "removed", "invalid", "api_calls")] + [size, statuses]
        table.add_row(*first, *rest)
    console.print(table)
    for row in rows:
        if row["message"]:
            console.print(f"[bold]{row['audience']}[/] ({row['account']}): {row['message']}")
        for sample in row.get("invalid_samples", []):
            console.print(f"  invalid row of customer {sample['customer_key'] or '?'}: {sample['reason']}")
        for country, note in (row.get("lookalikes") or {}).items():
            console.print(f"  lookalike {country}: {note}")


def _styled(status: str) -> str:
    color = "green" if status in FINE else ("yellow" if status in ("refused", "busy", "throttled") else "red")
    return f"[{color}]{status}[/]"


def _n(value: Any) -> str:
    return "-" if value is None else f"{value:,}"


def _status_rows(settings: Settings, limit: int, audience: str | None) -> list[Any]:
    """The latest runs of every platform, newest first, each tagged with its platform."""
    from shared.store.db import Store
    from shared.sync.runs import Runs

    store = Store(settings.database_url)
    try:
        runs = [
            run
            for platform in PLATFORMS
            for run in Runs(store, platform).recent(limit, audience_key=audience)
        ]
    finally:
        store.dispose()
    return sorted(runs, key=lambda run: run.started_at, reverse=True)[:limit]


def _status(args: argparse.Namespace, settings: Settings) -> int:
    return _print_status(_status_rows(settings, args.limit, args.audience), as_json=args.json)


def _print_status(runs: list[Any], *, as_json: bool) -> int:
    from rich.console import Console
    from rich.table import Table

    if as_json:
        for run in runs:
            print(json.dumps(vars(run), default=str))
        return 0
    table = Table(title="Recent sync runs")
    columns = "run started platform audience account mode status desired added removed invalid calls seconds"
    for column in columns.split():
        table.add_column(column)
    for run in runs:
        seconds = f"{(run.finished_at - run.started_at).total_seconds():.1f}" if run.finished_at else "-"
        table.add_row(
            str(run.id), run.started_at.strftime("%Y-%m-%d %H:%M:%S"), run.platform,
            run.audience_key, run.account_id,
            run.mode, run.status, _n(run.desired), _n(run.added), _n(run.removed), _n(run.invalid),
            _n(run.api_calls), seconds,
        )  # fmt: skip
    console = Console(width=None if sys.stdout.isatty() else 160)
    console.print(table)
    for run in runs:
        if run.message and run.status not in FINE:
            console.print(f"run {run.id}: {run.message}")
    return 0
