"""End-to-end ingest throughput: publish, consume, validate, store, commit.

For each database (SQLite file, PostgreSQL schema), each layout (Shopify JSONL from the demo
generator, the generic CSV layout) and one or two ``audiencesync serve ingestor`` processes in
one consumer group, on a private embedded broker: orders per second from the first publish to
the last commit, published as ``audiencesync import`` publishes them (``RawBatch`` messages).
Printed next to the floor: the same orders only JSON-decoded and validated in a loop in one
process. Beside each figure, so runs on a shared machine can be judged: the CPU seconds the
ingestor processes used (with their parse workers), and the 1-minute load average at the end.

Options (environment): ``BENCH_SCALE`` (default 1.0 = 100,000 orders) shrinks the run;
``BENCH_LAYOUTS`` (``shopify,generic``), ``BENCH_DATABASES`` (``sqlite,postgresql``) and
``BENCH_CONSUMERS`` (``1,2``) select configurations; ``BENCH_SINGLE=1`` publishes one record
per message (``publish_records``, as webhooks arrive) instead.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func, select

ORDERS = 100_000
PG_SERVER = os.environ.get("TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _scale() -> float:
    return float(os.environ.get("BENCH_SCALE", "1.0"))


def _chosen(name: str, default: str) -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a running process and its children (the ingestor's parse
    worker), from Linux ``/proc``; 0 where unreadable."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return 0.0
    own = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    return own + sum(_cpu_seconds(int(child)) for child in children)


def make_files(tmp: Path, orders: int) -> dict[str, Path]:
    """Demo shops in both layouts with about ``orders`` orders each."""
    from services.ingestor.demo_data import write_demo

    files = {}
    for fmt in ("shopify", "generic"):
        out = tmp / fmt / ("orders.jsonl" if fmt == "shopify" else "orders.csv")
        out.parent.mkdir()
        customers = max(50, int(orders / 3.4))
        write_demo(out, customers=customers, seed=11, as_of=datetime.now(UTC).date(), fmt=fmt)
        files[fmt] = out
    return files


def floor(path: Path, fmt: str) -> tuple[int, float]:
    """Decode + validate every record in one process: the cost no pipeline can avoid."""
    from services.ingestor.domain import load_generic_row, load_order
    from services.ingestor.importer import read_records

    records = [r.body for r in read_records(path, "orders", "bench")]
    load = load_order if fmt == "shopify" else load_generic_row
    started = time.perf_counter()
    for body in records:
        load(body)
    return len(records), time.perf_counter() - started


@contextmanager
def database(kind: str, tmp: Path) -> Iterator[str]:
    """A fresh SQLite file or PostgreSQL schema, migrated; dropped afterwards."""
    from shared.store.migrate import upgrade

    if kind == "sqlite":
        url = f"sqlite:///{tmp / f'bench-{uuid.uuid4().hex[:6]}.db'}"
        upgrade(url)
        yield url
        return
    import psycopg

    schema = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_SERVER, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA "{schema}"')
    url = f"{PG_SERVER}?options=-csearch_path%3D{schema}"
    try:
        upgrade(url)
        yield url
    finally:
        with psycopg.connect(PG_SERVER, autocommit=True) as conn:
            conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


def end_to_end(url: str, path: Path, rates: Path, consumers: int) -> tuple[int, float, float]:
    """Publish the file to a private broker and wait until ``consumers`` ingestors stored it all:
    records handled, seconds, and the ingestors' CPU seconds."""
    from services.ingestor.adapters.rates_store import save_rates
    from services.ingestor.domain import load_rates
    from services.ingestor.importer import publish_batches, publish_records, read_records
    from shared.bus.broker import EmbeddedBroker, ensure_topics
    from shared.bus.producer import Publisher
    from shared.bus.topics import ALL_TOPICS
    from shared.store.db import Store
    from shared.store.models import ProcessedMessage

    store = Store(url)
    save_rates(store, load_rates(rates))
    records = list(read_records(path, "orders", "bench"))
    with EmbeddedBroker() as broker:
        ensure_topics(broker.bootstrap, ALL_TOPICS, partitions=4)
        env = {
            **os.environ,
            "DATABASE_URL": url,
            "KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
            "LOG_LEVEL": "WARNING",
            "SHOP": "bench",
        }
        procs = [
            subprocess.Popen(
                [sys.executable, "-m", "services.cli.main", "serve", "ingestor"],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            for _ in range(consumers)
        ]
        try:
            time.sleep(6)  # let the group settle so the figure is throughput, not join time
            cpu_before = sum(_cpu_seconds(p.pid) for p in procs)
            started = time.perf_counter()
            with Publisher(broker.bootstrap) as publisher:
                publish = publish_records if os.environ.get("BENCH_SINGLE") == "1" else publish_batches
                for _ in publish(publisher, iter(records), "bench"):
                    pass
                publisher.flush(timeout=None)  # the broker takes 100k orders while they are ingested
            while True:
                with store.session() as s:
                    done = (
                        s.scalar(
                            select(func.count())
                            .select_from(ProcessedMessage)
                            .where(ProcessedMessage.consumer == "ingestor")
                        )
                        or 0
                    )
                if done >= len(records) or any(p.poll() is not None for p in procs):
                    break
                time.sleep(0.25)
            took = time.perf_counter() - started
            cpu = sum(_cpu_seconds(p.pid) for p in procs) - cpu_before
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                proc.wait(30)
    store.dispose()
    return int(done), took, cpu


def main() -> None:
    """Print the floor and every chosen end-to-end configuration."""
    orders = int(ORDERS * _scale())
    layouts = _chosen("BENCH_LAYOUTS", "shopify,generic")
    kinds = _chosen("BENCH_DATABASES", "sqlite,postgresql")
    counts = [int(n) for n in _chosen("BENCH_CONSUMERS", "1,2")]
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        files = make_files(tmp, orders)
        print(
            f"{'layout':8} {'database':10} {'consumers':>9} {'orders':>8} {'seconds':>8} {'orders/s':>9} "
            f"{'x floor time':>12} {'cpu s':>7} {'load':>5}"
        )
        for fmt in layouts:
            path = files[fmt]
            n, took = floor(path, fmt)
            floor_rate = n / took
            print(f"{fmt:8} {'(floor)':10} {'-':>9} {n:>8} {took:>8.1f} {floor_rate:>9.0f} {1.0:>12.2f}")
            rates = path.with_name(path.name + ".rates.yaml")
            for kind in kinds:
                for consumers in counts:
                    with database(kind, tmp) as url:
                        done, took, cpu = end_to_end(url, path, rates, consumers)
                    rate = done / took
                    print(
                        f"{fmt:8} {kind:10} {consumers:>9} {done:>8} {took:>8.1f} {rate:>9.0f} "
                        f"{floor_rate / rate if rate else float('inf'):>12.2f} {cpu:>7.1f} "
                        f"{os.getloadavg()[0]:>5.1f}",
                        flush=True,
                    )
