"""Per-customer aggregates from the stored facts, computed by GROUP BY in SQL.

No order row ever reaches Python: each query returns one row per customer (or per customer and
category), streamed in chunks and scattered into preallocated numpy columns, so a million
customers cost a few hundred MiB. Only facts up to ``as_of`` count: orders and tickets created
by then, refunds created by then, checkouts created by then and not completed by then.

Which orders count (everywhere: value, counts, channel, category): not ``is_test``, not
``cancelled``, and not ``status`` voided or cancelled, because no money changed hands on them.
Their refunds are left out with them (a cancellation refund would otherwise read as a return).
A refund amount an order reports without refund records (generic CSV imports) counts from the
order version that reported it (``updated_at <= as_of``).

Money is ``Numeric`` in the database and cast to double precision in the query, so the numbers
arrive as floats in the base currency. Times arrive as epoch days: SQLite stores UTC as naive
ISO text (``julianday(t) - 2440587.5``), PostgreSQL as ``timestamptz`` (``extract(epoch)``).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import numpy as np
import numpy.typing as npt
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

from services.scorer.domain.aggregates import CustomerAggregates
from shared.store.types import UtcDateTime

CHUNK_ROWS = 50_000  # rows fetched at a time: bounds the Python objects alive at once
KEY_BATCH = 500  # customer keys per IN (...) list for an incremental rescore

_TIME = UtcDateTime()


@dataclass(frozen=True)
class _Dialect:
    """The two expressions whose SQL differs between SQLite and PostgreSQL."""

    epoch_days: Callable[[str], str]
    utc_day: Callable[[str], str]


_DIALECTS = {
    "sqlite": _Dialect(
        epoch_days=lambda t: f"(julianday({t}) - 2440587.5)",
        utc_day=lambda t: f"date({t})",
    ),
    "postgresql": _Dialect(
        epoch_days=lambda t: f"(CAST(EXTRACT(EPOCH FROM {t}) AS DOUBLE PRECISION) / 86400.0)",
        utc_day=lambda t: f"CAST({t} AT TIME ZONE 'UTC' AS DATE)",
    ),
}

_COUNTED = "NOT o.is_test AND NOT o.cancelled AND o.status NOT IN ('voided', 'cancelled')"


def _order_filter(window: _Window, keys: bool) -> str:
    where = f"o.created_at <= :as_of AND {_COUNTED}"
    if window.orders_after is not None:
        where += " AND o.created_at > :after"
    return where + (" AND o.customer_key IN :keys" if keys else "")


@dataclass(frozen=True)
class _Window:
    as_of: datetime
    orders_after: datetime | None


def _queries(d: _Dialect, w: _Window, keys: bool) -> dict[str, str]:
    """SQL per fact source; every query's first column is the customer key."""
    in_keys = " AND customer_key IN :keys" if keys else ""
    orders = _order_filter(w, keys)
    refunded = (
        "COALESCE(r.dated, 0) + CASE WHEN o.updated_at <= :as_of AND o.refunded_base > COALESCE(r.total, 0)"
        " THEN o.refunded_base - COALESCE(r.total, 0) ELSE 0 END"
    )
    return {
        "orders": f"""
            SELECT customer_key, COUNT(*), COUNT(DISTINCT {d.utc_day("created_at")}),
                   {d.epoch_days("MIN(created_at)")}, {d.epoch_days("MAX(created_at)")},
                   CAST(SUM(total) AS DOUBLE PRECISION), CAST(SUM(refunded) AS DOUBLE PRECISION),
                   SUM(CASE WHEN refunded > 0 THEN 1 ELSE 0 END),
                   CAST(SUM(discount) AS DOUBLE PRECISION), SUM(CASE WHEN discount > 0 THEN 1 ELSE 0 END),
                   SUM(depth), MIN(depth)
            FROM (
                SELECT o.customer_key, o.created_at, o.gross_base - o.discount_base AS total,
                       o.discount_base AS discount, {refunded} AS refunded,
                       CASE WHEN o.gross_base > 0
                            THEN CAST(o.discount_base AS DOUBLE PRECISION) / CAST(o.gross_base AS DOUBLE PRECISION)
                            ELSE 0.0 END AS depth
                FROM orders o LEFT JOIN (
                    SELECT shop, order_id, SUM(CASE WHEN created_at <= :as_of THEN amount_base ELSE 0 END) AS dated,
                           SUM(amount_base) AS total
                    FROM refunds WHERE 1 = 1{in_keys} GROUP BY shop, order_id
                ) r ON r.shop = o.shop AND r.order_id = o.order_id
                WHERE {orders}
            ) counted
            GROUP BY customer_key""",
        "tickets": f"""
            SELECT customer_key, COUNT(*) FROM support_tickets
            WHERE created_at <= :as_of{in_keys} GROUP BY customer_key""",
        "checkouts": f"""
            SELECT customer_key, {d.epoch_days("MAX(created_at)")} FROM checkouts
            WHERE created_at <= :as_of AND (completed_at IS NULL OR completed_at > :as_of){in_keys}
            GROUP BY customer_key""",
        "top_category": f"""
            SELECT customer_key, product_type FROM (
                SELECT o.customer_key, l.product_type, ROW_NUMBER() OVER (
                    PARTITION BY o.customer_key ORDER BY SUM(l.quantity) DESC, l.product_type) AS pick
                FROM orders o JOIN order_lines l ON l.order_pk = o.id
                WHERE {orders} AND l.product_type IS NOT NULL AND l.product_type <> ''
                GROUP BY o.customer_key, l.product_type
            ) ranked WHERE pick = 1""",
        "channel": _first_channel_sql(d, orders),
    }


