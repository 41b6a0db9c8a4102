"""The demo pipeline ``make run`` shows, on a running stack it is given (``DemoStack``).

1. A heartbeat through every topic and back (every service is consuming).
2. A generated shop fed in as a brand would: its history by bulk import, its last days as
   signed Shopify webhooks to the api (``demo_feed``), stored by the ingestor service.
3. The scorer labels every customer from ``customers.changed``; then the first refresh (what a
   brand runs once its history is in, and the scheduler nightly) recalibrates on the whole shop
   and syncs every audience; labels are compared with the generator's planted truth.
4. The Meta and Google syncers turn ``labels.changed`` into audiences on their sandboxes; each
   audience's size there is read back from the sandbox.
5. An admin API token for the run, checked against the api.
Each stage prints what it measured and waits only on state in the database (or the sandbox),
and returns early once told to stop. The stack does not know this module: ``up`` composes them.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from services.cli.demo_feed import (
    DEMO_CUSTOMERS,
    DEMO_SEED,
    SECRET_FILE,
    DemoShop,
    FeedFigures,
    feed,
    generate_shop,
)
from shared.bus.heartbeat import LAST_HOPS, heartbeat
from shared.config import Settings
from shared.store.db import Store


class DemoStack(Protocol):
    """What the demo needs of a started stack (``services.cli.embedded.EmbeddedStack`` is one)."""

    @property
    def settings(self) -> Settings:
        """The running stack's settings (broker address, database, webhook secret)."""

    @property
    def api_url(self) -> str:
        """Where the api listens."""

    @property
    def meta_url(self) -> str | None:
        """The Meta sandbox, when the stack runs one."""

    @property
    def google_url(self) -> str | None:
        """The Google sandbox's admin endpoint, when the stack runs one."""


def _print_heartbeat(console: Console, replies: list[dict[str, Any]]) -> bool:
    table = Table(title="1. heartbeat through every topic")
    table.add_column("path")
    table.add_column("ms", justify="right")
    for reply in replies:
        sent = datetime.fromisoformat(reply["sent_at"])
        hops = reply["hops"]
        elapsed = (datetime.fromisoformat(hops[-1]["at"]) - sent).total_seconds() * 1000
        table.add_row(" -> ".join(f"{h['topic']}@{h['service']}" for h in hops), f"{elapsed:.0f}")
    console.print(table)
    answered = {r["hops"][-1]["service"] for r in replies}
    missing = sorted(LAST_HOPS - answered)
    if missing:
        console.print(f"[red]no answer from {', '.join(missing)}[/]")
    return not missing


def _print_feed(console: Console, shop: DemoShop, figures: FeedFigures) -> bool:
    table = Table(title=f"2. demo shop fed in ({shop.customers:,} customers, seed {DEMO_SEED})")
    for column in ("path", "records", "sent", "accepted", "duplicate", "refused"):
        table.add_column(column, justify="right")
    for d in figures.deliveries:
        # An import publishes; the ingestor finds its duplicates and refusals later (dead-lettered below).
        after = ("-", "-") if d.path == "bulk import" else (f"{d.duplicates:,}", f"{d.refused:,}")
        table.add_row(d.path, d.what, f"{d.sent:,}", f"{d.accepted:,}", *after)
    console.print(table)
    handled = "handled" if figures.complete else "[red]not yet handled[/]"
    console.print(
        f"  {figures.accepted:,} records {handled} by the ingestor in {figures.seconds:.1f}s"
        f" ({figures.dead_lettered:,} dead-lettered); the database holds {figures.customers:,}"
        f" customers and {figures.orders:,} orders"
    )
    refused = sum(d.refused for d in figures.deliveries)
    if refused:
        console.print(f"[red]{refused:,} webhooks refused (the api's log says why)[/]")
    return figures.complete and not refused and figures.orders > 0


