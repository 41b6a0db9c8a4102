"""The per-shop value model: parameter recovery, return adjustment and degenerate shops."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pytest

from services.scorer.domain.aggregates import CustomerAggregates
from services.scorer.domain.features import compute_features
from services.scorer.domain.model import ValueModel, fit_value_model, predict_value
from services.scorer.domain.scoring import Calibration, score
from services.scorer.domain.synthetic import ShopShape, synthetic_shop
from shared.definitions.scoring import DEFAULT_SCORING, ModelConfig
from tests.unit.scorer.conftest import AS_OF


@pytest.fixture(scope="module")
def big_shop() -> CustomerAggregates:
    return synthetic_shop(60_000, AS_OF, seed=11)


def test_fit_recovers_the_parameters_the_shop_was_drawn_with(big_shop: CustomerAggregates) -> None:
    model = fit_value_model(compute_features(big_shop, AS_OF), ModelConfig())
    truth = ShopShape()
    assert model.method == "bgnbd_gamma_gamma" and model.notes == ()
    assert model.bgnbd is not None and model.gamma_gamma is not None
    assert model.bgnbd.r == pytest.approx(truth.purchases.r, rel=0.1)
    assert model.bgnbd.alpha == pytest.approx(truth.purchases.alpha, rel=0.15)
    assert model.bgnbd.a == pytest.approx(truth.purchases.a, rel=0.15)
    assert model.bgnbd.b == pytest.approx(truth.purchases.b, rel=0.2)
    assert model.gamma_gamma.population_mean == pytest.approx(60.0, rel=0.1)


def test_large_shops_are_fitted_on_a_seeded_sample_and_say_so(big_shop: CustomerAggregates) -> None:
    config = ModelConfig(fit_sample=10_000)
    f = compute_features(big_shop, AS_OF)
    first, again = fit_value_model(f, config), fit_value_model(f, config)
    assert first == again
    assert first.fitted_on == 10_000 and "sample of 10000" in first.notes[0]


def test_value_is_net_of_expected_returns(customers: Callable[..., CustomerAggregates]) -> None:
    agg = customers(
        {"orders": 3, "gross": 300.0, "first_days_ago": 200, "last_days_ago": 10},
        {
            "orders": 3,
            "gross": 300.0,
            "first_days_ago": 200,
            "last_days_ago": 10,
            "refunded": 150.0,
            "refunded_orders": 2,
        },
    )
    config = ModelConfig(min_repeat_buyers=1000)  # historical rate: isolates the adjustment
    f = compute_features(agg, AS_OF)
    prediction = predict_value(fit_value_model(f, config), f, config)
    clean, returner = prediction.value
    # Shop rate 25%; shrunk own rates: (3*0 + 2*0.25)/5 = 0.10 and (3*0.5 + 2*0.25)/5 = 0.40.
    assert prediction.return_rate.tolist() == pytest.approx([0.10, 0.40])
    assert returner / clean == pytest.approx(0.60 / 0.90)


def test_all_one_time_buyers_fall_back_to_historical_rate(
    customers: Callable[..., CustomerAggregates],
) -> None:
    agg = customers(*({"orders": 1, "gross": 20.0 + i, "first_days_ago": 5 + i} for i in range(50)))
    scored = score(agg, DEFAULT_SCORING, AS_OF)
    model = scored.calibration.model
    assert model.method == "historical_rate" and model.bgnbd is None
    assert "0 repeat buyers" in model.notes[0]
    assert np.all(np.isfinite(scored.value)) and np.all(scored.value > 0)
    assert np.all(np.isnan(scored.p_alive))
    assert set(scored.stage.tolist()) == {"first_time"}
    assert "icp" not in scored.label.tolist()  # the default ICP needs two orders of evidence


def test_a_handful_of_repeat_buyers_is_not_enough_to_fit(
    customers: Callable[..., CustomerAggregates],
) -> None:
    agg = customers(*({"orders": 1 + i % 3, "gross": 50.0 * (1 + i % 3)} for i in range(40)))
    model = score(agg, DEFAULT_SCORING, AS_OF).calibration.model
    assert model.method == "historical_rate" and model.repeat_buyers == 26


def test_shop_without_buyers_scores_everyone_neutral(
    customers: Callable[..., CustomerAggregates],
) -> None:
    agg = customers({"orders": 0, "abandoned_days_ago": 2}, {"orders": 0})
    scored = score(agg, DEFAULT_SCORING, AS_OF)
    assert scored.calibration.model.method == "none"
    assert scored.label.tolist() == ["neutral", "neutral"]
    assert scored.stage.tolist() == ["abandoned_checkout", "prospect"]
    assert scored.value.tolist() == [0.0, 0.0]


def test_empty_shop_scores_to_empty_columns(customers: Callable[..., CustomerAggregates]) -> None:
    scored = score(customers(), DEFAULT_SCORING, AS_OF)
    assert len(scored) == 0 and scored.calibration.model.method == "none"


def test_identical_order_values_still_score(customers: Callable[..., CustomerAggregates]) -> None:
    """Every order costs the same and nobody lapses: the models degenerate, scoring does not."""
    agg = customers(
        *(
            {
                "orders": 2 + i % 4,
                "gross": 25.0 * (2 + i % 4),
                "first_days_ago": 100 + 3 * i,
                "last_days_ago": i % 50,
            }
            for i in range(200)
        )
    )
    scored = score(agg, DEFAULT_SCORING, AS_OF)
    model = scored.calibration.model
    assert model.method == "bgnbd_gamma_gamma" or model.notes  # a fallback always says why
    assert np.all(np.isfinite(scored.value)) and np.all(scored.value >= 0)
    assert scored.order_value == pytest.approx(np.full(200, 25.0), rel=0.01)


def test_calibration_survives_a_json_round_trip(big_shop: CustomerAggregates) -> None:
    calibration = score(big_shop.take(np.arange(5000)), DEFAULT_SCORING, AS_OF).calibration
    restored = Calibration.from_dict(json.loads(json.dumps(calibration.to_dict())))
    assert restored == calibration
    fallback = replace(calibration.model, method="historical_rate", bgnbd=None, gamma_gamma=None)
    assert ValueModel.from_dict(json.loads(json.dumps(fallback.to_dict()))) == fallback


def test_gamma_gamma_is_fitted_on_repeat_orders_of_repeat_buyers_only(big_shop: CustomerAggregates) -> None:
    # Fader and Hardie's monetary value is the mean of the repeat transactions: a first order
    # (a welcome offer, a starter kit) and one-time buyers must not move the fit.
    base = fit_value_model(compute_features(big_shop, AS_OF), ModelConfig()).gamma_gamma
    one_time = big_shop.n_orders == 1
    changed = replace(
        big_shop,
        gross_total=big_shop.gross_total + 500.0 + np.where(one_time, 5000.0, 0.0),
        first_order_total=big_shop.first_order_total + 500.0 + np.where(one_time, 5000.0, 0.0),
    )
    features = compute_features(changed, AS_OF)
    refit = fit_value_model(features, ModelConfig()).gamma_gamma
    assert base is not None and refit is not None
    assert (refit.p, refit.q, refit.v) == pytest.approx((base.p, base.q, base.v), rel=1e-9)
    assert base.population_mean == pytest.approx(60.0, rel=0.1)  # the repeat orders' level, not 500+
    prediction = predict_value(fit_value_model(features, ModelConfig()), features, ModelConfig())
    # A one-time buyer's next order is the shop's repeat mean, whatever their first order cost.
    assert np.allclose(prediction.order_value[one_time], base.population_mean)