def _first_channel_sql(d: _Dialect, orders: str) -> str:
    """The acquisition channel: the first counted order's referral, else its sales channel."""
    channel = "COALESCE(o.referral, o.channel, '')"
    if d is _DIALECTS["sqlite"]:
        # SQLite documents that bare columns of a MIN() aggregate come from the row holding the minimum.
        return f"SELECT o.customer_key, {channel}, MIN(o.created_at) FROM orders o WHERE {orders} GROUP BY o.customer_key"
    return (
        f"SELECT DISTINCT ON (o.customer_key) o.customer_key, {channel} FROM orders o WHERE {orders} "
        "ORDER BY o.customer_key, o.created_at, o.id"
    )


_CUSTOMERS = """
    SELECT customer_key, COALESCE(country, ''),
           CASE WHEN accepts_email_marketing THEN 1 ELSE 0 END,
           CASE WHEN accepts_sms_marketing THEN 1 ELSE 0 END
    FROM customers"""

# Query -> the aggregate columns its value columns fill, in SELECT order after the key.
_TARGETS: dict[str, tuple[str, ...]] = {
    "orders": (
        "n_orders",
        "order_days",
        "first_order_at",
        "last_order_at",
        "gross_total",
        "refunded_total",
        "refunded_orders",
        "discount_total",
        "discounted_orders",
        "discount_depth_sum",
        "discount_depth_min",
    ),
    "tickets": ("tickets",),
    "checkouts": ("last_abandoned_checkout_at",),
    "top_category": ("top_category",),
    "channel": ("channel",),
}
_NAN_COLUMNS = ("first_order_at", "last_order_at", "discount_depth_min", "last_abandoned_checkout_at")


def _rows(session: Session, sql: str, params: dict[str, Any], keys: bool) -> Iterator[list[Any]]:
    """Stream a query's rows in chunks (a server-side cursor on PostgreSQL)."""
    stmt = text(sql).bindparams(bindparam("as_of", type_=_TIME))
    if ":after" in sql:
        stmt = stmt.bindparams(bindparam("after", type_=_TIME))
    if keys:  # a batch of at most KEY_BATCH customers: no need to stream
        stmt = stmt.bindparams(bindparam("keys", expanding=True))
        yield list(session.execute(stmt, params))
        return
    result = session.execute(stmt, params, execution_options={"yield_per": CHUNK_ROWS})
    for part in result.partitions(CHUNK_ROWS):
        yield list(part)


def byte_keys(keys: Sequence[str]) -> npt.NDArray[Any]:
    """Fixed-width byte strings: searchsorted on them runs in C (customer keys are hex)."""
    try:
        return np.array(keys, dtype="S")
    except UnicodeEncodeError:  # not a hash: fall back to unicode (4 bytes a character)
        return np.array(keys, dtype="U")


