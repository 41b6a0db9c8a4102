"""Full rescore of 1,000,000 customers with 5,000,000 orders, on PostgreSQL and on SQLite.

The shop is generated straight into the tables (PostgreSQL ``COPY``, SQLite ``executemany`` in
big transactions), not through the ingestor: customers, orders with one line each, refunds on
8% of orders, tickets, abandoned checkouts, a few test and cancelled orders. Then
``full_rescore`` runs twice: the first writes every label (inserts, all changed), the second is
the nightly steady state (updates, nothing material changed). Wall time is split into
aggregation SQL, the earlier cuts of the value backtest, the domain and label writes, each
with this process's CPU time beside the wall time (SQLite works in the process's threads; on
PostgreSQL the backends' CPU is printed too when the server is local), and the load average:
on a shared machine the wall time alone says little. Peak memory is the rescoring process's
``ru_maxrss`` (each rescore runs in a fresh process, so generation does not count).

Target: at most 60 s and 1.5 GB per full rescore. ``BENCH_SCALE=0.1`` runs a tenth of the size;
``BENCH_DATABASES=sqlite`` (or ``postgresql``) runs one database only. ``BENCH_KEEP=DIR`` keeps
the generated shops (SQLite in DIR, PostgreSQL in schema ``bench_rescore_<customers>``) and
reuses them on the next run, labels cleared (generating a million customers takes minutes).
``BENCH_VALUE=blend`` (or ``learned``) times the value model's dearest path: the generated shop
has nothing BG/NBD cannot see, so its backtest keeps BG/NBD and the final training and the
learned predictions for every customer never run; this makes the choice as if the backtest had
picked that candidate (the figures it printed stay the measured ones).
PostgreSQL: ``BENCH_POSTGRES_URL`` (default the test server), in a throwaway schema dropped
afterwards. Prints figures only; asserts nothing. Run: ``python -m bench rescore``.
"""

from __future__ import annotations

import multiprocessing
import os
import resource
import tempfile
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, cast

import numpy as np

POSTGRES = os.environ.get("BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")
SCALE = float(os.environ.get("BENCH_SCALE", "1"))
DATABASES = os.environ.get("BENCH_DATABASES", "postgresql,sqlite").split(",")  # which to run
KEEP = os.environ.get("BENCH_KEEP", "")  # a folder: keep the generated shops and reuse them
FORCED_VALUE = os.environ.get("BENCH_VALUE", "")  # blend | learned: time the dearest value path
CUSTOMERS = int(1_000_000 * SCALE)
AS_OF = datetime(2025, 6, 30, 23, 59, 59, tzinfo=UTC)
CHUNK = 200_000
HISTORY_DAYS = 3 * 365
COUNTRIES = ("US", "GB", "DE", "FR", "JP", "CA", "AU", "NL", "BR", "IN")
REFERRALS = ("google", "facebook", "instagram", "email", "direct", "referral")
CATEGORIES = ("Apparel", "Accessories", "Home", "Beauty", "Outdoor", "Stationery")
_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")


def _stamps(days: np.ndarray, postgres: bool) -> list[str]:
    """Epoch days as the text each database stores (SQLite: naive UTC ISO; PostgreSQL: +00)."""
    moments = _EPOCH + (days * 86_400e6).astype("timedelta64[us]")
    text = np.datetime_as_string(moments, unit="us").tolist()
    return [t + "+00" for t in text] if postgres else [t.replace("T", " ") for t in text]


def _money(values: np.ndarray, postgres: bool) -> list[Any]:
    return [f"{v:.4f}" for v in values.tolist()] if postgres else np.round(values, 4).tolist()


def _customers(rng: np.random.Generator, start: int, stop: int, pg: bool) -> Iterator[tuple[Any, ...]]:
    n = stop - start
    seen = _stamps(AS_OF.timestamp() / 86_400 - rng.uniform(0, HISTORY_DAYS, n), pg)
    country = rng.integers(0, len(COUNTRIES), n).tolist()
    email, sms = (rng.random(n) < 0.5).tolist(), (rng.random(n) < 0.2).tolist()
    for i in range(n):
        key = f"{start + i:016x}".rjust(64, "c")
        yield (key, "bench", str(start + i), COUNTRIES[country[i]], email[i], sms[i], seen[i], seen[i])


