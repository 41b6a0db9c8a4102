"""Per-customer features from the aggregates, vectorized: what the rules and the model read.

Ratios that need an order (AOV, return rates, discount shares) are NaN for customers without
one; rule conditions treat NaN as "does not match" and percentiles skip it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from services.scorer.domain.aggregates import CustomerAggregates

FloatArray = npt.NDArray[np.float64]
ObjectArray = npt.NDArray[np.object_]
BoolArray = npt.NDArray[np.bool_]

DAYS_PER_YEAR = 365.25


def _ratio(num: npt.ArrayLike, den: npt.ArrayLike) -> FloatArray:
    """num / den where den > 0, else NaN, without a RuntimeWarning."""
    num_a = np.asarray(num, dtype=np.float64)
    den_a = np.asarray(den, dtype=np.float64)
    out = np.full(np.broadcast(num_a, den_a).shape, np.nan)
    np.divide(num_a, den_a, out=out, where=den_a > 0)
    return out


@dataclass(frozen=True)
class CustomerFeatures:
    """Columnar features, one row per customer, in the aggregates' order.

    Money is in the base currency; rates are fractions (0.2 = 20%); times are days.
      orders: orders placed. order_days: distinct days with an order.
      aov: gross order value (after discounts, before refunds) per order.
      repeat_aov: the same over the repeat orders only (all but the first), NaN under two orders;
        the customer's AOV when the first order's value is unknown. Gamma-Gamma's monetary value.
      ltv: historical spend net of refunds.
      orders_per_year: orders / active span (first to last order), span floored at
        ``frequency_floor_days`` so a new or one-time customer is not extrapolated.
      return_rate: refunded / gross value. return_rate_orders: share of orders with a refund.
      discount_share: share of orders with a discount. full_price_share: 1 - discount_share.
      mean_discount_depth: mean fraction off per order (full-price orders count as 0).
      min_discount_depth: smallest fraction off on any order (>= 0.4: only buys at 40%+ off).
      tickets, tickets_per_order: support load.
      recency_days: as_of - last order. tenure_days: as_of - first order.
      span_days: last - first order. first_order_at, last_order_at: epoch days.
      Pass-through for reports: country, channel, top_category, accepts_email, accepts_sms.
    """

    as_of: float
    orders: FloatArray
    order_days: FloatArray
    aov: FloatArray
    repeat_aov: FloatArray
    gross_total: FloatArray
    ltv: FloatArray
    orders_per_year: FloatArray
    return_rate: FloatArray
    return_rate_orders: FloatArray
    discount_share: FloatArray
    full_price_share: FloatArray
    mean_discount_depth: FloatArray
    min_discount_depth: FloatArray
    tickets: FloatArray
    tickets_per_order: FloatArray
    recency_days: FloatArray
    tenure_days: FloatArray
    span_days: FloatArray
    first_order_at: FloatArray
    last_order_at: FloatArray
    last_abandoned_checkout_at: FloatArray
    country: ObjectArray
    channel: ObjectArray
    top_category: ObjectArray
    accepts_email: BoolArray
    accepts_sms: BoolArray

    @property
    def buyers(self) -> BoolArray:
        """Customers with at least one order: the population percentiles are taken over."""
        mask: BoolArray = self.orders > 0
        return mask


def compute_features(
    agg: CustomerAggregates, as_of: float, *, frequency_floor_days: float = 365.0
) -> CustomerFeatures:
    """Features as of epoch day ``as_of`` (facts after it must already be excluded)."""
    orders = agg.n_orders.astype(np.float64)
    has = orders > 0
    first = np.where(has, agg.first_order_at, np.nan)
    last = np.where(has, agg.last_order_at, np.nan)
    # Clock skew or facts stamped a moment after as_of must not give negative ages.
    tenure = np.where(has, np.maximum(as_of - np.fmin(first, as_of), 0.0), np.nan)
    recency = np.where(has, np.maximum(as_of - np.fmin(last, as_of), 0.0), np.nan)
    span = np.where(has, np.clip(np.fmin(last, as_of) - first, 0.0, None), np.nan)
    with np.errstate(invalid="ignore"):
        active = np.maximum(span, frequency_floor_days)
    gross = agg.gross_total
    ltv = gross - agg.refunded_total
    discount_share = _ratio(agg.discounted_orders, orders)
    aov = _ratio(gross, orders)
    first = agg.first_order_total
    repeat_aov = np.where(np.isfinite(first), _ratio(gross - np.nan_to_num(first), orders - 1), aov)
    return CustomerFeatures(
        as_of=float(as_of),
        orders=orders,
        order_days=np.minimum(agg.order_days, agg.n_orders).astype(np.float64),
        aov=aov,
        repeat_aov=np.where(orders >= 2, np.maximum(repeat_aov, 0.0), np.nan),
        gross_total=gross,
        ltv=ltv,
        orders_per_year=_ratio(orders * DAYS_PER_YEAR, np.where(has, active, 0.0)),
        # Rounded to 1e-9: 25.00 of 100.00 is exactly 0.25 in any currency, not 0.2500000001 in yen.
        return_rate=np.round(np.clip(_ratio(agg.refunded_total, gross), 0.0, 1.0), 9).astype(np.float64),
        return_rate_orders=_ratio(agg.refunded_orders, orders),
        discount_share=discount_share,
        full_price_share=1.0 - discount_share,
        mean_discount_depth=_ratio(agg.discount_depth_sum, orders),
        min_discount_depth=np.where(has, agg.discount_depth_min, np.nan),
        tickets=agg.tickets.astype(np.float64),
        tickets_per_order=_ratio(agg.tickets, orders),
        recency_days=recency,
        tenure_days=tenure,
        span_days=span,
        first_order_at=first,
        last_order_at=last,
        last_abandoned_checkout_at=agg.last_abandoned_checkout_at,
        country=agg.country,
        channel=agg.channel,
        top_category=agg.top_category,
        accepts_email=agg.accepts_email,
        accepts_sms=agg.accepts_sms,
    )
