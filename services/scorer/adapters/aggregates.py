"""Per-customer aggregates from the stored facts, computed by GROUP BY in SQL.

No order row ever reaches Python: each query returns one row per customer, streamed in chunks
and scattered into preallocated numpy columns, so a million customers cost a few hundred MiB.
Only facts up to ``as_of`` count: orders and tickets created by then, refunds created by then,
checkouts created by then and not completed by then.

Which orders count (everywhere: value, counts, channel, category): not ``is_test``, not
``cancelled``, and not ``status`` voided or cancelled, because no money changed hands on them.
Their refunds are left out with them (a cancellation refund would otherwise read as a return).
A refund amount an order reports without refund records (generic CSV imports) counts from the
order version that reported it (``updated_at <= as_of``).

Money is ``Numeric`` in the database and cast to double precision in the query, so the numbers
arrive as floats in the base currency. Times arrive as epoch days. For a whole shop (or a
sample of it) the passes run in lanes (``_LANES``), each on a connection of its own, while the
caller's connection reads the customers, so the passes share the wall time on two cores.
"""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from operator import itemgetter
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from services.scorer.adapters import aggregate_sql as sql
from services.scorer.domain.aggregates import WINDOWS, CustomerAggregates
from shared.store.types import UtcDateTime

CHUNK_ROWS = 50_000  # rows fetched at a time: bounds the Python objects alive at once
KEY_BATCH = 500  # customer keys per IN (...) list for an incremental rescore
WORK_MEM = "256MB"  # PostgreSQL sort memory for a whole-shop pass (per sort, this transaction only)

_TIME = UtcDateTime()
_NAN_COLUMNS = (
    "first_order_at",
    "last_order_at",
    "first_order_total",
    "discount_depth_min",
    "last_abandoned_checkout_at",
)
_TEXT_COLUMNS = ("country", "channel", "top_category")


@dataclass(frozen=True)
class _Window:
    as_of: datetime
    orders_after: datetime | None
    keys: list[str] | None
    key_below: str | None = None  # a sample: customers whose key sorts before this

    @property
    def times(self) -> dict[str, datetime | None]:
        """The time parameters: as_of, after, and the start of each recent window."""
        since = {f"since_{w}": self.as_of - timedelta(days=w) for w in WINDOWS}
        return {"as_of": self.as_of, "after": self.orders_after, **since}

    @property
    def params(self) -> dict[str, Any]:
        params: dict[str, Any] = dict(self.times)
        if self.keys is not None:
            params["keys"] = self.keys
        if self.key_below is not None:
            params["key_below"] = self.key_below
        return params


def byte_keys(keys: Sequence[str]) -> npt.NDArray[Any]:
    """Fixed-width byte strings: searchsorted on them runs in C (customer keys are hex)."""
    try:
        return np.array(keys, dtype="S")
    except UnicodeEncodeError:  # not a hash: fall back to unicode (4 bytes a character)
        return np.array(keys, dtype="U")


def row_positions(keys: npt.NDArray[np.object_]) -> dict[str, int]:
    """Each customer key's row. Finding a million result rows' customers by hash costs a third
    of converting their keys to bytes and binary-searching them (~0.7 s instead of ~2 s)."""
    return {key: row for row, key in enumerate(keys.tolist())}


def positions(rows: dict[str, int], keys: Sequence[str]) -> npt.NDArray[np.intp]:
    """The rows of ``keys`` (-1 for a key not among them)."""
    find = rows.get
    return np.array([find(key, -1) for key in keys], dtype=np.intp)


def _prepare(session: Session, window: _Window) -> None:
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql" and window.keys is None:
        # Streaming uses a server-side cursor, which PostgreSQL plans for the first 10% of rows
        # by default (nested loops); every row is wanted. Sorts of millions of rows get memory.
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
        session.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
        if window.key_below is not None:
            # A sample's passes are costed high enough for JIT, whose compilation (the orders
            # pass: ~0.7 s, one process) outweighs what it saves on a tenth of the shop.
            session.execute(text("SET LOCAL jit = off"))