def _purchases(rng: np.random.Generator, buyers: int) -> tuple[np.ndarray, np.ndarray]:
    """(customer index, epoch day) of every order: Poisson purchases while alive, dropout after
    each (the BG/NBD story, about 5.3 orders a buyer), first orders spread over three years."""
    as_of = AS_OF.timestamp() / 86_400
    first = as_of - rng.uniform(0, HISTORY_DAYS, buyers)
    rate = np.maximum(rng.gamma(0.75, 1 / 6.5, buyers), 1e-12) / 7  # per day
    dropout = rng.beta(0.6, 3.0, buyers)
    owners, days = [np.arange(buyers)], [first]
    clock, active = first.copy(), np.arange(buyers)
    while active.size:
        clock[active] += rng.exponential(1 / rate[active])
        bought = active[clock[active] <= as_of]
        owners.append(bought)
        days.append(clock[bought])
        active = bought[rng.random(bought.size) >= dropout[bought]]
    return np.concatenate(owners), np.concatenate(days)


def _orders(
    rng: np.random.Generator, first_id: int, owners: np.ndarray, created: np.ndarray, pg: bool
) -> dict[str, list[Any]]:
    """Orders (and their line, refund) for customer indexes ``owners``, one row each."""
    n = len(owners)
    gross = np.round(rng.lognormal(4.0, 0.6, n), 2)
    discounted = rng.random(n) < 0.2
    discount = np.where(discounted, np.round(gross * rng.choice([0.1, 0.2, 0.3, 0.5], n), 2), 0.0)
    refunded = np.where(rng.random(n) < 0.08, np.round((gross - discount) * rng.uniform(0.5, 1, n), 2), 0.0)
    ids = np.arange(first_id, first_id + n)
    keys = [f"{o:016x}".rjust(64, "c") for o in owners.tolist()]
    made, updated = _stamps(created, pg), _stamps(created + 0.05, pg)
    flags = rng.random(n)
    test, cancelled = (flags < 0.002).tolist(), ((flags >= 0.002) & (flags < 0.007)).tolist()
    refs = rng.integers(0, len(REFERRALS), n).tolist()
    cats = rng.integers(0, len(CATEGORIES), n).tolist()
    net = np.maximum(gross - discount - refunded, 0)
    g, d, r, nb = (_money(v, pg) for v in (gross, discount, refunded, net))
    id_list, codes = ids.tolist(), discounted.astype(int).tolist()
    orders = [
        (id_list[i], "bench", str(id_list[i]), keys[i], made[i], updated[i], "USD", g[i], g[i], d[i], r[i],
         nb[i], codes[i], "paid", "paid", cancelled[i], test[i], "web",
         REFERRALS[refs[i]], f'["{CATEGORIES[cats[i]]}"]', "US", True, 1, "import", made[i])
        for i in range(n)
    ]  # fmt: skip
    lines = [(id_list[i], 0, CATEGORIES[cats[i]], "Vendor", 1, g[i], d[i]) for i in range(n)]
    refund_rows = np.flatnonzero(refunded > 0)
    when = _stamps(created[refund_rows] + rng.uniform(3, 30, len(refund_rows)), pg)
    refunds = [
        ("bench", f"r{id_list[i]}", str(id_list[i]), keys[i], when[j], r[i], 1)
        for j, i in enumerate(refund_rows.tolist())
    ]
    return {"orders": orders, "order_lines": lines, "refunds": refunds}


COLUMNS = {
    "customers": "customer_key, shop, shop_customer_id, country, accepts_email_marketing, "
    "accepts_sms_marketing, first_seen_at, updated_at",
    "orders": "id, shop, order_id, customer_key, created_at, updated_at, currency, gross, gross_base, "
    "discount_base, refunded_base, net_base, discount_codes, status, financial_status, cancelled, is_test, "
    "channel, referral, categories, country, accepts_marketing, line_count, source, ingested_at",
    "order_lines": "order_pk, line_no, product_type, vendor, quantity, unit_price, discount",
    "refunds": "shop, refund_id, order_id, customer_key, created_at, amount_base, items",
    "support_tickets": "shop, source, ticket_id, customer_key, created_at",
    "checkouts": "shop, checkout_id, customer_key, created_at, updated_at, completed_at, value_base",
}


