"""Invariants of scoring on arbitrary shops (hypothesis)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.scoring import score
from shared.definitions.scoring import DEFAULT_SCORING, STAGES, load_scoring
from tests.unit.scorer.conftest import AS_OF, build, customer_row

SEED = load_scoring({"profile": "seed"})
# Small shops would all take the historical-rate fallback; this one fits the models from five
# repeat buyers, so the maximum-likelihood paths meet odd shops too.
EAGER = replace(DEFAULT_SCORING, model=replace(DEFAULT_SCORING.model, min_repeat_buyers=5))
PROFILES = st.sampled_from([DEFAULT_SCORING, SEED, EAGER])
SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def a_customer(draw: st.DrawFn) -> dict[str, Any]:
    orders = draw(st.integers(0, 12))
    first = draw(st.floats(0, 1500))
    refunded_orders = draw(st.integers(0, orders))
    gross = draw(st.integers(0, 200_000)) / 100 * max(orders, 1)
    return customer_row(
        orders=orders,
        gross=gross,
        first_days_ago=first,
        last_days_ago=first * draw(st.floats(0, 1)) if orders > 1 else first,
        refunded=gross * draw(st.floats(0, 1)) if refunded_orders else 0.0,
        refunded_orders=refunded_orders,
        discounted_orders=(d := draw(st.integers(0, orders))),
        depth=draw(st.sampled_from([0.1, 0.25, 0.4, 0.6])) if d else 0.0,
        tickets=draw(st.integers(0, 6)),
        abandoned_days_ago=draw(st.none() | st.floats(0, 90)),
    )


SHOPS = st.lists(a_customer(), min_size=1, max_size=80).map(build)


@SETTINGS
@given(shop=SHOPS, config=PROFILES)
def test_every_customer_gets_one_of_three_labels_and_a_known_stage(
    shop: CustomerAggregates, config: Any
) -> None:
    scored = score(shop, config, AS_OF)
    assert set(scored.label.tolist()) <= {"icp", "negative_icp", "neutral"}
    assert set(scored.stage.tolist()) <= set(STAGES)
    assert np.all(np.isfinite(scored.value)) and np.all(scored.value >= 0)


@SETTINGS
@given(shop=SHOPS, config=PROFILES)
def test_negative_wins_and_non_neutral_labels_have_reasons(shop: CustomerAggregates, config: Any) -> None:
    scored = score(shop, config, AS_OF)
    assert np.all(scored.label[scored.negative_match] == "negative_icp")
    icp = scored.label == "icp"
    assert np.all(scored.icp_match[icp]) and not np.any(scored.negative_match[icp])
    non_neutral = scored.label != "neutral"
    assert all(scored.reasons[non_neutral])
    assert not any(scored.reasons[~non_neutral])


@SETTINGS
@given(shop=SHOPS, exponent=st.integers(-8, 16), config=st.sampled_from([DEFAULT_SCORING, EAGER]))
def test_scaling_all_money_leaves_default_labels_unchanged(
    shop: CustomerAggregates, exponent: int, config: Any
) -> None:
    factor = 2.0**exponent
    scaled = replace(
        shop,
        gross_total=shop.gross_total * factor,
        first_order_total=shop.first_order_total * factor,
        refunded_total=shop.refunded_total * factor,
        discount_total=shop.discount_total * factor,
    )
    before = score(shop, config, AS_OF)
    after = score(scaled, config, AS_OF)
    assert after.label.tolist() == before.label.tolist()
    assert after.stage.tolist() == before.stage.tolist()