# Planner settings for one whole-shop pass on PostgreSQL, in its lane's transaction (so for the
# passes after it in that lane too). The category pass groups 5 M joined lines into ~2.7 M
# (customer, category) groups: hashed, as the planner prefers, they spill to disk in batches and
# are sorted again for the ranking (1,000,000 customers, EXPLAIN ANALYZE: 15.8 s); sorted once,
# 12.8 s. In lanes ~3 s less backend CPU, the same aggregates. (The earlier cuts' sample groups
# its few rows in order already.)
_PLAN: dict[str, tuple[str, ...]] = {"top_category": ("SET LOCAL enable_hashagg = off",)}


def _plan(session: Session, name: str, window: _Window) -> None:
    if session.get_bind().dialect.name == "postgresql" and window.keys is None and window.key_below is None:
        for setting in _PLAN.get(name, ()):
            session.execute(text(setting))


@dataclass(frozen=True)
class _Chunk:
    """Some rows of one query, as columns: the customers' keys and the value columns."""

    keys: list[str]
    values: list[npt.NDArray[Any]]

    @classmethod
    def of(cls, name: str, rows: list[Any]) -> _Chunk:
        """The rows of query ``name``: the number columns (NULL -> NaN) go through one float
        matrix, a third of the CPU of a column of Python objects each (the orders pass: 19-21
        columns); text columns stay objects (a category that reads as a number is text)."""
        if not rows:
            return cls([], [])
        width = len(rows[0]) - 1
        text_at = [i for i, target in enumerate(sql.TARGETS[name][:width]) if target in _TEXT_COLUMNS]
        numeric_at = [i for i in range(width) if i not in text_at]
        values: list[npt.NDArray[Any]] = [np.empty(0)] * width
        if numeric_at:
            pick = itemgetter(*(i + 1 for i in numeric_at))  # one column: a value, not a tuple
            numbers = np.array([pick(row) for row in rows], dtype=np.float64).reshape(len(rows), -1)
            for j, i in enumerate(numeric_at):
                values[i] = numbers[:, j]
        for i in text_at:
            values[i] = np.array([row[i + 1] for row in rows], dtype=object)
        return cls([row[0] for row in rows], values)


def _chunks(session: Session, name: str, query: str, window: _Window) -> Iterator[_Chunk]:
    for rows in _rows(session, query, window):
        yield _Chunk.of(name, rows)


def _rows(session: Session, query: str, window: _Window) -> Iterator[list[Any]]:
    """A query's rows in chunks; the whole shop's straight from the driver (server-side on PostgreSQL)."""
    if window.keys is None:
        yield from _driver_rows(session, query, window)
        return
    stmt = text(query).bindparams(bindparam("keys", expanding=True))  # at most KEY_BATCH customers
    for name in window.times:
        if re.search(rf":{name}\b", query):
            stmt = stmt.bindparams(bindparam(name, type_=_TIME))
    yield list(session.execute(stmt, window.params))


def _driver_rows(session: Session, query: str, window: _Window) -> Iterator[list[Any]]:
    """Plain DBAPI tuples, no Row object or type processing per row for a million customers."""
    raw = session.connection().connection.driver_connection
    assert raw is not None
    if session.get_bind().dialect.name == "postgresql":
        params: dict[str, Any] = dict(window.times)
        # Binary rows: no float formatted as text by the server and parsed back by the driver
        # (orders pass at 1,000,000 customers: driver 3.3 -> 1.4 s CPU, ~1.5 s less backend).
        # A sample's rows (at most ``learned_sample`` customers) are few enough to arrive whole,
        # which lets PostgreSQL plan them in parallel: it never does for a cursor (DECLARE).
        sample = window.key_below is not None
        cursor = (
            raw.cursor(binary=True)
            if sample
            else raw.cursor(name=f"aggregates_{uuid.uuid4().hex[:8]}", binary=True)
        )
        query = re.sub(r":(as_of|after|since_\d+|key_below)\b", r"%(\1)s", query)
    else:  # the text SQLite stores UTC times as (naive ISO, microseconds)
        params = {k: _sqlite_time(v) for k, v in window.times.items()}
        cursor = raw.cursor()
    params["key_below"] = window.key_below
    try:
        cursor.execute(query, params)
        while rows := cursor.fetchmany(CHUNK_ROWS):
            yield rows
    finally:
        cursor.close()


