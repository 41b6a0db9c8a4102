"""The learned value model and the automatic choice: ahead where the data allows, BG/NBD otherwise."""

from __future__ import annotations

from dataclasses import replace
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from services.scorer.domain import aggregates as agg_module
from services.scorer.domain.backtest import capture
from services.scorer.domain.scoring import Calibration, score
from services.scorer.domain.transactions import OrderLog, aggregate_orders, net_revenue, read_cdnow
from services.scorer.domain.value_choice import BASELINE, History, cuts
from shared.definitions.scoring import DEFAULT_SCORING, ScoringConfig

AS_OF = agg_module.epoch_days(date(2024, 6, 30))
epoch_days = agg_module.epoch_days
FAST = replace(DEFAULT_SCORING, model=replace(DEFAULT_SCORING.model, learned_trees=60))


def returners_shop(customers: int, *, seed: int = 5, years: float = 4.0) -> OrderLog:
    """Poisson buyers with dropout, and two kinds BG/NBD + Gamma-Gamma cannot tell apart.

    A third return nearly every order (refunded ten days later): their gross history looks like
    anyone's and only a shrunk return rate discounts them; their net future spend is close to
    nothing. Another third buy often, only with a 40% code, and stop after a few months: BG/NBD
    reads their recent orders as a heavy buyer's.
    """
    rng = np.random.default_rng(seed)
    start = AS_OF + 1 - years * 365
    joined = start + rng.uniform(0, years * 365 * 0.8, customers)
    kind = rng.random(customers)
    returner, deal = kind < 0.33, kind > 0.67
    # Orders a day while active; deal seekers buy often while their codes last.
    rate = rng.gamma(0.9, 5.0 / 0.9, customers) / 365 * np.where(deal, 4.0, 1.0)
    life = rng.exponential(np.where(deal, 90.0, 700.0))  # days active
    mean_value = rng.gamma(4.0, 20.0, customers)
    rows: list[tuple[int, float, float, float, float]] = []
    for c in range(customers):
        t = joined[c]
        end = min(joined[c] + life[c], AS_OF + 400)
        while t < end:
            value = float(rng.gamma(6.0, mean_value[c] / 6.0))
            refund = value if returner[c] and rng.random() < 0.9 else 0.0
            rows.append((c, t, value * 0.6 if deal[c] else value, value * 0.4 if deal[c] else 0.0, refund))
            t += rng.exponential(1.0 / rate[c])
    who, at, v, d, r = (np.array(col) for col in zip(*rows, strict=True))
    refunded_at = np.where(r > 0, at + 10.0, np.nan)
    keys = np.array([f"c{i:05d}" for i in range(customers)], dtype=object)
    none = np.array([], dtype=np.int64)
    return OrderLog(who.astype(np.int64), at, v, d, np.minimum(r, v), refunded_at, keys, none, np.array([]))


def _history(
    log: OrderLog, as_of: float, config: ScoringConfig
) -> tuple[History, agg_module.CustomerAggregates]:
    now = aggregate_orders(log, as_of)
    step, a, b = cuts(now, as_of, config.model)
    return History(aggregate_orders(log, a), aggregate_orders(log, b), now, step, as_of), now


@pytest.fixture(scope="module")
def shop() -> OrderLog:
    """6,000 customers: enough buyers for the choice to tell a real gain from luck."""
    return returners_shop(6000)


def test_learned_value_beats_bgnbd_when_returns_decide_the_future(shop: OrderLog) -> None:
    log = shop
    calibration_end = AS_OF - 365
    history, now = _history(log, calibration_end, FAST)
    chosen = score(now, FAST, calibration_end, history=history)
    baseline = score(now, replace(FAST, model=replace(FAST.model, learned=False)), calibration_end)
    choice = chosen.calibration.value_choice
    assert choice.method in ("learned", "blend"), choice.reason
    assert set(choice.figures) == {BASELINE, "learned", "blend"}
    # Measured on the year after the calibration end, which neither model saw.
    later = net_revenue(log, calibration_end, AS_OF)
    buyers = chosen.features.buyers
    ours = [capture(chosen.value[buyers], later[buyers], f) for f in (0.05, 0.10, 0.20)]
    theirs = [capture(baseline.value[buyers], later[buyers], f) for f in (0.05, 0.10, 0.20)]
    assert all(a >= b for a, b in zip(ours, theirs, strict=True)), (ours, theirs)
    assert np.mean(ours) >= np.mean(theirs) + 0.01, (ours, theirs)


def test_the_same_facts_give_the_same_learned_values(shop: OrderLog) -> None:
    config = FAST
    history, now = _history(shop, AS_OF - 365, config)
    first = score(now, config, AS_OF - 365, history=history)
    again = score(now, config, AS_OF - 365, history=history)
    assert first.calibration.value_choice.method != BASELINE
    assert np.array_equal(first.value, again.value)
    # An incremental rescore from the stored calibration gives the same values.
    stored = Calibration.from_dict(first.calibration.to_dict())
    some = now.take(np.arange(0, len(now), 7))
    np.testing.assert_allclose(score(some, config, AS_OF - 365, calibration=stored).value, first.value[::7])


def test_a_tiny_shop_keeps_bgnbd_and_says_why() -> None:
    log = returners_shop(300, seed=3)
    history, now = _history(log, AS_OF - 365, FAST)
    scored = score(now, FAST, AS_OF - 365, history=history)
    plain = score(now, replace(FAST, model=replace(FAST.model, learned=False)), AS_OF - 365)
    choice = scored.calibration.value_choice
    assert choice.method == BASELINE and "small shop" in choice.reason and choice.learned is None
    assert np.array_equal(scored.value, plain.value)


@pytest.mark.parametrize("history_days", [40.0, 80.0])
def test_a_short_history_keeps_bgnbd(history_days: float) -> None:
    log = returners_shop(1500, seed=4, years=history_days / 365 / 0.8)
    history, now = _history(log, AS_OF - 365 + history_days, FAST)
    choice = score(now, FAST, AS_OF - 365 + history_days, history=history).calibration.value_choice
    assert choice.method == BASELINE and choice.learned is None


def test_on_cdnow_the_delivered_value_captures_at_least_bgnbds_share() -> None:
    # CDNOW 1/10 sample, calibrated on 1997-01..09, measured on the following nine months: the
    # choice (made on the window before October 1997) must not deliver less than BG/NBD.
    log = read_cdnow(Path(__file__).parents[2] / "fixtures" / "cdnow" / "CDNOW_sample.txt")
    end = epoch_days(date(1997, 9, 30))
    config = replace(FAST, model=replace(FAST.model, horizon_days=273.0))
    history, now = _history(log, end, config)
    chosen = score(now, config, end, history=history)
    plain = score(now, replace(config, model=replace(config.model, learned=False)), end)
    later = net_revenue(log, end, epoch_days(date(1998, 6, 30)))
    for fraction in (0.05, 0.10, 0.20):
        assert capture(chosen.value, later, fraction) >= capture(plain.value, later, fraction) - 1e-12
