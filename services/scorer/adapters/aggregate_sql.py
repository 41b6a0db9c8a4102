"""The GROUP BY queries behind ``CustomerAggregates``, written once for SQLite and PostgreSQL.

Every query returns one row per customer, first column the customer key. They are assembled
from this module's constant fragments only; every value travels as a bound parameter
(``:as_of``, ``:after``, ``:keys``), hence the S608 waivers below.

Cost notes (5,000,000 orders): one pass over ``orders`` is the unit of cost, and each
expression evaluated per order adds to it, so the orders query computes what it can in one
pass: on SQLite also the acquisition channel (the minimum of "timestamp text || channel" is the
first order's channel). PostgreSQL finds the first order's channel with ``DISTINCT ON`` instead
(formatting timestamps as text costs more there). Dated refunds come from the much smaller
``refunds`` table; the refunded amounts orders report without refund records have a pass of
their own over the orders with refunds only: inside the orders pass, the lookup's key columns
rode through the GROUP BY's sort with every order (SQLite, 5,000,000 orders: 13.4-14.6 s
instead of 11.1-11.9 s; the pass of its own: 1.6 s, in a lighter lane). SQLite scans ``orders`` in table
order and sorts (``NOT INDEXED``): walking the customer index with a lookup per order is 4x
slower on a table larger than the page cache.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from services.scorer.domain.aggregates import WINDOWS


@dataclass(frozen=True)
class Dialect:
    """The expressions whose SQL differs between SQLite and PostgreSQL."""

    name: str
    epoch_days: Callable[[str], str]  # a timestamp expression -> epoch days (double)
    utc_day: Callable[[str], str]  # -> the UTC calendar day, comparable
    stamp_width: int  # stored timestamp text that sorts like the time: its width (0: none)
    full_scan: str  # table hint for the whole-shop orders pass
    lines_join: str  # the whole shop's orders with their lines, in the order the engine should take
    few_lines_join: str  # a few customers' (or a sample's) orders, then each order's lines by its key


SQLITE = Dialect(
    name="sqlite",
    # SQLite stores these UTC datetimes as naive ISO text, 'YYYY-MM-DD HH:MM:SS.ffffff'.
    epoch_days=lambda t: f"(julianday({t}) - 2440587.5)",
    utc_day=lambda t: f"substr({t}, 1, 10)",
    stamp_width=26,
    full_scan=" NOT INDEXED",
    # CROSS JOIN fixes SQLite's join order: lines in table order, each order by its rowid
    # (24 s instead of 39 s on 5 million lines, where orders first looks each order's lines up).
    lines_join="order_lines l CROSS JOIN orders o ON o.id = l.order_pk",
    few_lines_join="orders o JOIN order_lines l ON l.order_pk = o.id",  # SQLite picks this order itself
)
POSTGRESQL = Dialect(
    name="postgresql",
    epoch_days=lambda t: f"(CAST(EXTRACT(EPOCH FROM {t}) AS DOUBLE PRECISION) / 86400.0)",
    utc_day=lambda t: f"CAST({t} AT TIME ZONE 'UTC' AS DATE)",
    stamp_width=0,  # formatting 5 million timestamps costs more than a DISTINCT ON pass
    full_scan="",
    lines_join="orders o JOIN order_lines l ON l.order_pk = o.id",
    # A sample's orders, each one's lines through the lines' primary key. Left to itself the
    # planner hashes the sample's orders and scans every line of the shop (10% sample at
    # 1,000,000 customers: 2.6 s, three processes busy 1.7 s each); ``OFFSET 0`` keeps the
    # lateral subquery from being flattened into that join: 1.4 s in one process, same rows.
    few_lines_join=(
        "orders o CROSS JOIN LATERAL (SELECT l.product_type, l.quantity FROM order_lines l"
        " WHERE l.order_pk = o.id OFFSET 0) l"
    ),
)
DIALECTS = {d.name: d for d in (SQLITE, POSTGRESQL)}

CHANNEL = "COALESCE(o.referral, o.channel, '')"  # what brought the buyer, else where they bought
COUNTED = "NOT o.is_test AND NOT o.cancelled AND o.status NOT IN ('voided', 'cancelled')"
_MONEY = "CAST({} AS DOUBLE PRECISION)"

# Value columns of each query after the customer key, as ``CustomerAggregates`` (or helper) names.
TARGETS: dict[str, tuple[str, ...]] = {
    "orders": (
        "n_orders",
        "order_days",
        "first_order_at",
        "last_order_at",
        "gross_total",
        "discount_total",
        "discounted_orders",
        "discount_depth_sum",
        "discount_depth_min",
        *(f"orders_{w}d" for w in WINDOWS),
        *(f"spend_{w}d" for w in WINDOWS),
        "channel",  # SQLite only; PostgreSQL has the "channel" query
        "first_order_total",  # SQLite only, likewise
    ),
    "channel": ("channel", "first_order_total"),
    "refunds": ("refunded_total", "refunded_orders"),
    "undated": ("undated_refunds", "undated_refunded_orders"),
    "tickets": ("tickets",),
    "checkouts": ("last_abandoned_checkout_at",),
    "top_category": ("top_category",),
}


def order_filter(after: bool, keys: bool, below: bool = False) -> str:
    """Which orders count: placed by ``:as_of`` (and after ``:after``), not test or cancelled.

    ``below``: only customers whose key sorts before ``:key_below`` (keys are hashes, so that is
    a uniform sample, read with one comparison per order).
    """
    where = f"o.created_at <= :as_of AND {COUNTED}"
    if after:
        where += " AND o.created_at > :after"
    if below:
        where += " AND o.customer_key < :key_below"
    return where + (" AND o.customer_key IN :keys" if keys else "")


def orders_sql(d: Dialect, *, after: bool, keys: bool, below: bool = False) -> str:
    """Counts, money, discounts and the first order's channel per customer."""
    gross, discount = _MONEY.format("o.gross_base"), _MONEY.format("o.discount_base")
    depth = f"CASE WHEN o.gross_base > 0 THEN {discount} / {gross} ELSE 0.0 END"
    # SQLite's timestamp text sorts like the time: the smallest "time || channel" is the first order's.
    first = f"MIN(o.created_at || {CHANNEL})"
    # ...and the smallest "time || value" carries the first order's value (Gamma-Gamma's repeat
    # orders are the others), in 1/10,000 units as an integer: formatting a float as text per
    # order doubled the cost of the whole pass on SQLite, an integer costs next to nothing.
    first_total = f"MIN(o.created_at || CAST(({gross} - {discount}) * 10000 + 0.5 AS INTEGER))"
    channel = (
        f",\n               substr({first}, {d.stamp_width + 1}),"
        f" CAST(substr({first_total}, {d.stamp_width + 1}) AS INTEGER) / 10000.0"
        if d.stamp_width
        else ""
    )
    scan = "" if keys or below else d.full_scan  # a sample's orders through the key index
    # Orders and spend of the recent windows (``:since_<w>`` = as_of - w days, bound like as_of).
    counts = [f"SUM(CASE WHEN o.created_at > :since_{w} THEN 1 ELSE 0 END)" for w in WINDOWS]
    spends = [
        f"SUM(CASE WHEN o.created_at > :since_{w} THEN {gross} - {discount} ELSE 0.0 END)" for w in WINDOWS
    ]
    recent = ", ".join(counts + spends)
    return f"""
        SELECT o.customer_key, COUNT(*), COUNT(DISTINCT {d.utc_day("o.created_at")}),
               {d.epoch_days("MIN(o.created_at)")}, {d.epoch_days("MAX(o.created_at)")},
               SUM({gross} - {discount}), SUM({discount}),
               SUM(CASE WHEN o.discount_base > 0 THEN 1 ELSE 0 END), SUM({depth}), MIN({depth}),
               {recent}{channel}
        FROM orders o{scan} WHERE {order_filter(after, keys, below)}
        GROUP BY o.customer_key"""  # noqa: S608


