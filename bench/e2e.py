"""End to end at scale: a generated shop through the whole embedded stack, then streaming latency.

The stack is ``EmbeddedStack`` (``audiencesync up``): the embedded broker, the database (a SQLite
file, or a throwaway schema in the PostgreSQL server ``DATABASE_URL`` names), the ingestor,
scorer, both syncers, scheduler and api as separate processes, and both sandboxes. Stages:

1. **generate**: the demo generator's shop (100,000 customers, about 3.4 orders each), topped
   up to 500,000 orders with repeat orders (copies of a customer's own orders at a later date).
2. **import**: the bulk import's publishing (orders, checkouts, tickets in ``RawBatch`` messages)
   to the stack's broker; the stage ends when the ingestor service has stored (or refused)
   every record.
3. **score/label**: until the scorer has handled every ``customers.changed`` (it labels while
   the import runs, incrementally with the stored calibration; this is what is left after it).
4. **sync**: until both syncers have handled every ``labels.changed``, nothing is pending and no
   run is in flight: the first full audiences on the Meta and Google sandboxes (the syncers
   also sync while the import runs, every flush interval, as in a deployment).
5. **streaming**: signed Shopify ``orders/create`` webhooks at a steady rate (repeat orders
   dated now, 1% of the shop's orders), with probes among them: a large order (their own items,
   repeated to about 2,500 USD) from a subscribed US "regular" customer labelled neutral, which
   should make them ICP (probes the scorer leaves neutral are counted apart). A probe's
   latency runs from its POST to its email hash being a member of ``icp_seed`` in the sandbox
   (polled every second through the sandboxes' loopback admin endpoints), per platform.

Target (issue 15): probe p95 under 60 s plus the syncer's configured flush interval (printed:
the embedded stack sets ``META_FLUSH_SECONDS`` and ``GOOGLE_FLUSH_SECONDS`` to 3; a deployment's
default is 30, which adds up to 27 s to every figure of step 5). Prints
figures only; asserts nothing. ``BENCH_SCALE=0.05`` runs 5,000 customers; ``BENCH_PROBES``
(default 40), ``BENCH_WEBHOOK_RATE`` (webhooks a second, default 25). Run:
``make bench BENCH=e2e`` or ``python -m bench e2e``.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import hmac
import http.client
import json
import math
import os
import random
import tempfile
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import func, select

from shared.identity import Normalized, Rejected

SCALE = float(os.environ.get("BENCH_SCALE", "1"))
CUSTOMERS = int(100_000 * SCALE)
ORDERS = int(500_000 * SCALE)
PROBES = int(os.environ.get("BENCH_PROBES", "40"))
WEBHOOK_RATE = float(os.environ.get("BENCH_WEBHOOK_RATE", "25"))
STREAM_SHARE = 0.01  # of ORDERS, posted as webhooks in streaming mode
PROBE_GROSS = Decimal(2500)  # a probe orders enough of what its customer once ordered to pass this (USD)
PROBE_WAIT = 300.0  # seconds after the last probe before the ones not seen are given up
POLL = 1.0  # seconds between two reads of the sandboxes (the latency's resolution)
SHOP = "bench-e2e.myshopify.com"
SECRET = "bench-e2e-secret"  # noqa: S105 - the bench's own webhook secret
AUDIENCE = "icp_seed"
SEED = 15
CUSTOMER_ID = '"customer":{"id":'  # how the generator's compact JSON names an order's customer
MONEY_FIELDS = (
    "total_line_items_price", "subtotal_price", "total_discounts", "total_price",
    "current_total_discounts", "current_subtotal_price", "current_total_price",
)  # fmt: skip


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``values``: a value that was measured."""
    if not values:
        return float("nan")
    ranked = sorted(values)
    return ranked[max(0, min(len(ranked), math.ceil(q * len(ranked))) - 1)]


