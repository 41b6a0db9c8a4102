"""Per-customer aggregates: the scorer's only input, one numpy column per SQL GROUP BY result.

Each column is something a single GROUP BY over orders, refunds, tickets and checkouts yields
cheaply (COUNT, SUM, MIN, MAX), so a full rescore is one aggregation query and no per-order Python.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
BoolArray = npt.NDArray[np.bool_]
ObjectArray = npt.NDArray[np.object_]

_EPOCH = np.datetime64("1970-01-01T00:00:00", "us")

#: Recent windows (days before ``as_of``) with their own order counts and spend, for the learned
#: value model: what a customer did lately says more about next year than their whole history.
WINDOWS = (30, 90, 180, 365)
_US_PER_DAY = 86_400_000_000


def epoch_days(moment: date | datetime | np.datetime64) -> float:
    """Days since 1970-01-01 UTC; a ``date`` means the end of that day (facts up to and on it)."""
    if isinstance(moment, np.datetime64):
        return float((moment.astype("datetime64[us]") - _EPOCH).astype(np.int64)) / _US_PER_DAY
    if isinstance(moment, datetime):
        aware = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
        return aware.timestamp() / 86_400
    return float(moment.toordinal() - date(1970, 1, 1).toordinal() + 1)


def _days(column: Any) -> FloatArray:
    """Epoch days from floats or datetime64 (NaT becomes NaN)."""
    raw = np.asarray(column)
    if np.issubdtype(raw.dtype, np.datetime64):
        micros = raw.astype("datetime64[us]")
        out = (micros - _EPOCH).astype(np.int64) / _US_PER_DAY
        out[np.isnat(micros)] = np.nan
        return out.astype(np.float64)
    return raw.astype(np.float64)


_FLOAT = "float"
_INT = "int"
_BOOL = "bool"
_TEXT = "text"
_DAYS = "days"


@dataclass(frozen=True)
class CustomerAggregates:
    """One row per customer, all money in the shop's base currency as float.

    Money is ``Decimal`` in the database; the aggregation query converts each SUM to float at
    this boundary (float64 keeps cents exact up to ~10^13, ample for per-customer totals).
    Times are epoch days (float, UTC; SQLite ``julianday(t) - 2440587.5``, PostgreSQL
    ``extract(epoch from t) / 86400``); NaN means "never". Only facts up to ``as_of`` belong here.

    Columns and the SQL that yields them:
      customer_key: str, the customer key.
      n_orders: COUNT(orders).
      order_days: COUNT(DISTINCT order date); BG/NBD counts repeat purchase days, like the paper.
      first_order_at, last_order_at: MIN / MAX(order placed at).
      gross_total: SUM(order total after discounts, before refunds).
      refunded_total: SUM(refund amounts).
      refunded_orders: COUNT(DISTINCT orders with a refund).
      first_order_total: the first order's gross (after discounts); NaN without orders or when
        unknown. Gamma-Gamma fits the mean of the *repeat* orders, (gross_total - this) / (n - 1).
      discount_total: SUM(order discount amount).
      discounted_orders: COUNT(orders with a discount > 0).
      discount_depth_sum: SUM(discount / (total + discount)) per order, 0 for full-price orders.
      discount_depth_min: MIN(the same depth); NaN without orders. ">= 0.4" = "only buys at 40%+".
      tickets: COUNT(support tickets).
      orders_<w>d, spend_<w>d for w in WINDOWS: COUNT / SUM(gross after discounts) of the orders
        placed in the last w days before ``as_of``; NaN when not aggregated.
      last_abandoned_checkout_at: MAX(checkout created at) over checkouts that never became an
        order; NaN when none.
      accepts_email, accepts_sms: latest marketing consent flags.
      country, channel, top_category: latest country, acquisition channel, most-bought category
        ("" when unknown); carried through for reports and audiences, not used by the rules.
    """

    customer_key: ObjectArray
    n_orders: IntArray
    order_days: IntArray
    first_order_at: FloatArray
    last_order_at: FloatArray
    gross_total: FloatArray
    first_order_total: FloatArray
    refunded_total: FloatArray
    refunded_orders: IntArray
    discount_total: FloatArray
    discounted_orders: IntArray
    discount_depth_sum: FloatArray
    discount_depth_min: FloatArray
    tickets: IntArray
    orders_30d: FloatArray
    orders_90d: FloatArray
    orders_180d: FloatArray
    orders_365d: FloatArray
    spend_30d: FloatArray
    spend_90d: FloatArray
    spend_180d: FloatArray
    spend_365d: FloatArray
    last_abandoned_checkout_at: FloatArray
    accepts_email: BoolArray
    accepts_sms: BoolArray
    country: ObjectArray
    channel: ObjectArray
    top_category: ObjectArray

    def __post_init__(self) -> None:
        """Reject ragged or mistyped columns at the boundary rather than deep in the maths."""
        n = len(self.customer_key)
        for f in fields(self):
            column = getattr(self, f.name)
            if not isinstance(column, np.ndarray) or column.ndim != 1:
                raise ValueError(f"{f.name}: expected a 1-D numpy array")
            if len(column) != n:
                raise ValueError(f"{f.name}: {len(column)} rows, customer_key has {n}")
            kind = _KINDS[f.name]
            if np.dtype(column.dtype) != _DTYPES[kind]:
                raise ValueError(f"{f.name}: dtype {column.dtype}, expected {_DTYPES[kind]}")

    def __len__(self) -> int:
        """Number of customers."""
        return len(self.customer_key)

    @classmethod
    def from_columns(cls, columns: Mapping[str, Any]) -> CustomerAggregates:
        """Build from any array-likes, casting dtypes; absent optional columns get neutral values.

        Only ``customer_key``, ``n_orders``, ``first_order_at``, ``last_order_at`` and
        ``gross_total`` are required; ``order_days`` defaults to ``n_orders``. Time columns may
        be datetime64 or epoch days.
        """
        unknown = set(columns) - set(_KINDS)
        if unknown:
            raise ValueError(f"unknown aggregate columns: {', '.join(sorted(unknown))}")
        missing = {"customer_key", "n_orders", "first_order_at", "last_order_at", "gross_total"}
        missing -= set(columns)
        if missing:
            raise ValueError(f"missing aggregate columns: {', '.join(sorted(missing))}")
        n = len(columns["customer_key"])
        defaults: dict[str, Any] = {
            "order_days": columns["n_orders"],
            "discount_depth_min": np.where(np.asarray(columns["n_orders"]) > 0, 0.0, np.nan),
            "last_abandoned_checkout_at": np.full(n, np.nan),
            "first_order_total": np.full(n, np.nan),
            **{f"{kind}_{w}d": np.full(n, np.nan) for kind in ("orders", "spend") for w in WINDOWS},
            "country": np.full(n, "", dtype=object),
            "channel": np.full(n, "", dtype=object),
            "top_category": np.full(n, "", dtype=object),
        }
        built: dict[str, Any] = {}
        for name, kind in _KINDS.items():
            raw = columns.get(name, defaults.get(name))
            if raw is None:
                raw = np.zeros(n, dtype=_DTYPES[kind])
            built[name] = _cast(raw, kind)
        return cls(**built)

    def take(self, rows: npt.NDArray[np.intp] | BoolArray) -> CustomerAggregates:
        """The customers at ``rows`` (indices or a mask), e.g. a fitting sample."""
        return CustomerAggregates(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def aligned(self, keys: ObjectArray) -> CustomerAggregates:
        """These aggregates in the row order of ``keys``; a key absent here gets a row with no facts
        (a customer created between two reads of the store)."""
        if np.array_equal(self.customer_key, keys):
            return self
        index = {key: i for i, key in enumerate(self.customer_key.tolist())}
        none = CustomerAggregates.from_columns(
            {"customer_key": [""], "n_orders": [0], "first_order_at": [np.nan], "last_order_at": [np.nan],
             "gross_total": [0.0]}
        )  # fmt: skip
        padded = _concat(self, none)
        rows = np.array([index.get(k, len(self)) for k in keys.tolist()], dtype=np.intp)
        out = padded.take(rows)
        return CustomerAggregates(
            **{**{f.name: getattr(out, f.name) for f in fields(out)}, "customer_key": keys}
        )


def _concat(a: CustomerAggregates, b: CustomerAggregates) -> CustomerAggregates:
    return CustomerAggregates(
        **{f.name: np.concatenate([getattr(a, f.name), getattr(b, f.name)]) for f in fields(a)}
    )


def _cast(raw: Any, kind: str) -> npt.NDArray[Any]:
    if kind == _DAYS:
        return _days(raw)
    if kind == _TEXT:
        return np.asarray(raw, dtype=object)
    return np.asarray(raw).astype(_DTYPES[kind])


_DTYPES = {
    _FLOAT: np.dtype(np.float64),
    _DAYS: np.dtype(np.float64),
    _INT: np.dtype(np.int64),
    _BOOL: np.dtype(np.bool_),
    _TEXT: np.dtype(object),
}
_KINDS = {
    "customer_key": _TEXT,
    "n_orders": _INT,
    "order_days": _INT,
    "first_order_at": _DAYS,
    "last_order_at": _DAYS,
    "gross_total": _FLOAT,
    "first_order_total": _FLOAT,
    "refunded_total": _FLOAT,
    "refunded_orders": _INT,
    "discount_total": _FLOAT,
    "discounted_orders": _INT,
    "discount_depth_sum": _FLOAT,
    "discount_depth_min": _FLOAT,
    "tickets": _INT,
    **{f"{kind}_{w}d": _FLOAT for kind in ("orders", "spend") for w in WINDOWS},
    "last_abandoned_checkout_at": _DAYS,
    "accepts_email": _BOOL,
    "accepts_sms": _BOOL,
    "country": _TEXT,
    "channel": _TEXT,
    "top_category": _TEXT,
}
