"""The demo pipeline ``make run`` shows, on the running embedded stack.

1. A heartbeat through every topic and back (every service is consuming).
2. Generated shop data (orders, checkouts, tickets) published to ``orders.raw`` exactly as an
   import would, then stored by the ingestor service.
3. The scorer labels every customer from ``customers.changed``; labels are compared with the
   generator's planted truth (precision and recall).
4. The Meta syncer turns ``labels.changed`` into custom audiences on the Meta sandbox.
Each stage prints what it measured and waits only on state in the database.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Table
from sqlalchemy import func, select

from shared.bus.heartbeat import LAST_HOPS, heartbeat
from shared.bus.producer import Publisher
from shared.store.db import Store

if TYPE_CHECKING:
    from services.cli.embedded import EmbeddedStack

DEMO_CUSTOMERS = 400
DEMO_SEED = 7


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


@dataclass(frozen=True)
class IngestFigures:
    """What the ingest stage did."""

    published: int
    stored: int
    dead_lettered: int
    customers: int
    orders: int
    seconds: float


def ingest_demo_shop(stack: EmbeddedStack, *, timeout: float = 300.0) -> IngestFigures:
    """Generate a demo shop under ``var/demo`` and push it through ``orders.raw`` and the ingestor."""
    from services.ingestor.adapters.rates_store import save_rates
    from services.ingestor.demo_data import write_demo
    from services.ingestor.domain import load_rates
    from services.ingestor.importer import publish_records, read_records
    from shared.store.models import Customer, DeadLetterRecord, Order, ProcessedMessage

    settings = stack.settings
    assert settings.kafka_bootstrap
    out = settings.var_dir / "demo" / "shop.jsonl"
    out.parent.mkdir(parents=True, exist_ok=True)
    write_demo(
        out,
        customers=DEMO_CUSTOMERS,
        seed=DEMO_SEED,
        as_of=datetime.now(UTC).date(),
        fmt="shopify",
        workers=1,
    )
    store = Store(settings.database_url)
    started = time.perf_counter()
    try:
        save_rates(store, load_rates(out.with_name(out.name + ".rates.yaml")))

        def handled() -> int:
            with store.session() as s:
                return int(
                    s.scalar(
                        select(func.count())
                        .select_from(ProcessedMessage)
                        .where(ProcessedMessage.consumer == "ingestor")
                    )
                    or 0
                )

        before = handled()
        published = 0
        with Publisher(settings.kafka_bootstrap, client_id="demo") as publisher:
            for kind, path in (
                ("orders", out),
                ("checkouts", out.with_name(out.name + ".checkouts.jsonl")),
                ("tickets", out.with_name(out.name + ".tickets.jsonl")),
            ):
                published += sum(
                    1
                    for _ in publish_records(
                        publisher, read_records(path, kind, settings.shop), settings.shop
                    )
                )
            publisher.flush()
        deadline = time.monotonic() + timeout
        while handled() < before + published and time.monotonic() < deadline:
            time.sleep(0.5)
        with store.session() as s:
            dead = int(
                s.scalar(
                    select(func.count())
                    .select_from(DeadLetterRecord)
                    .where(DeadLetterRecord.consumer == "ingestor")
                )
                or 0
            )
            customers = int(s.scalar(select(func.count()).select_from(Customer)) or 0)
            orders = int(s.scalar(select(func.count()).select_from(Order)) or 0)
        return IngestFigures(
            published, handled() - before - dead, dead, customers, orders, time.perf_counter() - started
        )
    finally:
        store.dispose()


def _wait(predicate: Any, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return bool(predicate())


def labels_stage(console: Console, stack: EmbeddedStack, *, timeout: float = 180.0) -> bool:
    """Wait until every customer is labelled; print label sizes and precision/recall vs the truth."""
    import csv

    from shared.store.models import Customer, Label

    store = Store(stack.settings.database_url)
    try:

        def counts() -> tuple[int, int]:
            with store.session() as s:
                customers = int(s.scalar(select(func.count()).select_from(Customer)) or 0)
                labelled = int(s.scalar(select(func.count()).select_from(Label)) or 0)
            return customers, labelled

        # Every customer with facts gets a label; wait until that holds, or until the count has
        # been stable for a while (a customer known only from a ticket may have nothing to score).
        history: list[int] = []

        def settled() -> bool:
            customers, labelled = counts()
            history.append(labelled)
            stable = len(history) > 10 and labelled > 0 and len(set(history[-10:])) == 1
            return (labelled >= customers > 0) or stable

        done = _wait(settled, timeout)
        with store.session() as s:
            got = {
                cid: label
                for cid, label in s.execute(
                    select(Customer.shop_customer_id, Label.label).join(
                        Label, Label.customer_key == Customer.customer_key
                    )
                )
            }
    finally:
        store.dispose()
    truth_path = stack.settings.var_dir / "demo" / "shop.jsonl.truth.csv"
    with truth_path.open(encoding="utf-8") as handle:
        truth = {row["shop_customer_id"]: row["expected_label"] for row in csv.DictReader(handle)}
    table = Table(title="3. labels (scorer) vs the planted truth")
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
    if not done:
        console.print(f"[red]only {len(got)} customers labelled in {timeout:.0f}s[/]")
    return done


def _held(stack: EmbeddedStack, platform: str, audience_id: str | None) -> str:
    """How many members the platform's sandbox holds in one audience ("-" when unknown)."""
    import json
    import urllib.request

    if platform == "meta" and stack.meta_url and audience_id:
        url = f"{stack.meta_url}/_sandbox/audiences/{audience_id}/members"
    elif platform == "google" and stack.google_url and audience_id:
        url = f"{stack.google_url}/lists/{audience_id}/members"
    else:
        return "-"
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - loopback sandbox
            body = json.loads(response.read())
    except OSError:
        return "?"
    if platform == "google":
        return f"{body.get('count', 0):,}"
    return f"{len(body.get('members', body)):,}"


