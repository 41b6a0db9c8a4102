"""``audiencesync refresh``: the nightly refresh by hand, with a progress bar per stage.

Rescores every customer, then syncs every audience to every platform it declares, exactly as the
scheduler does at ``REFRESH_CRON`` (and under the same database lock: it refuses while another
refresh runs). Exit codes: 0 every sync finished well, 1 a sync failed or was skipped, 2 the
refresh could not start.
"""

from __future__ import annotations

import argparse
import sys
import time
from datetime import UTC, datetime

from shared.config import Settings

WAIT_FOR_OTHERS = 600.0  # seconds to wait for requests another worker claimed


def register(sub: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    """Add ``refresh``."""
    refresh = sub.add_parser(
        "refresh", help="rescore everyone, then sync every audience (the nightly refresh)"
    )
    refresh.add_argument("--dry-run", action="store_true", help="syncs plan only: nothing is sent")
    refresh.set_defaults(func=_refresh)


def _refresh(args: argparse.Namespace, settings: Settings) -> int:
    from rich.console import Console
    from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    from services.scheduler import refresh
    from services.scheduler.worker import Worker
    from shared.store import sync_requests
    from shared.store.db import Store
    from shared.store.migrate import upgrade

    upgrade(settings.database_url)
    store = Store(settings.database_url)
    console = Console(stderr=True)
    slot = datetime.now(UTC).replace(microsecond=0)
    try:
        with Progress(
            SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
            TextColumn("{task.completed}/{task.total}"), TimeElapsedColumn(), console=console,
        ) as progress:  # fmt: skip
            rescoring = progress.add_task("rescore: every customer", total=1)
            syncing = progress.add_task("sync: waiting for the rescore", total=None)

            def on_stage(stage: str) -> None:
                if stage == "sync":
                    progress.update(rescoring, completed=1)

            mode = "dry_run" if args.dry_run else "delta"
            result = refresh.run_refresh(
                settings, store, slot, "cli", refresh.Trigger.MANUAL, on_stage=on_stage, mode=mode
            )
            if result is None:
                print("audiencesync: another refresh is running; try again when it ends", file=sys.stderr)
                return 2
            progress.update(syncing, total=len(result.request_ids), description="sync: audiences x platforms")
            worker = Worker(settings, store, name=f"cli-refresh-{slot:%H%M%S}")
            ids = result.request_ids
            while worker.step() is not None:
                progress.update(syncing, completed=sync_requests.finished(store, ids))
            deadline = time.monotonic() + WAIT_FOR_OTHERS
            while sync_requests.finished(store, ids) < len(ids) and time.monotonic() < deadline:
                time.sleep(1.0)  # claimed by the scheduler's worker meanwhile
                progress.update(syncing, completed=sync_requests.finished(store, ids))
            progress.update(syncing, completed=sync_requests.finished(store, ids))
        ended = refresh.outcomes(store, result)
        for outcome in ended:
            print(outcome.line)
        return 0 if all(outcome.ok for outcome in ended) else 1
    finally:
        store.dispose()