def _batches(pg: bool) -> Iterator[tuple[str, list[Any]]]:
    """Every table's rows, in chunks, parents before children."""
    rng = np.random.default_rng(20250630)
    for start in range(0, CUSTOMERS, CHUNK):
        yield "customers", list(_customers(rng, start, min(start + CHUNK, CUSTOMERS), pg))
    buyers = int(CUSTOMERS * 0.95)  # the last 5% are prospects: an abandoned checkout, no order
    owners, days = _purchases(rng, buyers)
    for start in range(0, len(owners), CHUNK):
        part = slice(start, start + CHUNK)
        yield from _orders(rng, start + 1, owners[part], days[part], pg).items()
    as_of = AS_OF.timestamp() / 86_400
    heavy = rng.choice(buyers, size=buyers // 20, replace=False)
    ticket_owners = np.repeat(heavy, rng.integers(1, 6, len(heavy)))
    stamps = _stamps(as_of - rng.uniform(0, HISTORY_DAYS, len(ticket_owners)), pg)
    yield (
        "support_tickets",
        [
            ("bench", "generic", f"t{i}", f"{o:016x}".rjust(64, "c"), stamps[i])
            for i, o in enumerate(ticket_owners.tolist())
        ],
    )
    prospects = np.arange(buyers, CUSTOMERS)
    stamps = _stamps(as_of - rng.uniform(0, 60, len(prospects)), pg)
    yield (
        "checkouts",
        [
            ("bench", f"c{o}", f"{o:016x}".rjust(64, "c"), stamps[i], stamps[i], None, 80.0)
            for i, o in enumerate(prospects.tolist())
        ],
    )


def _generate(url: str, schema: str | None) -> None:
    """Create the schema with the migrations and fill it (runs in a child process)."""
    from shared.store.migrate import upgrade

    upgrade(url)
    started, counts = time.perf_counter(), dict.fromkeys(COLUMNS, 0)
    if schema is not None:
        import psycopg

        with psycopg.connect(POSTGRES, autocommit=False) as conn:
            conn.execute(f'SET search_path TO "{schema}"')
            for table, rows in _batches(True):
                with conn.cursor().copy(f"COPY {table} ({COLUMNS[table]}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
                counts[table] += len(rows)
            conn.commit()
            conn.execute("ANALYZE")
    else:
        import sqlite3

        lite = sqlite3.connect(url.split("///", 1)[1])
        lite.execute("PRAGMA synchronous=OFF")
        for table, rows in _batches(False):
            marks = ", ".join("?" * len(rows[0])) if rows else ""
            if rows:
                insert = f"INSERT INTO {table} ({COLUMNS[table]}) VALUES ({marks})"  # noqa: S608 - our tables
                lite.executemany(insert, rows)
            counts[table] += len(rows)
        lite.commit()
        lite.execute("ANALYZE")
        lite.close()
    took = time.perf_counter() - started
    print(
        "  generated " + ", ".join(f"{n:,} {t}" for t, n in counts.items()) + f" in {took:.0f}s", flush=True
    )


STAGES = (("aggregate", "aggregation SQL"), ("aggregate_history", "earlier cuts"),
          ("score", "domain with value choice"), ("write", "label writes"))  # fmt: skip


def _cpu() -> float:
    """CPU seconds of this process (every thread) and its waited-for children."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _server_cpu(store: Any, application: str) -> float | None:
    """CPU seconds of this run's PostgreSQL backends (its connections carry ``application``),
    read from /proc when the server runs on this machine; None when it cannot be read."""
    from sqlalchemy import text

    with store.session() as session:
        pids = session.scalars(
            text("SELECT pid FROM pg_stat_activity WHERE application_name = :a"), {"a": application}
        ).all()
    total = 0.0
    try:
        for pid in pids:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except OSError:
        return None
    return total


def _rescore(url: str, label: str) -> None:
    """One full rescore, timed by stage (wall and this process's CPU), with the peak RSS and the
    load average, since the machine may be shared (runs in a child process)."""
    from services.scorer.rescoring import full_rescore
    from shared.definitions.scoring import DEFAULT_SCORING
    from shared.store.db import Store

    if FORCED_VALUE:
        _force_value_choice(FORCED_VALUE)
    application = f"bench_rescore_{uuid.uuid4().hex[:8]}"
    if url.startswith("postgresql"):
        url += f"&application_name={application}"
    store = Store(url)
    load_before, cpu_before = os.getloadavg()[0], _cpu()
    started = time.perf_counter()
    result, _ = full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    wall, cpu = time.perf_counter() - started, _cpu() - cpu_before
    server = _server_cpu(store, application) if url.startswith("postgresql") else None
    store.dispose()
    load_after = os.getloadavg()[0]
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB
    s, c = result.seconds, result.cpu_seconds
    stages = ", ".join(
        f"{name} {s.get(key, 0.0):.1f} s ({c.get(key, 0.0):.1f} s CPU)" for key, name in STAGES
    )
    database = "" if server is None else f", database backends {server:.1f} s CPU"
    print(
        f"  {label:<26} {wall:6.1f} s wall, {cpu:6.1f} s CPU{database}; load average {load_before:.1f} -> "
        f"{load_after:.1f} on {os.cpu_count()} CPUs; peak RSS {peak:,.0f} MiB\n"
        f"    {stages}, rest {wall - sum(s.values()):.1f} s\n"
        f"    {result.customers:,} customers, {result.changed:,} changed, model {result.method}, "
        f"value {result.value_choice.get('method')} ({result.value_choice.get('reason')})",
        flush=True,
    )


def _force_value_choice(method: str) -> None:
    """The backtest's decision made ``method`` whatever it measured, with full confidence."""
    from services.scorer.domain import value_choice

    chosen = cast("value_choice.Choice", method)

    def decide(figures: dict[str, dict[str, float]]) -> tuple[value_choice.Choice, str]:
        del figures  # measured and kept; only the decision is forced
        return chosen, f"forced by BENCH_VALUE={method}"

    value_choice._decide = decide
    value_choice._confidence = lambda *_args: 1.0


def _child(target: Any, *args: Any) -> None:
    process = multiprocessing.get_context("spawn").Process(target=target, args=args)
    process.start()
    process.join()
    if process.exitcode != 0:
        raise RuntimeError(f"{target.__name__} failed with exit code {process.exitcode}")


def _forget_labels(url: str) -> None:
    """A kept shop starts without labels, so the first rescore writes every label again.

    Emptied as a new shop's are (PostgreSQL ``TRUNCATE``; SQLite's ``DELETE`` without ``WHERE``
    empties a table the same way): a ``DELETE`` left PostgreSQL a million dead rows and their index
    entries in ``label_history``, and the first rescore's history insert took 7.0 s instead of
    5.1 s (1,000,000 customers, one after the other, load ~3), which no real first rescore pays.
    """
    from sqlalchemy import text

    from shared.store.db import Store

    store = Store(url)
    empty = "TRUNCATE {}" if store.dialect == "postgresql" else "DELETE FROM {}"
    with store.transaction() as session:
        for table in ("label_history", "labels", "scoring_runs"):
            session.execute(text(empty.format(table)))
    store.dispose()


def _run(url: str, schema: str | None, *, kept: bool = False) -> None:
    _child(_forget_labels if kept else _generate, url, *(() if kept else (schema,)))
    _child(_rescore, url, "first (every label new)")
    _child(_rescore, url, "again (steady state)")


def main() -> None:
    """Generate the shop on each database, rescore it twice, print the figures."""
    if FORCED_VALUE not in ("", "blend", "learned"):  # before minutes of generating the shop
        raise SystemExit(f"BENCH_VALUE: expected blend or learned, got {FORCED_VALUE!r}")
    forced = f", value model forced: {FORCED_VALUE} (BENCH_VALUE)" if FORCED_VALUE else ""
    print(f"{CUSTOMERS:,} customers, ~{CUSTOMERS * 5:,} orders (BENCH_SCALE={SCALE:g}){forced}")
    if "postgresql" in DATABASES:
        _postgresql()
    if "sqlite" in DATABASES:
        print("SQLite:", flush=True)
        if KEEP:
            path = Path(KEEP) / f"rescore-{CUSTOMERS}.db"
            _run(f"sqlite:///{path}", None, kept=path.exists())
            return
        with tempfile.TemporaryDirectory() as folder:
            _run(f"sqlite:///{Path(folder) / 'bench.db'}", None)


def _postgresql() -> None:
    import psycopg

    schema = f"bench_rescore_{CUSTOMERS}" if KEEP else f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(POSTGRES, autocommit=True) as conn:
        kept = conn.execute("SELECT 1 FROM pg_namespace WHERE nspname = %s", (schema,)).fetchone()
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
    try:
        print("PostgreSQL:", flush=True)
        sep = "&" if "?" in POSTGRES else "?"
        _run(f"{POSTGRES}{sep}options=-csearch_path%3D{schema}", schema, kept=bool(KEEP and kept))
    finally:
        if not KEEP:
            with psycopg.connect(POSTGRES, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA "{schema}" CASCADE')


if __name__ == "__main__":
    main()