def audiences_stage(
    console: Console, stack: EmbeddedStack, *, platform: str = "meta", timeout: float = 180.0
) -> bool:
    """Wait for one platform's syncer runs; print each audience's run and what the sandbox holds."""

    from shared.store.models import DestinationAudience, SyncPending, SyncRun

    store = Store(stack.settings.database_url)
    try:

        def runs() -> list[Any]:
            with store.session() as s:
                return list(
                    s.execute(
                        select(
                            DestinationAudience.audience_key,
                            DestinationAudience.kind,
                            DestinationAudience.platform_audience_id,
                            SyncRun.status,
                            SyncRun.desired,
                            SyncRun.added,
                            SyncRun.removed,
                            SyncRun.api_calls,
                        )
                        .join(SyncRun, SyncRun.destination_audience_id == DestinationAudience.id)
                        .where(DestinationAudience.platform == platform)
                        .order_by(SyncRun.id)
                    )
                )

        done = _wait(lambda: any(r.added for r in runs()), timeout, interval=1.0)

        def settled() -> bool:
            """Every label change the syncer noted is synced and no run is in flight."""
            with store.session() as s:
                pending = s.scalar(select(func.count()).where(SyncPending.syncer == platform))
            return not pending and all(r.status != "running" for r in runs())

        # The syncer flushes label changes in micro-batches (and Google waits for each request to
        # be applied): print once they are all synced, not while the last ones are pending.
        _wait(settled, 60.0, interval=0.5)
        rows = runs()
    finally:
        store.dispose()
    latest = {}
    for row in rows:
        latest[(row.audience_key, row.kind)] = row
    title = {
        "meta": "4. Meta audiences (syncer -> Meta sandbox over the Graph API)",
        "google": "5. Google Customer Match lists (syncer -> Google sandbox over the Data Manager API)",
    }[platform]
    table = Table(title=title)
    for column in (
        "audience",
        "kind",
        "list id",
        "status",
        "desired",
        "added",
        "removed",
        "api calls",
        "in sandbox",
    ):
        table.add_column(column, justify="right")
    for (key, kind), row in sorted(latest.items()):
        table.add_row(
            key,
            kind,
            row.platform_audience_id or "-",
            row.status,
            f"{row.desired:,}",
            f"{row.added:,}",
            f"{row.removed:,}",
            str(row.api_calls),
            _held(stack, platform, row.platform_audience_id),
        )
    console.print(table)
    if not done:
        console.print(f"[red]no {platform} audience received members in {timeout:.0f}s[/]")
    return done


def run_demo(stack: EmbeddedStack) -> bool:
    """Run every stage and print its summary; True when each stage did what it should."""
    console = Console(width=max(Console().width, 120))
    assert stack.settings.kafka_bootstrap
    ok = _print_heartbeat(console, heartbeat(stack.settings.kafka_bootstrap))
    figures = ingest_demo_shop(stack)
    table = Table(title=f"2. demo shop ingested ({DEMO_CUSTOMERS} customers, seed {DEMO_SEED})")
    for column in ("published", "stored", "dead-lettered", "customers", "orders", "seconds"):
        table.add_column(column, justify="right")
    table.add_row(
        f"{figures.published:,}",
        f"{figures.stored:,}",
        f"{figures.dead_lettered:,}",
        f"{figures.customers:,}",
        f"{figures.orders:,}",
        f"{figures.seconds:.1f}",
    )
    console.print(table)
    ok = ok and figures.stored + figures.dead_lettered == figures.published and figures.orders > 0
    ok = labels_stage(console, stack) and ok
    ok = audiences_stage(console, stack) and ok
    ok = audiences_stage(console, stack, platform="google") and ok
    console.print(f"[{'green' if ok else 'red'}]pipeline {'OK' if ok else 'INCOMPLETE'}[/]")
    return ok