def _sqlite_time(moment: datetime | None) -> str | None:
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")


class _Columns:
    """Preallocated aggregate columns for a known set of customers, sorted by key."""

    def __init__(self, keys: npt.NDArray[np.object_], country: Any, email: Any, sms: Any) -> None:
        order = np.argsort(byte_keys(keys.tolist()), kind="stable")
        n = len(keys)
        self.data: dict[str, npt.NDArray[Any]] = {
            "customer_key": keys[order],
            "country": country[order],
            "accepts_email": email[order].astype(bool),
            "accepts_sms": sms[order].astype(bool),
        }
        for names in sql.TARGETS.values():
            for name in names:
                if name in _TEXT_COLUMNS:
                    self.data[name] = np.full(n, "", dtype=object)
                elif name not in self.data:
                    self.data[name] = np.full(n, np.nan) if name in _NAN_COLUMNS else np.zeros(n)
        self.position = row_positions(self.data["customer_key"])

    def scatter(self, query: str, chunk: _Chunk) -> None:
        """Put one chunk of a query's results at their customers' positions."""
        if not chunk.keys:
            return
        pos = positions(self.position, chunk.keys)
        known = pos >= 0  # a customer created after the customers query: skipped
        pos = pos[known]
        for name, values in zip(sql.TARGETS[query], chunk.values, strict=False):
            target = self.data[name]
            target[pos] = np.asarray(values, dtype=target.dtype)[known]

    def build(self) -> CustomerAggregates:
        """The finished aggregates: dated and undated refunds added up."""
        data = self.data
        data["refunded_total"] = data["refunded_total"] + data.pop("undated_refunds")
        refunded_orders = data["refunded_orders"] + data.pop("undated_refunded_orders")
        data["refunded_orders"] = np.minimum(refunded_orders, data["n_orders"])
        return CustomerAggregates.from_columns(data)


def _customers(session: Session, window: _Window) -> _Columns:
    query = sql.CUSTOMERS + (" WHERE customer_key IN :keys" if window.keys is not None else "")
    if window.key_below is not None:
        query += (" AND" if window.keys is not None else " WHERE") + " customer_key < :key_below"
    parts: list[tuple[Any, ...]] = []
    for chunk in _rows(session, query, window):
        if chunk:
            columns = list(zip(*chunk, strict=True))
            parts.append(tuple(np.array(c, dtype=object) for c in columns))
    if not parts:
        empty = np.array([], dtype=object)
        return _Columns(empty, empty, np.array([], dtype=bool), np.array([], dtype=bool))
    keys, country, email, sms = (np.concatenate(c) for c in zip(*parts, strict=True))
    return _Columns(keys, country, email, sms)


# A whole shop's passes (or a sample's), by connection: each lane runs its passes in order on a
# connection of its own while the caller's reads the customers; every pass scatters into them.
# Balanced by measured cost at 1,000,000 customers (each pass alone, database plus driver):
# PostgreSQL orders ~16 s, categories ~14 s, channel ~8 s + refunds ~3 s; SQLite orders ~25 s,
# categories ~19 s, refunds ~2 s. Following the customers read on the caller's connection, the
# orders pass was the longest path (1,000,000 customers: ~40 s of ~41 s), with one core idle
# for its last ~10 s.
_LANES: dict[str, tuple[tuple[str, ...], ...]] = {
    "postgresql": (("orders",), ("top_category",), ("channel", "refunds", "undated", "tickets", "checkouts")),
    "sqlite": (("orders",), ("top_category",), ("refunds", "undated", "tickets", "checkouts")),
}