class _Columns:
    """Preallocated aggregate columns for a known, sorted set of customers."""

    def __init__(self, keys: npt.NDArray[np.object_], country: Any, email: Any, sms: Any) -> None:
        wide = byte_keys(keys.tolist())
        order = np.argsort(wide, kind="stable")
        self.sorted = wide[order]
        n = len(keys)
        self.data: dict[str, npt.NDArray[Any]] = {
            "customer_key": keys[order],
            "country": country[order],
            "accepts_email": email[order].astype(bool),
            "accepts_sms": sms[order].astype(bool),
            "channel": np.full(n, "", dtype=object),
            "top_category": np.full(n, "", dtype=object),
        }
        for query, names in _TARGETS.items():
            for name in names:
                if name not in self.data:
                    self.data[name] = np.full(n, np.nan) if name in _NAN_COLUMNS else np.zeros(n)

    def scatter(self, query: str, rows: list[Any]) -> None:
        """Put one chunk of a query's rows at their customers' positions."""
        if not rows or len(self.sorted) == 0:
            return
        columns = list(zip(*rows, strict=False))
        wanted = byte_keys(columns[0])
        pos = np.minimum(np.searchsorted(self.sorted, wanted), len(self.sorted) - 1)
        known = self.sorted[pos] == wanted  # a customer created after the customers query: skipped
        pos = pos[known]
        for name, values in zip(_TARGETS[query], columns[1:], strict=False):
            target = self.data[name]
            array = np.array(values, dtype=target.dtype)
            target[pos] = array[known]

    def build(self) -> CustomerAggregates:
        """The finished aggregates, one row per customer, sorted by key."""
        return CustomerAggregates.from_columns(self.data)


def _customers(session: Session, params: dict[str, Any], keys: bool) -> _Columns:
    sql = _CUSTOMERS + (" WHERE customer_key IN :keys" if keys else "")
    stmt = text(sql).bindparams(bindparam("keys", expanding=True)) if keys else text(sql)
    parts: list[tuple[Any, ...]] = []
    result = session.execute(stmt, params, execution_options={"yield_per": CHUNK_ROWS})
    for part in result.partitions(CHUNK_ROWS):
        cols = list(zip(*part, strict=True))
        parts.append(
            (
                np.array(cols[0], dtype=object),
                np.array(cols[1], dtype=object),
                np.array(cols[2], dtype=np.int8),
                np.array(cols[3], dtype=np.int8),
            )
        )
    if not parts:
        empty = np.array([], dtype=object)
        return _Columns(empty, empty, np.array([], dtype=np.int8), np.array([], dtype=np.int8))
    key, country, email, sms = (np.concatenate(c) for c in zip(*parts, strict=True))
    return _Columns(key, country, email, sms)


def _load(session: Session, window: _Window, keys: list[str] | None) -> CustomerAggregates:
    dialect = _DIALECTS[session.get_bind().dialect.name]
    params: dict[str, Any] = {"as_of": window.as_of, "after": window.orders_after}
    if keys is not None:
        params["keys"] = keys
    if dialect is _DIALECTS["postgresql"] and keys is None:
        # Streaming uses a server-side cursor, which PostgreSQL plans for the first 10% of rows
        # by default (nested loops); every row is wanted, so plan for all of them.
        session.execute(text("SET LOCAL cursor_tuple_fraction = 1.0"))
    columns = _customers(session, params, keys is not None)
    for query, sql in _queries(dialect, window, keys is not None).items():
        for rows in _rows(session, sql, params, keys is not None):
            columns.scatter(query, rows)
    return columns.build()


def load_aggregates(
    session: Session,
    as_of: datetime,
    *,
    keys: Sequence[str] | None = None,
    orders_after: datetime | None = None,
) -> CustomerAggregates:
    """Aggregates of every customer (or of ``keys``) from facts up to ``as_of``, sorted by key.

    ``orders_after`` keeps only orders created after it (a backtest's holdout period); refunds
    of those orders still count up to ``as_of``. Unknown keys are simply absent.
    """
    window = _Window(as_of, orders_after)
    if keys is None:
        return _load(session, window, None)
    unique = sorted(set(keys))
    parts = [_load(session, window, unique[i : i + KEY_BATCH]) for i in range(0, len(unique), KEY_BATCH)]
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
