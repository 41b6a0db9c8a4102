"""Backtest metrics on hand-made outcomes: capture, baselines, the negative-ICP check."""

from __future__ import annotations

import math

import numpy as np
import pytest
from rich.console import Console

from services.scorer.backtesting import ModelComparison
from services.scorer.domain.backtest import RANKING_METRICS, backtest, top
from services.scorer.report_terminal import print_model_comparison


def test_top_takes_the_highest_scores_with_nan_last_and_ties_in_row_order() -> None:
    scores = np.array([5.0, np.nan, 9.0, 5.0, 1.0])
    assert top(scores, 2).tolist() == [True, False, True, False, False]
    assert top(scores, 0).tolist() == [False] * 5
    assert top(scores, 5).tolist() == [True] * 5


def test_captures_against_random_and_historical_spend() -> None:
    # Ten customers; the model ranks customer 0 first, history ranks customer 9 first.
    predicted = np.array([10.0, 9, 8, 7, 6, 5, 4, 3, 2, 1])
    historical = np.array([1.0, 2, 3, 4, 5, 6, 7, 8, 9, 10])
    later_net = np.array([50.0, 20, 10, 5, 5, 5, 5, 0, 0, 0])  # 100 in the following period
    later_gross = later_net.copy()
    icp = np.array([True, True, False, False, False, False, False, False, False, False])
    negative = np.zeros(10, dtype=bool)
    result = backtest(predicted, historical, later_net, later_gross, np.zeros(10), icp, negative)
    assert (result.customers, result.revenue) == (10, 100.0)
    by_name = {c.name: c for c in result.captures}
    assert set(by_name) == {"ICP list", "top 5% by value", "top 10% by value", "top 20% by value"}
    listed = by_name["ICP list"]
    assert (listed.customers, listed.customer_share, listed.revenue_share) == (2, 0.2, 0.7)
    assert listed.historical_share == 0.0  # customers 8 and 9 bought nothing later
    assert listed.lift_vs_random == pytest.approx(3.5)
    top5 = by_name["top 5% by value"]  # ceil(5% of 10) = 1 customer
    assert (top5.customers, top5.revenue_share, top5.historical_share) == (1, 0.5, 0.0)
    assert by_name["top 20% by value"].revenue_share == pytest.approx(0.7)


def test_the_negative_list_is_compared_with_everyone_else() -> None:
    n = 4
    negative = np.array([True, True, False, False])
    later_net = np.array([10.0, 0.0, 100.0, 60.0])
    later_gross = np.array([40.0, 0.0, 100.0, 60.0])
    later_refunded = np.array([30.0, 0.0, 0.0, 8.0])
    result = backtest(np.ones(n), np.ones(n), later_net, later_gross, later_refunded, ~negative, negative)
    check = result.negative
    assert check.customers == 2
    assert (check.revenue_per_customer, check.rest_revenue_per_customer) == (5.0, 80.0)
    assert check.return_rate == pytest.approx(0.75) and check.rest_return_rate == pytest.approx(0.05)


def test_a_following_period_without_revenue_gives_nan_shares_not_errors() -> None:
    zeros = np.zeros(3)
    result = backtest(zeros, zeros, zeros, zeros, zeros, np.ones(3, dtype=bool), np.zeros(3, dtype=bool))
    assert all(math.isnan(c.revenue_share) for c in result.captures)
    assert math.isnan(result.negative.return_rate) and math.isnan(result.negative.revenue_per_customer)


def test_the_model_table_names_the_baseline_as_it_ran() -> None:
    """On a shop too small for Gamma-Gamma the baseline row says so, not "BG/NBD + Gamma-Gamma"."""
    metrics = {m: 0.5 for m in RANKING_METRICS}
    intervals = {m: (0.4, 0.6) for m in RANKING_METRICS}
    models = ModelComparison(
        "bgnbd_gamma_gamma",
        "small shop",
        {"bgnbd_gamma_gamma": metrics},
        {"bgnbd_gamma_gamma": intervals},
        10,
    )
    console = Console(record=True, width=200)
    print_model_comparison(console, models, baseline="bgnbd_observed_spend")
    text = console.export_text()
    assert "BG/NBD + own order value (Gamma-Gamma not fitted) (chosen)" in text
    print_model_comparison(console, models)
    assert "BG/NBD + Gamma-Gamma (chosen)" in console.export_text()
