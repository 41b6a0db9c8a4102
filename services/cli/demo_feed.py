"""The demo shop and how it reaches the running stack: its history by bulk import, its last days by webhook.

A brand adopting audiencesync backfills its history with ``audiencesync import`` and from then
on receives Shopify webhooks; the demo does both, through the same code paths. ``run_import``
publishes the older orders and the support tickets to ``orders.raw``; the recent orders and the
abandoned checkouts are POSTed, signed, to the API's webhook route, which commits each one
before answering and relays it. The feed is done once the api's relay has published every
accepted webhook and the ingestor's committed offsets on ``orders.raw`` reach where the topic
ended then: every record handled, stored or dead-lettered, however many a message carries.
"""

from __future__ import annotations

import json
import os
import secrets
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from sqlalchemy import func, select

from shared.config import Settings
from shared.store.db import Store

DEMO_CUSTOMERS = 3_000  # ~10,500 orders: fed, labelled, refreshed and synced in about a minute on two cores
DEMO_SEED = 7
RECENT_DAYS = 30  # orders this recent arrive by webhook (~6% of them), older ones by bulk import
WEBHOOK_SENDERS = 4  # concurrent webhook deliveries (the api's waitress has more threads)
SECRET_FILE = "shopify-webhook-secret"  # noqa: S105 - a file name; under var/demo when SHOPIFY_WEBHOOK_SECRET is not set


def with_webhook_secret(settings: Settings) -> Settings:
    """``settings`` with a Shopify webhook secret the demo can sign with.

    The configured one, else a random one kept (owner-only) in ``var/demo`` so a webhook sender
    pointed at the demo keeps working across runs. Called before the stack starts: the api reads it.
    """
    if settings.shopify_webhook_secret:
        return settings
    path = settings.var_dir / "demo" / SECRET_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32))
    return settings.with_overrides(shopify_webhook_secret=path.read_text(encoding="utf-8").strip())


@dataclass(frozen=True)
class DemoShop:
    """The generated files, split by the path each takes into the stack."""

    history: Path  # orders older than RECENT_DAYS: bulk import
    recent: Path  # orders of the last RECENT_DAYS: webhooks
    checkouts: Path  # abandoned checkouts: webhooks
    tickets: Path  # support tickets: bulk import
    truth: Path  # each customer's planted segment and expected label
    rates: Path  # the exchange rates the prices were made with
    customers: int


def generate_shop(directory: Path, *, customers: int = DEMO_CUSTOMERS, as_of: date) -> DemoShop:
    """Write a demo shop under ``directory`` (deterministic for a seed and day) and split its orders."""
    from services.ingestor.demo_data import sibling, write_demo

    directory.mkdir(parents=True, exist_ok=True)
    out = directory / "shop.jsonl"
    summary = write_demo(out, customers=customers, seed=DEMO_SEED, as_of=as_of, fmt="shopify", workers=1)
    history, recent = directory / "orders-history.jsonl", directory / "orders-recent.jsonl"
    since = as_of - timedelta(days=RECENT_DAYS)
    with (
        out.open(encoding="utf-8") as orders,
        history.open("w", encoding="utf-8") as old,
        recent.open("w", encoding="utf-8") as new,
    ):
        for line in orders:
            created = datetime.fromisoformat(json.loads(line)["created_at"]).date()
            (new if created >= since else old).write(line)
    out.unlink()  # its two halves are what the stack is fed
    return DemoShop(
        history=history,
        recent=recent,
        checkouts=sibling(out, "checkouts.jsonl"),
        tickets=sibling(out, "tickets.jsonl"),
        truth=sibling(out, "truth.csv"),
        rates=sibling(out, "rates.yaml"),
        customers=summary.customers,
    )


@dataclass(frozen=True)
class Delivery:
    """What one path did with one file: records sent, and how the stack answered."""

    path: str  # "bulk import" or "webhook"
    what: str
    sent: int
    accepted: int  # published (import) or answered "accepted" (webhook)
    duplicates: int = 0  # webhooks answered "duplicate": delivered by an earlier run
    refused: int = 0  # webhooks answered with an error status


@dataclass(frozen=True)
class FeedFigures:
    """What the feed did, read back from the database once the ingestor handled it all."""

    deliveries: tuple[Delivery, ...]
    dead_lettered: int  # by the ingestor during the feed
    customers: int
    orders: int
    seconds: float
    complete: bool  # everything handled before the timeout (or a stop)

    @property
    def accepted(self) -> int:
        """Records that reached ``orders.raw`` (published by the import, or relayed by the api)."""
        return sum(d.accepted for d in self.deliveries)


