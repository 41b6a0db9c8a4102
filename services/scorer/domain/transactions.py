"""Aggregates from plain order arrays: public transaction logs (CDNOW) and generated histories.

The store aggregates in SQL (``adapters/aggregates``); a transaction log that never enters a
database (a research data set, a test's generated shop) gets the same columns here, by the same
definitions: orders placed by ``as_of`` count, money after discounts, refunds by ``as_of``.
"""

from __future__ import annotations

import gzip
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import numpy.typing as npt

from services.scorer.domain.aggregates import WINDOWS, CustomerAggregates, epoch_days

FloatArray = npt.NDArray[np.float64]


@dataclass(frozen=True)
class OrderLog:
    """One row per order. Times are epoch days; money in the base currency.

    total: the order's value after discounts. discount: its discount amount (0 for full price).
    refunded, refunded_at: what was refunded of it and when (NaN: never). tickets_at: support
    tickets, with their own customer index ``ticket_customer``.
    """

    customer: npt.NDArray[np.int64]  # index into ``keys``
    placed_at: FloatArray
    total: FloatArray
    discount: FloatArray
    refunded: FloatArray
    refunded_at: FloatArray
    keys: npt.NDArray[np.object_]
    ticket_customer: npt.NDArray[np.int64]
    tickets_at: FloatArray

    @classmethod
    def of(cls, keys: npt.ArrayLike, customer: npt.ArrayLike, placed_at: npt.ArrayLike,
           total: npt.ArrayLike) -> OrderLog:  # fmt: skip
        """Orders without discounts, refunds or tickets (e.g. CDNOW)."""
        n = len(np.asarray(total))
        nothing = np.array([], dtype=np.int64)
        return cls(np.asarray(customer, dtype=np.int64), np.asarray(placed_at, dtype=np.float64),
                   np.asarray(total, dtype=np.float64), np.zeros(n), np.zeros(n), np.full(n, np.nan),
                   np.asarray(keys, dtype=object), nothing, np.array([], dtype=np.float64))  # fmt: skip


def _sum(index: npt.NDArray[np.int64], weights: FloatArray | None, n: int) -> FloatArray:
    return np.bincount(index, weights=weights, minlength=n).astype(np.float64)


def aggregate_orders(log: OrderLog, as_of: float, *, orders_after: float | None = None) -> CustomerAggregates:
    """Every customer of ``log`` as of epoch day ``as_of`` (``orders_after``: a later period only)."""
    n = len(log.keys)
    keep = log.placed_at <= as_of
    if orders_after is not None:
        keep &= log.placed_at > orders_after
    c, t, total, discount = log.customer[keep], log.placed_at[keep], log.total[keep], log.discount[keep]
    refunded = np.where(np.nan_to_num(log.refunded_at[keep], nan=np.inf) <= as_of, log.refunded[keep], 0.0)
    orders = np.bincount(c, minlength=n)
    first, last = np.full(n, np.inf), np.full(n, -np.inf)
    np.minimum.at(first, c, t)
    np.maximum.at(last, c, t)
    # The first order's value: orders sorted by time, the first of each customer.
    order = np.lexsort((t, c))
    firsts = order[np.r_[True, c[order][1:] != c[order][:-1]]] if len(c) else order
    first_total = np.full(n, np.nan)
    first_total[c[firsts]] = total[firsts]
    days = np.unique(np.stack([c, np.floor(t)]), axis=1)[0].astype(np.int64) if len(c) else c
    depth = np.divide(discount, total + discount, out=np.zeros_like(total), where=(total + discount) > 0)
    depth_min = np.full(n, np.inf)
    np.minimum.at(depth_min, c, depth)
    columns: dict[str, object] = {
        "customer_key": log.keys,
        "n_orders": orders,
        "order_days": np.bincount(days, minlength=n),
        "first_order_at": np.where(orders > 0, first, np.nan),
        "last_order_at": np.where(orders > 0, last, np.nan),
        "gross_total": _sum(c, total, n),
        "first_order_total": first_total,
        "refunded_total": _sum(c, refunded, n),
        "refunded_orders": np.bincount(c[refunded > 0], minlength=n),
        "discount_total": _sum(c, discount, n),
        "discounted_orders": np.bincount(c[discount > 0], minlength=n),
        "discount_depth_sum": _sum(c, depth, n),
        "discount_depth_min": np.where(orders > 0, depth_min, np.nan),
        "tickets": np.bincount(log.ticket_customer[log.tickets_at <= as_of], minlength=n),
    }
    for w in WINDOWS:
        recent = t > as_of - w
        columns[f"orders_{w}d"] = _sum(c[recent], None, n)
        columns[f"spend_{w}d"] = _sum(c[recent], total[recent], n)
    return CustomerAggregates.from_columns(columns)


def net_revenue(log: OrderLog, after: float, until: float) -> FloatArray:
    """Per customer: orders placed in (after, until] net of their refunds by ``until``."""
    later = aggregate_orders(log, until, orders_after=after)
    return later.gross_total - later.refunded_total


def read_cdnow(path: Path) -> OrderLog:
    """A CDNOW log (``CDNOW_sample.txt``, ``CDNOW_master.txt[.gz]``): one line per purchase day,
    customer id first and (date YYYYMMDD, CDs, dollars) last; purchases at noon UTC."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rt") as handle:
        rows = [line.split() for line in handle if line.strip() and line.split()[0].isdigit()]
    day = [r[-3] for r in rows]
    when = np.array([epoch_days(date(int(d[:4]), int(d[4:6]), int(d[6:]))) - 0.5 for d in day])
    keys, customer = np.unique(np.array([r[0] for r in rows]), return_inverse=True)
    return OrderLog.of(keys.astype(object), customer, when, np.array([float(r[-1]) for r in rows]))
