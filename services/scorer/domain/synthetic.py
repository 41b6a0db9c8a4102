"""Synthetic shops drawn from the BG/NBD and Gamma-Gamma processes, for tests and the bench.

Purchases follow the models' own story (Poisson purchases while alive, dropout after each
repeat purchase, gamma-distributed order values), so a fit on a large synthetic shop should
recover the parameters it was drawn with. Discounts, refunds, tickets and abandoned checkouts
are simple per-customer propensities.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.bgnbd import BgNbdParams
from services.scorer.domain.gamma_gamma import GammaGammaParams

COUNTRIES = np.array(["US", "GB", "DE", "FR", "JP", "CA"], dtype=object)
CHANNELS = np.array(["organic", "paid_social", "search", "email", "referral"], dtype=object)
CATEGORIES = np.array(["apparel", "shoes", "accessories", "home", "beauty"], dtype=object)


TYPICAL_PURCHASES = BgNbdParams(r=0.6, alpha=12.0, a=0.8, b=2.5)  # ~2.6 orders a year at first
TYPICAL_SPEND = GammaGammaParams(p=6.0, q=4.0, v=30.0)  # mean order value 60


@dataclass(frozen=True)
class ShopShape:
    """Parameters of a synthetic shop (purchase times in weeks, money in the base currency)."""

    purchases: BgNbdParams = TYPICAL_PURCHASES
    spend: GammaGammaParams = TYPICAL_SPEND
    history_days: float = 3 * 365.0  # first orders spread over this many days before as_of
    non_buyer_share: float = 0.05  # contacts with an abandoned checkout and no order
    money_scale: float = 1.0  # e.g. 150 for a shop selling in yen


def _repeat_purchases(
    rng: np.random.Generator, rate: np.ndarray, dropout: np.ndarray, big_t: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Simulate (x, t_x) in weeks: Poisson purchases, dropout with prob ``dropout`` after each."""
    n = len(rate)
    x, t_x, clock = np.zeros(n), np.zeros(n), np.zeros(n)
    active = np.arange(n)
    while active.size:
        clock[active] += rng.exponential(1.0 / rate[active])
        bought = clock[active] <= big_t[active]
        buyers = active[bought]
        x[buyers] += 1
        t_x[buyers] = clock[buyers]
        alive = rng.random(buyers.size) >= dropout[buyers]
        active = buyers[alive]
    return x, t_x


def synthetic_shop(
    n: int, as_of: float, *, shape: ShopShape = ShopShape(), seed: int = 0
) -> CustomerAggregates:
    """``n`` customers as of epoch day ``as_of``, in the shape ``shape``."""
    rng = np.random.default_rng(seed)
    bg, gg = shape.purchases, shape.spend
    buyer = rng.random(n) >= shape.non_buyer_share
    first = as_of - rng.uniform(0.0, shape.history_days, n)
    big_t = (as_of - first) / 7.0
    rate = rng.gamma(bg.r, 1.0 / bg.alpha, n)
    dropout = rng.beta(bg.a, bg.b, n)
    x, t_x = _repeat_purchases(rng, np.maximum(rate, 1e-12), dropout, big_t)
    orders = np.where(buyer, x + 1, 0).astype(np.int64)
    nu = rng.gamma(gg.q, 1.0 / gg.v, n)
    # The first order and the repeat orders are drawn apart, so Gamma-Gamma's repeat-only input
    # is exactly the model's story.
    first_total = np.where(buyer, rng.gamma(gg.p, size=n) / nu, np.nan)
    repeat_total = np.where(x > 0, rng.gamma(gg.p * np.maximum(x, 1)) / nu, 0.0)
    first_total = np.round(first_total * shape.money_scale, 2)
    gross = np.where(buyer, first_total + np.round(repeat_total * shape.money_scale, 2), 0.0)

    discount_rate = rng.beta(0.6, 1.8, n)
    depth = rng.choice([0.10, 0.15, 0.20, 0.30, 0.40, 0.50], n)
    discounted = rng.binomial(orders, discount_rate)
    discount_total = np.round(gross * depth / (1 - depth) * discounted / np.maximum(orders, 1), 2)
    refund_rate = rng.beta(0.5, 6.0, n)
    refunded_orders = rng.binomial(orders, refund_rate)
    refunded_total = np.round(gross * refunded_orders / np.maximum(orders, 1), 2)
    abandoned = np.where(~buyer | (rng.random(n) < 0.1), as_of - rng.uniform(0, 60, n), np.nan)
    return CustomerAggregates.from_columns(
        {
            "customer_key": np.array([f"c{i:08d}" for i in range(n)], dtype=object),
            "n_orders": orders,
            "order_days": orders,
            "first_order_at": np.where(buyer, first, np.nan),
            "last_order_at": np.where(buyer, first + t_x * 7.0, np.nan),
            "gross_total": gross,
            "first_order_total": first_total,
            "refunded_total": refunded_total,
            "refunded_orders": refunded_orders,
            "discount_total": discount_total,
            "discounted_orders": discounted,
            "discount_depth_sum": discounted * depth,
            "discount_depth_min": np.where(orders == 0, np.nan, np.where(discounted == orders, depth, 0.0)),
            "tickets": rng.poisson(0.15 * orders),
            "last_abandoned_checkout_at": abandoned,
            "accepts_email": rng.random(n) < 0.6,
            "accepts_sms": rng.random(n) < 0.2,
            "country": rng.choice(COUNTRIES, n),
            "channel": rng.choice(CHANNELS, n),
            "top_category": rng.choice(CATEGORIES, n),
        }
    )