def _wait(
    predicate: Callable[[], bool], timeout: float, stop: threading.Event, interval: float = 0.5
) -> bool:
    """Poll ``predicate`` until it holds, ``timeout`` passes or ``stop`` is set; its last answer."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not stop.is_set():
        if predicate():
            return True
        stop.wait(interval)
    return bool(predicate())


def _labels(store: Store, *, by_shop_id: bool = False) -> dict[str, str]:
    """Each labelled customer's label, by customer key (or by the shop's customer id)."""
    from shared.store.models import Customer, Label

    key = Customer.shop_customer_id if by_shop_id else Label.customer_key
    query = select(key, Label.label).join(Customer, Label.customer_key == Customer.customer_key)
    with store.session() as s:
        return {str(cid): str(label) for cid, label in s.execute(query)}


def _counts(store: Store) -> tuple[int, int]:
    """Customers, and how many of them have a label."""
    from shared.store.models import Customer, Label

    with store.session() as s:
        customers = int(s.scalar(select(func.count()).select_from(Customer)) or 0)
        labelled = int(s.scalar(select(func.count()).select_from(Label)) or 0)
    return customers, labelled


def streamed_labels_stage(
    console: Console, stack: DemoStack, stop: threading.Event, *, timeout: float = 180.0
) -> bool:
    """Wait until the scorer has labelled every customer the feed brought in (incrementally)."""
    store = Store(stack.settings.database_url)
    # Every customer with facts gets a label; wait until that holds, or until the count has
    # been stable for a while (a customer known only from a ticket may have nothing to score).
    history: list[int] = []

    def settled() -> bool:
        customers, labelled = _counts(store)
        history.append(labelled)
        stable = len(history) > 10 and labelled > 0 and len(set(history[-10:])) == 1
        return (labelled >= customers > 0) or stable

    try:
        done = _wait(settled, timeout, stop)
        labelled = _counts(store)[1]
    finally:
        store.dispose()
    if not done and not stop.is_set():
        console.print(f"[red]only {labelled:,} customers labelled in {timeout:.0f}s[/]")
    return done


def first_refresh_stage(
    console: Console, stack: DemoStack, stop: threading.Event, *, timeout: float = 180.0
) -> bool:
    """The first refresh, as a brand runs it once its history is in (``audiencesync refresh``).

    Labels streamed in reuse the scorer's last calibration, taken on the part of the shop that
    had arrived then (``services.scorer.rescoring``); the refresh's full rescore recalibrates on
    the whole shop, and its syncs bring every audience in line. Runs under the same lock as the
    scheduler's, whose worker carries out the syncs it queues.
    """
    from rich.markup import escape

    from services.scheduler import refresh
    from shared.store import sync_requests

    settings = stack.settings
    store = Store(settings.database_url)
    started = time.perf_counter()
    try:
        streamed = _labels(store)
        slot = datetime.now(UTC).replace(microsecond=0)
        try:
            result = refresh.run_refresh(
                settings, store, slot, "up --demo", refresh.Trigger.MANUAL, stopping=stop.is_set
            )
        except Exception as exc:  # recorded on the refresh's row; the demo says so and goes on
            console.print(f"[red]first refresh failed: {escape(str(exc))}[/]", highlight=False)
            return False
        if result is None:
            if not stop.is_set():
                console.print("[red]first refresh: another refresh holds the lock[/]")
            return False
        ids = result.request_ids
        synced = _wait(lambda: sync_requests.finished(store, ids) >= len(ids), timeout, stop)
        refreshed = _labels(store)
        ended = refresh.outcomes(store, result)
        finished = sync_requests.finished(store, ids)
    finally:
        store.dispose()
    moved = Counter(
        (streamed.get(key), refreshed.get(key))
        for key in streamed.keys() | refreshed.keys()
        if streamed.get(key) != refreshed.get(key)
    )
    changes = "".join(
        f"; {n:,} {old or 'unlabelled'} -> {new or 'unlabelled'}" for (old, new), n in moved.most_common(3)
    )
    console.print(
        f"  first refresh in {time.perf_counter() - started:.1f}s, as the scheduler runs it nightly: every"
        f" customer rescored on a model recalibrated on the whole shop\n"
        f"            {moved.total():,} of {len(refreshed):,} labels moved from the streamed ones{changes};"
        f" {len(ids)} syncs queued, {finished} finished",
        highlight=False,
    )
    failed = [outcome.line for outcome in ended if not outcome.ok]
    if failed:
        console.print(f"[red]first refresh: {escape(', '.join(failed))}[/]", highlight=False)
    if not synced and not stop.is_set():
        console.print(f"[red]first refresh: syncs not finished in {timeout:.0f}s[/]")
    return synced and not failed


def labels_stage(console: Console, stack: DemoStack, truth_path: Path) -> bool:
    """Print label sizes and precision/recall against the generator's planted truth."""
    import csv

    store = Store(stack.settings.database_url)
    try:
        got = _labels(store, by_shop_id=True)
    finally:
        store.dispose()
    with truth_path.open(encoding="utf-8") as handle:
        truth = {row["shop_customer_id"]: row["expected_label"] for row in csv.DictReader(handle)}
    table = Table(title="3. labels (scorer, after the first refresh) vs the planted truth")
    for column in ("label", "customers", "precision", "recall"):
        table.add_column(column, justify="right")
    for label in ("icp", "negative_icp", "neutral"):
        predicted = {c for c, lab in got.items() if lab == label}
        actual = {c for c, lab in truth.items() if lab == label and c in got}
        hit = len(predicted & actual)
        precision = f"{hit / len(predicted):.2f}" if predicted else "-"
        recall = f"{hit / len(actual):.2f}" if actual else "-"
        table.add_row(label, f"{len(predicted):,}", precision, recall)
    console.print(table)
    return bool(got)