def _load(session: Session, window: _Window) -> CustomerAggregates:
    dialect = sql.DIALECTS[session.get_bind().dialect.name]
    keys, after, below = (
        window.keys is not None,
        window.orders_after is not None,
        window.key_below is not None,
    )
    queries = {
        "orders": sql.orders_sql(dialect, after=after, keys=keys, below=below),
        **sql.other_sql(dialect, after=after, keys=keys, below=below),
    }
    _prepare(session, window)
    if keys:  # a few customers: one connection, one pass after the other
        columns = _customers(session, window)
        for name, query in queries.items():
            for chunk in _chunks(session, name, query, window):
                columns.scatter(name, chunk)
        return columns.build()
    return _in_lanes(session, window, queries, _LANES[dialect.name]).build()


def _in_lanes(
    session: Session, window: _Window, queries: dict[str, str], lanes: tuple[tuple[str, ...], ...]
) -> _Columns:
    """The customers read on ``session`` while each lane's passes run on a connection of its own."""
    found: list[_Columns] = []  # the customers, once read: every pass scatters into them
    ready = threading.Event()
    errors: list[BaseException] = []

    def run_lane(names: tuple[str, ...]) -> None:
        # Scattered as they come (each pass fills columns of its own), not kept until the end:
        # a million rows of keys and values held as Python objects cost ~100 MiB a pass.
        try:
            with Session(session.get_bind()) as other:
                _prepare(other, window)
                for name in names:
                    _plan(other, name, window)
                    for chunk in _chunks(other, name, queries[name], window):
                        ready.wait()
                        if not found:  # reading the customers failed; the caller raises that
                            return
                        found[0].scatter(name, chunk)
        except BaseException as exc:  # re-raised in the caller's thread below
            errors.append(exc)

    assert {name for lane in lanes for name in lane} == queries.keys(), "every pass in one lane"
    workers = [threading.Thread(target=run_lane, args=(lane,), name=f"aggregate-{lane[0]}") for lane in lanes]
    for worker in workers:
        worker.start()
    try:
        found.append(_customers(session, window))
    finally:
        ready.set()
        for worker in workers:
            worker.join()
    if errors:
        raise errors[0]
    return found[0]


def load_aggregates(
    session: Session,
    as_of: datetime,
    *,
    keys: Sequence[str] | None = None,
    orders_after: datetime | None = None,
    key_below: str | None = None,
) -> CustomerAggregates:
    """Aggregates of every customer (or of ``keys``) from facts up to ``as_of``, sorted by key.

    ``orders_after`` keeps only orders created after it (a backtest's holdout period); refunds
    of those orders still count up to ``as_of``. Unknown keys are simply absent. ``key_below``
    keeps the customers whose key sorts before it (a seeded-free uniform sample of hashed keys).
    """
    if keys is None:
        return _load(session, _Window(as_of, orders_after, None, key_below))
    unique = sorted(set(keys))
    parts = [
        _load(session, _Window(as_of, orders_after, unique[i : i + KEY_BATCH]))
        for i in range(0, len(unique), KEY_BATCH)
    ]
    return concat(parts) if parts else _empty()


def _empty() -> CustomerAggregates:
    none = np.array([], dtype=object)
    return CustomerAggregates.from_columns(
        {"customer_key": none, "n_orders": [], "first_order_at": [], "last_order_at": [], "gross_total": []}
    )


def concat(parts: Sequence[CustomerAggregates]) -> CustomerAggregates:
    """Stack aggregates of disjoint customer sets (row order kept)."""
    names = CustomerAggregates.__dataclass_fields__
    return CustomerAggregates(**{n: np.concatenate([getattr(p, n) for p in parts]) for n in names})