def feed(
    shop: DemoShop, settings: Settings, api_url: str, stop: threading.Event, *, timeout: float = 300.0
) -> FeedFigures:
    """Bulk-import the history and tickets, POST the recent orders and checkouts as webhooks, wait."""
    from services.ingestor.adapters.rates_store import save_rates
    from services.ingestor.bulk import run_import
    from services.ingestor.domain import load_rates

    assert settings.kafka_bootstrap and settings.shopify_webhook_secret
    started = time.perf_counter()
    deadline = time.monotonic() + timeout
    store = Store(settings.database_url)
    try:
        save_rates(store, load_rates(shop.rates))
        dead_before = _dead_lettered(store)
        deliveries = [
            Delivery("bulk import", what, result.records, result.published)
            for what, kind, path in (
                (f"orders older than {RECENT_DAYS} days", "orders", shop.history),
                ("support tickets", "tickets", shop.tickets),
            )
            for result in [run_import(settings, path, kind)]
        ]
        secret = settings.shopify_webhook_secret
        for what, topic, path in (
            (f"orders of the last {RECENT_DAYS} days", "orders/create", shop.recent),
            ("abandoned checkouts", "checkouts/create", shop.checkouts),
        ):
            answers = post_webhooks(f"{api_url}/webhooks/shopify/{topic}", topic, path, secret, stop)
            other = answers.total() - answers["accepted"] - answers["duplicate"]
            deliveries.append(
                Delivery("webhook", what, answers.total(), answers["accepted"], answers["duplicate"], other)
            )
        complete = _until_relayed(store, stop, deadline) and _until_handled(
            settings.kafka_bootstrap, stop, deadline
        )
        dead = _dead_lettered(store) - dead_before
        seconds = time.perf_counter() - started
        return FeedFigures(tuple(deliveries), dead, *_totals(store), seconds, complete)
    finally:
        store.dispose()


def post_webhooks(url: str, topic: str, path: Path, secret: str, stop: threading.Event) -> Counter[str]:
    """POST each JSON line of ``path`` to ``url`` as Shopify would; the answers' statuses counted.

    The webhook id is the resource's own, so a run repeated on the same data is answered
    "duplicate" instead of being ingested twice. No shop header: the api files them under
    ``SHOP``, as the import does.
    """
    from services.api.webhooks import shopify_signature

    def deliver(body: bytes) -> str:
        if stop.is_set():
            return "skipped"
        record = json.loads(body)
        resource = record.get("id") or record.get("token")
        request = urllib.request.Request(  # noqa: S310 - the local api
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "X-Shopify-Topic": topic,
                "X-Shopify-Hmac-Sha256": shopify_signature(secret, body),
                "X-Shopify-Webhook-Id": f"demo-{topic.replace('/', '-')}-{resource}",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=30) as response:  # noqa: S310 - the local api
                return str(json.loads(response.read()).get("status", "accepted"))
        except urllib.error.HTTPError as exc:
            return f"http {exc.code}"
        except OSError:
            return "no answer"

    with ThreadPoolExecutor(WEBHOOK_SENDERS, thread_name_prefix="webhook") as pool:
        return Counter(pool.map(deliver, _lines(path)))


def _lines(path: Path) -> Iterator[bytes]:
    with path.open("rb") as handle:
        yield from (line.rstrip(b"\n") for line in handle if line.strip())


def _until_relayed(store: Store, stop: threading.Event, deadline: float) -> bool:
    """Wait until the api's relay has published every accepted webhook to ``orders.raw``."""
    from shared.bus.topics import ORDERS_RAW
    from shared.store.models import OutboxMessage

    query = select(func.count()).where(
        OutboxMessage.topic == ORDERS_RAW, OutboxMessage.published_at.is_(None)
    )
    while time.monotonic() < deadline and not stop.is_set():
        with store.session() as s:
            if not s.scalar(query):
                return True
        stop.wait(0.5)
    return False


def _until_handled(bootstrap: str, stop: threading.Event, deadline: float) -> bool:
    """Wait until the ingestor's group has committed ``orders.raw`` up to where it ends now.

    Offsets, not row counts: one message of a bulk import may carry many records, and a repeated
    run stores nothing new for what it delivers again.
    """
    from kafka import KafkaConsumer, TopicPartition

    from shared.bus.topics import CONSUMER_GROUPS, ORDERS_RAW

    (group,) = CONSUMER_GROUPS[ORDERS_RAW]
    consumer = KafkaConsumer(bootstrap_servers=bootstrap, group_id=group, enable_auto_commit=False)
    try:  # not subscribed: it only reads the group's committed offsets, it never joins the group
        partitions = [TopicPartition(ORDERS_RAW, p) for p in consumer.partitions_for_topic(ORDERS_RAW) or ()]
        ends = consumer.end_offsets(partitions)
        while time.monotonic() < deadline and not stop.is_set():
            if all((consumer.committed(tp) or 0) >= end for tp, end in ends.items()):
                return True
            stop.wait(0.5)
        return False
    finally:
        consumer.close()


def _dead_lettered(store: Store) -> int:
    from shared.store.models import DeadLetterRecord

    with store.session() as s:
        return int(s.scalar(select(func.count()).where(DeadLetterRecord.consumer == "ingestor")) or 0)


def _totals(store: Store) -> tuple[int, int]:
    """Customers and orders in the database."""
    from shared.store.models import Customer, Order

    with store.session() as s:
        customers = int(s.scalar(select(func.count()).select_from(Customer)) or 0)
        orders = int(s.scalar(select(func.count()).select_from(Order)) or 0)
    return customers, orders