def _held(stack: DemoStack, platform: str, audience_id: str | None) -> int | None:
    """How many members the platform's sandbox holds in one audience (None when unknown)."""
    import json
    import urllib.request

    if platform == "meta" and stack.meta_url and audience_id:
        url = f"{stack.meta_url}/_sandbox/audiences/{audience_id}/members"
    elif platform == "google" and stack.google_url and audience_id:
        url = f"{stack.google_url}/lists/{audience_id}/members"
    else:
        return None
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback sandbox
            body = json.loads(response.read())
    except OSError:
        return None
    return int(body.get("count", 0))  # both sandboxes' member listings carry their count


CAPTIONS = {
    "meta": "added, removed, api calls: over all sync runs (a value-based seed re-sends members whose"
    " value moved); size: people Meta holds (rows that share any hashed identifier are one person;"
    " by default include lists take only customers with email or SMS consent: META_CONSENT)",
    "google": "added, removed, api calls: over all sync runs; size: members the list holds (every list"
    " takes only customers Google's consent policy allows: both ad signals in the EEA, UK and"
    " Switzerland; elsewhere, by default, email or SMS consent: GOOGLE_CONSENT_ELSEWHERE)",
}


def audiences_stage(
    console: Console,
    stack: DemoStack,
    stop: threading.Event,
    *,
    platform: str = "meta",
    timeout: float = 180.0,
) -> bool:
    """Wait for one platform's syncer runs; print each audience's runs and what the sandbox holds."""
    from shared.definitions.stored import load_effective
    from shared.store.models import DestinationAudience, SyncPending, SyncRun

    store = Store(stack.settings.database_url)
    try:
        declared = {
            a.key
            for a in load_effective(store, stack.settings.config_file).audiences
            if getattr(a, platform) is not None
        }

        def runs() -> list[Any]:
            with store.session() as s:
                return list(
                    s.execute(
                        select(
                            DestinationAudience.audience_key,
                            DestinationAudience.kind,
                            DestinationAudience.platform_audience_id,
                            SyncRun.status,
                            SyncRun.added,
                            SyncRun.removed,
                            SyncRun.api_calls,
                        )
                        .join(SyncRun, SyncRun.destination_audience_id == DestinationAudience.id)
                        .where(DestinationAudience.platform == platform)
                        .order_by(SyncRun.id)
                    )
                )

        done = _wait(lambda: any(r.added for r in runs()), timeout, stop, interval=1.0)

        def settled() -> bool:
            """Every declared audience has a run, every label change the syncer noted is synced
            and no run is in flight."""
            with store.session() as s:
                pending = s.scalar(select(func.count()).where(SyncPending.syncer == platform))
            done = runs()
            synced = {r.audience_key for r in done}
            return not pending and declared <= synced and all(r.status != "running" for r in done)

        # The syncer flushes label changes in micro-batches (and Google waits for each request to
        # be applied): print once they are all synced, not while the last ones are pending.
        _wait(settled, 60.0, stop)
        rows = runs()
    finally:
        store.dispose()
    by_audience: dict[tuple[str, str], list[Any]] = {}
    for row in rows:
        by_audience.setdefault((row.audience_key, row.kind), []).append(row)
    title = {
        "meta": "4. Meta audiences (syncer -> Meta sandbox over the Graph API)",
        "google": "5. Google Customer Match lists (syncer -> Google sandbox over the Data Manager API)",
    }[platform]
    table = Table(title=title, caption=CAPTIONS[platform])
    for column in ("audience", "kind", "list id", "sync runs", "last run", "added", "removed", "api calls"):
        table.add_column(column, justify="right")
    table.add_column("size in sandbox", justify="right")
    sized = 0
    for (key, kind), runs_of in sorted(by_audience.items()):
        last = runs_of[-1]
        held = _held(stack, platform, last.platform_audience_id)
        sized += bool(held)
        table.add_row(
            key,
            kind,
            last.platform_audience_id or "-",
            str(len(runs_of)),
            last.status,
            f"{sum(r.added for r in runs_of):,}",
            f"{sum(r.removed for r in runs_of):,}",
            f"{sum(r.api_calls for r in runs_of):,}",
            "?" if held is None else f"{held:,}",
        )
    console.print(table)
    if (not done or not sized) and not stop.is_set():
        console.print(f"[red]no {platform} audience received members in {timeout:.0f}s[/]")
    return done and sized > 0


