"""The BG/NBD and Gamma-Gamma implementations reproduce the published CDNOW estimates."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, special

from services.scorer.domain import bgnbd, gamma_gamma
from services.scorer.domain.bgnbd import BgNbdParams

CDNOW = Path(__file__).parents[2] / "fixtures" / "cdnow" / "cdnow_customers_summary_with_transactions.csv"


@pytest.fixture(scope="module")
def cdnow() -> np.ndarray:
    """ID, x, t_x, T (weeks), zbar (USD) for the 2,357 customers of the 1/10 sample."""
    return np.genfromtxt(CDNOW, delimiter=",", names=True)


@pytest.fixture(scope="module")
def fitted(cdnow: np.ndarray) -> BgNbdParams:
    return bgnbd.fit(cdnow["x"], cdnow["t_x"], cdnow["T"])


def test_bgnbd_reproduces_fader_hardie_lee_2005_to_three_decimals(fitted: BgNbdParams) -> None:
    got = (round(fitted.r, 3), round(fitted.alpha, 3), round(fitted.a, 3), round(fitted.b, 3))
    assert got == (0.243, 4.414, 0.793, 2.426)


def test_bgnbd_log_likelihood_matches_the_paper(cdnow: np.ndarray, fitted: BgNbdParams) -> None:
    # FHL 2005 report LL = -9582.4 at the optimum.
    ll = bgnbd.log_likelihood(fitted, cdnow["x"], cdnow["t_x"], cdnow["T"]).sum()
    assert ll == pytest.approx(-9582.4, abs=0.05)


def test_conditional_expectation_matches_the_papers_worked_example(fitted: BgNbdParams) -> None:
    # FHL 2005: x = 2, t_x = 30.43, T = 38.86 expects 1.226 purchases in the next 39 weeks.
    expected = bgnbd.expected_purchases(fitted, 39.0, np.array([2.0]), np.array([30.43]), np.array([38.86]))
    assert expected[0] == pytest.approx(1.226, abs=5e-4)


def test_expectation_agrees_with_the_untransformed_hypergeometric_formula() -> None:
    p = BgNbdParams(r=0.5, alpha=10.0, a=2.5, b=3.0)
    x = np.array([0.0, 1.0, 2.0, 5.0, 10.0, 20.0])
    t_x = np.array([0.0, 5.0, 30.0, 20.0, 30.0, 35.0])
    big_t = np.full(6, 39.0)
    t = 52.0
    z = t / (p.alpha + big_t + t)
    bracket = 1 - ((p.alpha + big_t) / (p.alpha + big_t + t)) ** (p.r + x) * special.hyp2f1(
        p.r + x, p.b + x, p.a + p.b + x - 1, z
    )
    odds = (x > 0) * p.a / (p.b + np.maximum(x, 1) - 1) * ((p.alpha + big_t) / (p.alpha + t_x)) ** (p.r + x)
    direct = (p.a + p.b + x - 1) / (p.a - 1) * bracket / (1 + odds)
    np.testing.assert_allclose(bgnbd.expected_purchases(p, t, x, t_x, big_t), direct, rtol=1e-9)


def test_heavy_buyers_neither_overflow_nor_go_negative(fitted: BgNbdParams) -> None:
    x = np.array([300.0, 2000.0, 2000.0])
    t_x = np.array([150.0, 155.9, 100.0])
    big_t = np.full(3, 156.0)
    expected = bgnbd.expected_purchases(fitted, 52.0, x, t_x, big_t)
    alive = bgnbd.p_alive(fitted, x, t_x, big_t)
    assert np.all(np.isfinite(expected)) and np.all(expected >= 0)
    assert np.all((alive >= 0) & (alive <= 1))


def test_one_time_buyers_are_alive_under_bgnbd(fitted: BgNbdParams) -> None:
    alive = bgnbd.p_alive(fitted, np.zeros(2), np.zeros(2), np.array([1.0, 100.0]))
    assert alive.tolist() == [1.0, 1.0]


def test_bgnbd_gradient_matches_finite_differences(cdnow: np.ndarray) -> None:
    data = bgnbd._Data.of(cdnow["x"], cdnow["t_x"], cdnow["T"], None)
    theta = np.log([0.3, 5.0, 0.9, 2.0])
    numeric = optimize.approx_fprime(theta, lambda t: bgnbd._objective(t, data)[0], 1e-7)
    np.testing.assert_allclose(bgnbd._objective(theta, data)[1], numeric, atol=1e-6)


def test_gamma_gamma_reproduces_fader_hardie_note(cdnow: np.ndarray) -> None:
    # Fader & Hardie (2013), "The Gamma-Gamma Model of Monetary Value": p = 6.25, q = 3.74,
    # gamma = 15.44 on the 946 repeat buyers; the exact optimum is 15.448, which the note's
    # spreadsheet solver stopped just short of.
    repeat = cdnow["x"] > 0
    assert np.count_nonzero(repeat) == 946
    params = gamma_gamma.fit(cdnow["x"][repeat], cdnow["zbar"][repeat])
    assert (round(params.p, 2), round(params.q, 2)) == (6.25, 3.74)
    assert params.v == pytest.approx(15.44, abs=0.01)
    assert params.population_mean == pytest.approx(35.17, abs=0.01)


def test_gamma_gamma_gradient_matches_finite_differences(cdnow: np.ndarray) -> None:
    repeat = cdnow["x"] > 0
    data = gamma_gamma._Data.of(cdnow["x"][repeat], cdnow["zbar"][repeat], None)
    theta = np.log([3.0, 2.0, 10.0])
    numeric = optimize.approx_fprime(theta, lambda t: gamma_gamma._objective(t, data)[0], 1e-7)
    np.testing.assert_allclose(gamma_gamma._objective(theta, data)[1], numeric, atol=1e-5)


def test_expected_order_value_shrinks_towards_the_shop_mean(cdnow: np.ndarray) -> None:
    params = gamma_gamma.GammaGammaParams(p=6.25, q=3.74, v=15.44)
    values = gamma_gamma.expected_order_value(
        params, np.array([0.0, 1.0, 50.0]), np.array([0.0, 100.0, 100.0])
    )
    assert values[0] == pytest.approx(params.population_mean)
    assert params.population_mean < values[1] < values[2] < 100.0


def test_gamma_gamma_scale_is_equivariant_in_powers_of_two(cdnow: np.ndarray) -> None:
    repeat = cdnow["x"] > 0
    base = gamma_gamma.fit(cdnow["x"][repeat], cdnow["zbar"][repeat])
    scaled = gamma_gamma.fit(cdnow["x"][repeat], cdnow["zbar"][repeat] * 128)
    assert (scaled.p, scaled.q, scaled.v) == (base.p, base.q, base.v * 128)