def undated_sql(d: Dialect, *, after: bool, keys: bool, below: bool = False) -> str:
    """Refunded amounts orders report beyond their refund records (generic CSV imports), counted
    from the order version that reported them, and how many orders report some."""
    recorded = (
        "(SELECT COALESCE(SUM(r.amount_base), 0) FROM refunds r"
        " WHERE r.shop = o.shop AND r.order_id = o.order_id)"
    )
    scan = "" if keys or below else d.full_scan
    # Added up as stored (exact decimals on PostgreSQL), then cast once per customer: a sum of
    # floats depends on the order the rows arrive in.
    return f"""
        SELECT o.customer_key, {_MONEY.format("SUM(o.undated)")},
               SUM(CASE WHEN o.undated > 0 THEN 1 ELSE 0 END)
        FROM (SELECT o.customer_key, o.refunded_base - {recorded} AS undated
              FROM orders o{scan}
              WHERE o.refunded_base > 0 AND o.updated_at <= :as_of AND {order_filter(after, keys, below)}) o
        GROUP BY o.customer_key"""  # noqa: S608


def other_sql(d: Dialect, *, after: bool, keys: bool, below: bool = False) -> dict[str, str]:
    """The other queries: dated and undated refunds, tickets, abandoned checkouts, top category,
    channel."""
    in_keys = (" AND customer_key IN :keys" if keys else "") + (
        " AND customer_key < :key_below" if below else ""
    )
    counted = order_filter(after, keys, below)
    queries = {
        "undated": undated_sql(d, after=after, keys=keys, below=below),
        "refunds": f"""
            SELECT o.customer_key, {_MONEY.format("SUM(r.amount_base)")}, COUNT(DISTINCT r.order_id)
            FROM refunds r JOIN orders o ON o.shop = r.shop AND o.order_id = r.order_id
            WHERE r.created_at <= :as_of AND {counted} GROUP BY o.customer_key""",  # noqa: S608
        "tickets": f"""
            SELECT customer_key, COUNT(*) FROM support_tickets
            WHERE created_at <= :as_of{in_keys} GROUP BY customer_key""",  # noqa: S608
        "checkouts": f"""
            SELECT customer_key, {d.epoch_days("MAX(created_at)")} FROM checkouts
            WHERE created_at <= :as_of AND (completed_at IS NULL OR completed_at > :as_of){in_keys}
            GROUP BY customer_key""",  # noqa: S608
        "top_category": f"""
            SELECT customer_key, product_type FROM (
                SELECT o.customer_key, l.product_type, ROW_NUMBER() OVER (
                    PARTITION BY o.customer_key ORDER BY SUM(l.quantity) DESC, l.product_type) AS pick
                FROM {d.few_lines_join if keys or below else d.lines_join}
                WHERE {counted} AND l.product_type IS NOT NULL AND l.product_type <> ''
                GROUP BY o.customer_key, l.product_type
            ) ranked WHERE pick = 1""",  # noqa: S608
    }
    if not d.stamp_width:
        queries["channel"] = f"""
            SELECT DISTINCT ON (o.customer_key) o.customer_key, {CHANNEL},
                   {_MONEY.format("o.gross_base - o.discount_base")} FROM orders o WHERE {counted}
            ORDER BY o.customer_key, o.created_at, o.id"""  # noqa: S608
    return queries


CUSTOMERS = """
    SELECT customer_key, COALESCE(country, ''),
           CASE WHEN accepts_email_marketing THEN 1 ELSE 0 END,
           CASE WHEN accepts_sms_marketing THEN 1 ELSE 0 END
    FROM customers"""