def admin_token(stack: DemoStack) -> tuple[str, bool]:
    """An admin API token created for this run, and whether the api accepts it (``GET /audiences``)."""
    import secrets
    import urllib.request

    from services.api.auth import create_token

    name = f"make-run-{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(2)}"
    store = Store(stack.settings.database_url)
    try:
        token = create_token(store, name, ["admin"], actor="up --demo")
    finally:
        store.dispose()
    headers = {"Authorization": f"Bearer {token}"}
    request = urllib.request.Request(f"{stack.api_url}/audiences", headers=headers)  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 - the local api
            return token, response.status == 200
    except OSError:
        return token, False


def run_demo(stack: DemoStack, stop: threading.Event, *, customers: int = DEMO_CUSTOMERS) -> bool:
    """Run every stage on the started ``stack`` and print its summary; True when each did its job.

    Once ``stop`` is set the stage under way returns early, the rest are skipped, and it is False.
    """
    started = time.perf_counter()
    console = Console(width=max(Console().width, 132))
    settings = stack.settings
    assert settings.kafka_bootstrap
    bootstrap = settings.kafka_bootstrap
    shop = generate_shop(settings.var_dir / "demo", customers=customers, as_of=datetime.now(UTC).date())
    stages: list[Callable[[], bool]] = [
        lambda: _print_heartbeat(console, heartbeat(bootstrap, stop=stop)),
        lambda: _print_feed(console, shop, feed(shop, settings, stack.api_url, stop)),
        lambda: streamed_labels_stage(console, stack, stop),
        lambda: first_refresh_stage(console, stack, stop),
        lambda: labels_stage(console, stack, shop.truth),
        lambda: audiences_stage(console, stack, stop),
        lambda: audiences_stage(console, stack, stop, platform="google"),
    ]
    ok = True
    for stage in stages:
        if stop.is_set():
            break
        ok = stage() and ok
    seconds = time.perf_counter() - started
    if stop.is_set():
        console.print(f"[red]pipeline INTERRUPTED[/] after {seconds:.1f}s")
        return False
    token, accepted = admin_token(stack)
    ok = ok and accepted
    verdict = "[green]pipeline OK[/]" if ok else "[red]pipeline INCOMPLETE[/]"
    console.print(f"{verdict}: from an empty stack to synced audiences in {seconds:.1f}s")
    console.print(
        f"  token     {token}\n"
        f"            admin scope, created for this run{'' if accepted else ' [red](the api refused it)[/]'};"
        f' try: curl -H "Authorization: Bearer {token}" {stack.api_url}/audiences',
        soft_wrap=True,
        highlight=False,
    )
    secret_file = settings.var_dir / "demo" / SECRET_FILE
    if (
        secret_file.exists()
        and secret_file.read_text(encoding="utf-8").strip() == settings.shopify_webhook_secret
    ):
        console.print(
            f"  webhooks  signed with the secret in {secret_file} (SHOPIFY_WEBHOOK_SECRET overrides it)"
        )
    return ok