def sign(body: bytes, secret: str = SECRET) -> str:
    """Shopify's ``X-Shopify-Hmac-Sha256``: base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def reorder(order: dict[str, Any], order_id: int, created: datetime, factor: int = 1) -> dict[str, Any]:
    """A copy of a Shopify order as a new order: new id, placed at ``created``, no refunds, and
    ``factor`` times every line's quantity and every total (amounts in two decimals: the
    bench scales only orders in currencies with cents)."""
    copy = {**order, "id": order_id, "name": f"#B{order_id}", "order_number": order_id, "refunds": []}
    copy["admin_graphql_api_id"] = f"gid://shopify/Order/{order_id}"
    stamp = created.isoformat(timespec="seconds")
    copy["created_at"] = copy["processed_at"] = stamp
    copy["updated_at"] = (created + timedelta(minutes=6)).isoformat(timespec="seconds")
    if factor != 1:
        for name in MONEY_FIELDS:
            if order.get(name) is not None:
                copy[name] = f"{Decimal(order[name]) * factor:.2f}"
                amounts = order.get(f"{name}_set")
                if amounts:
                    copy[f"{name}_set"] = {k: {**v, "amount": copy[name]} for k, v in amounts.items()}
        copy["line_items"] = [
            {**line, "quantity": line["quantity"] * factor, "current_quantity": line["quantity"] * factor}
            for line in order["line_items"]
        ]
    return copy


# --- generate -------------------------------------------------------------------------------


@dataclass
class Shop:
    """The generated files and what the streaming stage needs of them."""

    orders: Path
    repeats: Path
    others: dict[str, Path]  # checkouts, tickets
    records: int  # every record the import publishes
    customers: int
    order_count: int
    truth: list[dict[str, str]]
    stream: list[str] = field(default_factory=list)  # order lines to copy in streaming mode


def _line_count(path: Path) -> int:
    with path.open("rb") as handle:
        return sum(1 for _ in handle)


def generate(folder: Path) -> Shop:
    """The demo shop plus repeat orders up to ``ORDERS``; a sample of orders kept for streaming."""
    from services.ingestor.demo_data import PROSPECT_SHARE, sibling, write_demo

    today = datetime.now(UTC)
    out = folder / "orders.jsonl"
    made = write_demo(out, customers=round(CUSTOMERS / (1 + PROSPECT_SHARE)), seed=SEED, as_of=today.date())
    rng = random.Random(SEED)
    extra = max(0, ORDERS - made.orders)
    picks: dict[int, int] = {}
    for index in rng.choices(range(made.orders), k=extra):
        picks[index] = picks.get(index, 0) + 1
    streamed = set(rng.sample(range(made.orders), min(made.orders, int(ORDERS * STREAM_SHARE))))
    repeats, stream, next_id = folder / "repeats.jsonl", [], 7_000_000_000_000
    with out.open(encoding="utf-8") as source, repeats.open("w", encoding="utf-8") as sink:
        for index, line in enumerate(source):
            if index not in picks and index not in streamed:
                continue
            if index in streamed:
                stream.append(line)
            order = json.loads(line)
            placed = datetime.fromisoformat(order["created_at"])
            for _ in range(picks.get(index, 0)):
                when = placed + (today - placed) * rng.random()
                sink.write(json.dumps(reorder(order, next_id, when), separators=(",", ":")) + "\n")
                next_id += 1
    others = {kind: sibling(out, f"{kind}.jsonl") for kind in ("checkouts", "tickets")}
    with sibling(out, "truth.csv").open(encoding="utf-8") as handle:
        truth = list(csv.DictReader(handle))
    records = made.orders + extra + made.checkouts + made.tickets  # test orders are among the orders
    return Shop(out, repeats, others, records, made.customers, made.orders + extra, truth, stream)


# --- the stack and what it holds -----------------------------------------------------------


@contextmanager
def database(var: Path) -> Iterator[str]:
    """A SQLite file under ``var``, or a throwaway schema in ``DATABASE_URL``'s PostgreSQL."""
    server = os.environ.get("DATABASE_URL", "")
    if not server.startswith("postgresql"):
        yield f"sqlite:///{var / 'audiencesync.db'}"
        return
    import psycopg

    schema = f"bench_e2e_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    try:
        yield f"{server}{'&' if '?' in server else '?'}options=-csearch_path%3D{schema}"
    finally:
        with psycopg.connect(server, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


class Probe:
    """What the bench reads from the stack: consumer lag, labels, sync state, sandbox members."""

    def __init__(self, url: str) -> None:
        from shared.store.db import Store

        self.store = Store(url)

    def stored(self) -> int:
        """Records the ingestor has dealt with: orders, checkouts and tickets stored, or dead letters."""
        from shared.store.models import Checkout, DeadLetterRecord, Order, SupportTicket

        with self.store.session() as s:
            return sum(
                int(s.scalar(select(func.count()).select_from(table)) or 0)
                for table in (Order, Checkout, SupportTicket, DeadLetterRecord)
            )

    def lag(self, topic: str) -> int:
        """Outbox messages of ``topic`` some consumer group of it has not handled yet."""
        from shared.bus.topics import CONSUMER_GROUPS
        from shared.store.models import OutboxMessage, ProcessedMessage

        behind = 0
        with self.store.session() as s:
            for consumer in CONSUMER_GROUPS[topic]:
                done = select(ProcessedMessage.message_id).where(
                    ProcessedMessage.consumer == consumer,
                    ProcessedMessage.message_id == OutboxMessage.message_id,
                )
                query = select(func.count()).where(OutboxMessage.topic == topic, ~done.exists())
                behind += int(s.scalar(query) or 0)
        return behind

    def labelled(self) -> tuple[int, int]:
        """(customers, labels)."""
        from shared.store.models import Customer, Label

        with self.store.session() as s:
            customers = int(s.scalar(select(func.count()).select_from(Customer)) or 0)
            return customers, int(s.scalar(select(func.count()).select_from(Label)) or 0)

    def syncing(self) -> int:
        """Customers waiting for a sync, plus runs in flight."""
        from shared.store.models import SyncPending, SyncRun

        with self.store.session() as s:
            pending = int(s.scalar(select(func.count()).select_from(SyncPending)) or 0)
            running = s.scalar(select(func.count()).select_from(SyncRun).where(SyncRun.status == "running"))
            return pending + int(running or 0)

    def label_counts(self) -> dict[str, int]:
        from shared.store.models import Label

        with self.store.session() as s:
            return dict(s.execute(select(Label.label, func.count()).group_by(Label.label)).all())

    def audiences(self) -> list[tuple[str, str, str, int]]:
        """(platform, audience, platform id, members in the ledger) of every include/exclusion list."""
        from shared.store.models import AudienceMembership, DestinationAudience

        with self.store.session() as s:
            rows = s.execute(
                select(
                    DestinationAudience.platform,
                    DestinationAudience.audience_key,
                    DestinationAudience.platform_audience_id,
                    func.count(AudienceMembership.customer_key),
                )
                .outerjoin(
                    AudienceMembership, AudienceMembership.destination_audience_id == DestinationAudience.id
                )
                .where(DestinationAudience.kind != "lookalike")
                .group_by(DestinationAudience.id)
                .order_by(DestinationAudience.platform, DestinationAudience.audience_key)
            ).all()
        return [(p, a, i or "", int(n)) for p, a, i, n in rows]

    def candidates(self, truth: Sequence[dict[str, str]], n: int) -> list[tuple[str, str, str]]:
        """(shop customer id, email, customer key) of ``n`` subscribed US regulars labelled neutral."""
        from shared.store.models import Customer, Label

        regulars = {
            t["shop_customer_id"]: t["email"]
            for t in truth
            if t["segment"] == "regular" and t["country"] == "US"
        }
        with self.store.session() as s:
            rows = s.execute(
                select(Customer.shop_customer_id, Customer.customer_key)
                .join(Label, Label.customer_key == Customer.customer_key)
                .where(Label.label == "neutral", Customer.accepts_email_marketing.is_(True))
            ).all()
        found = sorted((cid, regulars[cid], key) for cid, key in rows if cid in regulars)
        return random.Random(SEED).sample(found, min(n, len(found)))

    def order_stored(self, order_id: int) -> bool:
        from shared.store.models import Order

        with self.store.session() as s:
            return (
                s.scalar(select(func.count()).where(Order.shop == SHOP, Order.order_id == str(order_id))) == 1
            )

    def labels_of(self, keys: Sequence[str]) -> dict[str, str]:
        from shared.store.models import Label

        with self.store.session() as s:
            return dict(
                s.execute(select(Label.customer_key, Label.label).where(Label.customer_key.in_(keys))).all()
            )


def wait_until(done: Callable[[], bool], timeout: float, interval: float = 1.0) -> bool:
    deadline = time.monotonic() + timeout
    while not done():
        if time.monotonic() > deadline:
            return False
        time.sleep(interval)
    return True


def load() -> str:
    return "load {:.1f} {:.1f} {:.1f}".format(*os.getloadavg())


# --- streaming -----------------------------------------------------------------------------


@dataclass
class Tracked:
    """One probe: who, when it was posted, when each thing was first seen."""

    email: str
    key: str
    order_id: int
    hashes: dict[str, str]  # platform -> the email's hash as that platform holds it
    body: bytes
    posted: float | None = None
    seen: dict[str, float] = field(default_factory=dict)  # "label", "meta", "google" -> monotonic
    scored_otherwise: bool = False  # scored after its order without becoming icp: never to be seen

    @property
    def done(self) -> bool:
        return len(self.seen) == 3 or self.scored_otherwise


def _members(url: str) -> tuple[int, set[str]]:
    """Members of a sandbox audience and their hashes (Meta: identifiers; Google: ``kind:hash``)."""
    with urllib.request.urlopen(url, timeout=30) as response:  # noqa: S310 - loopback sandbox
        body = json.loads(response.read())
    found: set[str] = set()
    for member in body.get("members", []):
        if "identifier" in member:
            found.add(str(member["identifier"]).rsplit(":", 1)[-1])
        for identifier in member.get("identifiers") or ():
            found.add(str(identifier).rsplit(":", 1)[-1])
    return len(body.get("members", [])), found


def _factor(order: dict[str, Any]) -> int:
    """How many times an order must be repeated in one order to reach ``PROBE_GROSS``."""
    return max(2, math.ceil(PROBE_GROSS / max(Decimal(order["total_line_items_price"]), Decimal(1))))


def _hashed(result: Normalized | Rejected) -> str:
    """The SHA-256 hex a platform holds for a normalized identifier ("" when it was refused)."""
    return result.sha256 or "" if isinstance(result, Normalized) else ""


class Poster:
    """Signed ``orders/create`` webhooks to the api, one keep-alive connection per thread."""

    def __init__(self, api_url: str) -> None:
        self.host, self.port = api_url.removeprefix("http://").split(":")
        self.local = threading.local()
        self.latencies: list[float] = []
        self.failed = 0

    def post(self, body: bytes) -> float:
        """POST one webhook; the monotonic time it was sent."""
        headers = {
            "X-Shopify-Hmac-Sha256": sign(body),
            "X-Shopify-Topic": "orders/create",
            "X-Shopify-Webhook-Id": uuid.uuid4().hex,
            "X-Shopify-Shop-Domain": SHOP,
            "Content-Type": "application/json",
        }
        sent = time.monotonic()
        for _ in range(3):
            conn = getattr(self.local, "conn", None) or http.client.HTTPConnection(
                self.host, int(self.port), timeout=60
            )
            self.local.conn = conn
            try:
                conn.request("POST", "/webhooks/shopify/orders/create", body, headers)
                response = conn.getresponse()
                response.read()
                if response.status == 200:
                    self.latencies.append(time.monotonic() - sent)
                    return sent
            except (OSError, http.client.HTTPException):
                conn.close()
                self.local.conn = None
        self.failed += 1
        return sent


def stream(probe: Probe, stack: Any, shop: Shop) -> None:
    """Post the stream with the probes among it; watch labels and both sandboxes; print latencies."""
    from shared.bus import topics
    from shared.identity import Platform, normalize

    ids = {(p, a): i for p, a, i, _ in probe.audiences()}
    urls = {
        "meta": f"{stack.meta_url}/_sandbox/audiences/{ids.get(('meta', AUDIENCE))}/members",
        "google": f"{stack.google_url}/lists/{ids.get(('google', AUDIENCE))}/members",
    }
    wire = {"meta": (Platform.META, "EMAIL"), "google": (Platform.GOOGLE_DM, "email")}
    by_customer: dict[int, dict[str, Any]] = {}
    chosen = probe.candidates(shop.truth, PROBES)
    wanted = {int(cid) for cid, _, _ in chosen}
    with shop.orders.open(encoding="utf-8") as source:  # one order of each probe customer to copy
        for line in source:
            at = line.find(CUSTOMER_ID) + len(CUSTOMER_ID)
            owner = int(line[at : line.index(",", at)])
            if owner in wanted and owner not in by_customer:
                by_customer[owner] = json.loads(line)
            if len(by_customer) == len(wanted):
                break
    now = datetime.now(UTC)
    probes = [
        Tracked(
            email,
            key,
            9_000_000_000_000 + j,
            {name: _hashed(normalize(p, f, email)) for name, (p, f) in wire.items()},
            json.dumps(
                reorder(by_customer[int(cid)], 9_000_000_000_000 + j, now, _factor(by_customer[int(cid)]))
            ).encode(),
        )
        for j, (cid, email, key) in enumerate(chosen)
        if int(cid) in by_customer
    ]
    before = {name: _members(url)[1] for name, url in urls.items()}
    probes = [t for t in probes if not any(t.hashes[n] in before[n] for n in urls)]
    bodies = [
        json.dumps(reorder(json.loads(line), 8_000_000_000_000 + i, now)).encode()
        for i, line in enumerate(shop.stream)
    ]
    duration = len(bodies) / WEBHOOK_RATE
    print(
        f"  streaming: {len(bodies):,} order webhooks at {WEBHOOK_RATE:g}/s ({duration:.0f} s) with "
        f"{len(probes)} probes among them; {load()}",
        flush=True,
    )
    poster = Poster(stack.api_url)
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(POLL):
            posted = [t for t in probes if t.posted is not None and not t.done]
            if not posted:
                continue
            try:
                # Read in this order: a probe whose order was stored, then every stored change
                # scored, and whose label is then not icp, is scored otherwise for good.
                stored = {
                    t.order_id for t in posted if "label" not in t.seen and probe.order_stored(t.order_id)
                }
                scored = probe.lag(topics.CUSTOMERS_CHANGED) == 0
                labels = probe.labels_of([t.key for t in posted])
                held = {name: _members(url)[1] for name, url in urls.items()}
            except OSError as exc:
                print(f"  (a sandbox read failed: {exc})", flush=True)
                continue
            seen = time.monotonic()
            for t in posted:
                if labels.get(t.key) == "icp":
                    t.seen.setdefault("label", seen)
                elif scored and t.order_id in stored:
                    t.scored_otherwise = True
                for name in urls:
                    if t.hashes[name] in held[name]:
                        t.seen.setdefault(name, seen)

    watcher = threading.Thread(target=watch, name="watch", daemon=True)
    watcher.start()

    def send_probe(t: Tracked) -> None:
        t.posted = poster.post(t.body)

    started = time.monotonic()
    every = max(1, len(bodies) // max(1, len(probes)))
    with ThreadPoolExecutor(8) as pool:
        for i, body in enumerate(bodies):
            due = started + i / WEBHOOK_RATE
            time.sleep(max(0.0, due - time.monotonic()))
            pool.submit(poster.post, body)
            if i % every == every // 2 and i // every < len(probes):
                pool.submit(send_probe, probes[i // every])
        for t in probes[len(bodies) // every :]:
            pool.submit(send_probe, t)
    sent = time.monotonic() - started
    wait_until(lambda: all(t.done for t in probes), PROBE_WAIT)
    stop.set()
    watcher.join()
    accepted = len(poster.latencies)
    print(
        f"  webhooks: {accepted:,} answered 200 in {sent:.0f} s ({accepted / sent:,.1f}/s), "
        f"{poster.failed} failed; answer p50 {percentile(poster.latencies, 0.5) * 1000:.0f} ms, "
        f"p95 {percentile(poster.latencies, 0.95) * 1000:.0f} ms; {load()}",
        flush=True,
    )
    flush = {
        "meta": stack.children["syncer_meta"].env.get("META_FLUSH_SECONDS", "30"),
        "google": stack.children["syncer_google"].env.get("GOOGLE_FLUSH_SECONDS", "30"),
    }
    print(f"  order webhook -> ... ({len(probes)} probes; seconds, polled every {POLL:g} s)")
    for what, title in (
        ("label", "label icp (ingest + score)"),
        ("meta", "Meta icp_seed member"),
        ("google", "Google icp_seed member"),
    ):
        took = [t.seen[what] - t.posted for t in probes if what in t.seen and t.posted is not None]
        line = f"    {title:<28} {len(took):>3} of {len(probes)}"
        if took:
            line += (
                f"  p50 {percentile(took, 0.5):6.1f}  p95 {percentile(took, 0.95):6.1f}  max {max(took):6.1f}"
            )
        if what in flush:
            target = 60 + float(flush[what])
            line += f"   target p95 < 60 s + {what.upper()}_FLUSH_SECONDS {flush[what]} = {target:g} s"
        print(line, flush=True)
    missed = [t for t in probes if "label" not in t.seen]
    if missed:
        labels = probe.labels_of([t.key for t in missed])
        counts: dict[str, int] = {}
        for t in missed:
            counts[labels.get(t.key, "none")] = counts.get(labels.get(t.key, "none"), 0) + 1
        print(f"    probes that never became icp: {len(missed)} (labels now: {counts})", flush=True)


# --- the run -------------------------------------------------------------------------------


def _publish(settings: Any, path: Path, kind: str) -> int:
    """Publish a file as ``audiencesync import`` does against a running broker (``read_records``,
    ``publish_batches``, every acknowledgement awaited); the ingestor service stores what it carries.

    In process rather than the command, so the stage is publishing and ingesting without the
    command's file check (a full read of the 2 GB file before anything is sent).
    """
    from services.ingestor.importer import publish_batches, read_records
    from shared.bus.producer import Publisher

    with Publisher(settings.kafka_bootstrap, client_id="bench-e2e") as publisher:
        sent = sum(m.records for m in publish_batches(publisher, read_records(path, kind, SHOP), SHOP))
        publisher.flush(timeout=None)
    return sent


def main() -> None:
    """Generate, import, label, sync, then stream; print each stage's wall time and the latencies."""
    from services.cli.embedded import EmbeddedStack
    from shared.config import Settings

    with tempfile.TemporaryDirectory(prefix="bench-e2e-") as folder_name:
        folder = Path(folder_name)
        var = folder / "var"
        var.mkdir()
        print(f"{CUSTOMERS:,} customers, {ORDERS:,} orders (BENCH_SCALE={SCALE:g}); {load()}", flush=True)
        stages: list[tuple[str, float]] = []
        started = time.perf_counter()
        shop = generate(folder)
        stages.append(("generate", time.perf_counter() - started))
        print(
            f"  generated {shop.customers:,} customers, {shop.order_count:,} orders"
            f" in {stages[-1][1]:.0f} s; {load()}",
            flush=True,
        )
        with database(var) as url:
            os.environ.update({"SHOPIFY_WEBHOOK_SECRET": SECRET, "SHOP": SHOP})
            env = {**os.environ, "AUDIENCESYNC_VAR_DIR": str(var), "DATABASE_URL": url}
            env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
            stack = EmbeddedStack(Settings.from_env(env))
            try:
                settings = stack.start()
                print(
                    f"  stack up: {', '.join(stack.children)} (logs in {stack.log_dir}); {load()}", flush=True
                )
                _run(stack, settings, shop, stages)
            finally:
                stack.stop()
    width = max(len(name) for name, _ in stages)
    print("stage wall times:")
    for name, seconds in stages:
        print(f"  {name:<{width}} {seconds:8.1f} s")


def _run(stack: Any, settings: Any, shop: Shop, stages: list[tuple[str, float]]) -> None:
    from services.ingestor.adapters.rates_store import save_rates
    from services.ingestor.domain import load_rates
    from shared.bus import topics

    probe = Probe(settings.database_url)
    try:
        started = time.perf_counter()
        save_rates(probe.store, load_rates(shop.orders.with_name(shop.orders.name + ".rates.yaml")))
        for kind, path in (("orders", shop.orders), ("orders", shop.repeats), *shop.others.items()):
            _publish(settings, path, kind)
        published = time.perf_counter() - started
        wait_until(lambda: probe.stored() >= shop.records, 24 * 3600, 2.0)
        stages.append(("import", time.perf_counter() - started))
        customers, labels = probe.labelled()
        print(
            f"  import: {shop.records:,} records published in {published:.0f} s, handled in"
            f" {stages[-1][1]:.0f} s ({shop.records / stages[-1][1]:,.0f}/s); {customers:,} customers,"
            f" {labels:,} labelled so far; {load()}",
            flush=True,
        )
        mark = time.perf_counter()

        def labelled() -> bool:  # prospects known only from a checkout may get no label
            return probe.lag(topics.CUSTOMERS_CHANGED) == 0

        wait_until(labelled, 24 * 3600, 2.0)
        stages.append(("score/label (after import)", time.perf_counter() - mark))
        print(f"  labels: {probe.label_counts()} after {stages[-1][1]:.0f} s more; {load()}", flush=True)
        mark = time.perf_counter()
        wait_until(lambda: probe.lag(topics.LABELS_CHANGED) == 0 and probe.syncing() == 0, 24 * 3600, 2.0)
        stages.append(("sync Meta + Google (after labels)", time.perf_counter() - mark))
        stages.append(("import start to audiences synced", time.perf_counter() - started))
        print(f"  synced after {stages[-2][1]:.0f} s more; {load()}", flush=True)
        print("  audiences: rows in the ledger; members by the sandbox's own count (Meta's are people:")
        print("  rows sharing an identifier, here the generator's few fictional phone numbers, are one)")
        for platform, audience, list_id, ledger in probe.audiences():
            url = (
                f"{stack.meta_url}/_sandbox/audiences/{list_id}/members"
                if platform == "meta"
                else f"{stack.google_url}/lists/{list_id}/members"
            )
            print(f"    {platform:<6} {audience:<28} ledger {ledger:>7,}  sandbox {_members(url)[0]:>7,}")
        stream(probe, stack, shop)
    finally:
        probe.store.dispose()
