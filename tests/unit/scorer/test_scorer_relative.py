"""The default profile adapts to the shop: tiny, huge and yen-sized order values label alike."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.scoring import ScoredCustomers, score
from services.scorer.domain.synthetic import ShopShape, synthetic_shop
from shared.definitions.scoring import DEFAULT_SCORING, load_scoring
from tests.unit.scorer.conftest import AS_OF

MONEY = ("gross_total", "first_order_total", "refunded_total", "discount_total")


def _scaled(agg: CustomerAggregates, factor: float) -> CustomerAggregates:
    return replace(agg, **{name: getattr(agg, name) * factor for name in MONEY})


@pytest.fixture(scope="module")
def shop() -> CustomerAggregates:
    return synthetic_shop(20_000, AS_OF, seed=7)


@pytest.fixture(scope="module")
def dollars(shop: CustomerAggregates) -> ScoredCustomers:
    return score(shop, DEFAULT_SCORING, AS_OF)


def _shares(scored: ScoredCustomers) -> dict[str, float]:
    return {lab: float(np.mean(scored.label == lab)) for lab in ("icp", "negative_icp", "neutral")}


def test_default_profile_gives_sensible_shares_in_dollars(dollars: ScoredCustomers) -> None:
    shares = _shares(dollars)
    assert 0.04 < shares["icp"] < 0.10  # top 10% of buyers by value, minus the guards
    assert 0.10 < shares["negative_icp"] < 0.35


@pytest.mark.parametrize(
    ("currency", "factor"),
    [("cents-sized shop", 1 / 64), ("luxury shop", 4096.0), ("JPY", 150.0), ("KRW", 1400.0)],
)
def test_relative_labels_do_not_depend_on_the_money_scale(
    shop: CustomerAggregates, dollars: ScoredCustomers, currency: str, factor: float
) -> None:
    scaled = score(_scaled(shop, factor), DEFAULT_SCORING, AS_OF)
    assert np.array_equal(scaled.label, dollars.label), currency
    np.testing.assert_allclose(scaled.value, dollars.value * factor, rtol=1e-6)
    aov_cut = scaled.calibration.cutoffs["aov:p10"]
    assert aov_cut == pytest.approx(dollars.calibration.cutoffs["aov:p10"] * factor)


def test_relative_reasons_carry_the_shops_own_currency_amounts(shop: CustomerAggregates) -> None:
    yen = score(_scaled(shop, 150.0), DEFAULT_SCORING, AS_OF)
    reason = next(r for r in yen.reasons.tolist() if r.startswith("aov="))
    value, cut = reason.removeprefix("aov=").split("<p10(")
    assert float(value) < float(cut.rstrip(")")) and float(cut.rstrip(")")) > 1000


def test_absolute_seed_rules_break_on_other_scales(
    shop: CustomerAggregates, dollars: ScoredCustomers
) -> None:
    """Why the default is relative: the seed's "AOV > 150" means nothing in yen or in cents."""
    seed = load_scoring({"profile": "seed"})
    buyers = np.asarray(shop.n_orders) > 0
    usd = score(shop, seed, AS_OF).label[buyers]
    yen = score(_scaled(shop, 150.0), seed, AS_OF).label[buyers]
    cents = score(_scaled(shop, 1 / 100), seed, AS_OF).label[buyers]
    assert np.mean(yen == "icp") > 20 * np.mean(usd == "icp")
    assert np.mean(cents == "negative_icp") > 0.99
    assert np.mean(dollars.label[buyers] == "icp") == pytest.approx(
        np.mean(score(_scaled(shop, 150.0), DEFAULT_SCORING, AS_OF).label[buyers] == "icp")
    )


def test_tiny_and_huge_shops_both_fill_every_label() -> None:
    for factor in (0.01, 1e6):
        agg = synthetic_shop(5_000, AS_OF, seed=3, shape=ShopShape(money_scale=factor))
        shares = _shares(score(agg, DEFAULT_SCORING, AS_OF))
        assert min(shares.values()) > 0.03, factor
