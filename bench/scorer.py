"""Scorer domain on 1,000,000 synthetic customers: fit, features, rules, stages; time and memory.

The customers come from ``synthetic_shop`` (BG/NBD purchases, Gamma-Gamma spend, seeded), as the
aggregation query would hand them over. Timed: each step on its own, then ``score()`` end to end
(the value model is fitted on a seeded sample of ``ModelConfig.fit_sample`` buyers, predictions
are made for everyone), then an incremental rescore of 1,000 customers with the stored
calibration, and ``material_change`` over everyone. Peak memory of ``score()`` is measured with
tracemalloc (numpy reports its buffers to it) in a separate run so tracing does not skew the
times; the process's peak RSS is printed last. Prints figures only; asserts nothing.

Run: ``python -m bench scorer`` (or ``make bench BENCH=scorer``).
"""

from __future__ import annotations

import gc
import resource
import time
import tracemalloc
from collections.abc import Callable
from datetime import date
from typing import TypeVar

import numpy as np

from services.scorer.domain.aggregates import CustomerAggregates, epoch_days
from services.scorer.domain.changes import material_change
from services.scorer.domain.features import compute_features
from services.scorer.domain.model import fit_value_model, predict_value
from services.scorer.domain.rules import apply_profile, resolve_cutoffs
from services.scorer.domain.scoring import rule_inputs, score
from services.scorer.domain.stages import assign_stages, median_interval_days
from services.scorer.domain.synthetic import synthetic_shop
from shared.definitions.scoring import DEFAULT_SCORING, ScoringConfig, load_scoring

T = TypeVar("T")
CUSTOMERS = 1_000_000
INCREMENTAL = 1_000
AS_OF = epoch_days(date(2024, 6, 30))


def _timed(label: str, step: Callable[[], T]) -> T:
    started = time.perf_counter()
    out = step()
    print(f"  {label:<34} {time.perf_counter() - started:7.2f} s", flush=True)
    return out


def _mib(n_bytes: float) -> str:
    return f"{n_bytes / 2**20:,.0f} MiB"


def _steps(agg: CustomerAggregates, config: ScoringConfig) -> None:
    """Each step of a full rescore, timed on its own."""
    print("steps:")
    f = _timed("features", lambda: compute_features(agg, AS_OF))
    model = _timed("fit BG/NBD + Gamma-Gamma", lambda: fit_value_model(f, config.model))
    prediction = _timed("predict value + p_alive", lambda: predict_value(model, f, config.model))
    inputs = rule_inputs(f, prediction)
    profile = config.active
    cutoffs = _timed("resolve relative cutoffs", lambda: resolve_cutoffs(profile, inputs, f.buyers))
    _timed(
        "rules + reasons",
        lambda: apply_profile(profile, inputs, cutoffs, f.orders, f.tenure_days),
    )
    interval = median_interval_days(f)
    _timed("stages", lambda: assign_stages(f, prediction.p_alive, config.stages, interval))


def _end_to_end(agg: CustomerAggregates, config: ScoringConfig) -> None:
    """score() for a full and an incremental rescore, material_change, and what came out."""
    print("end to end:")
    full = _timed("score() default profile", lambda: score(agg, config, AS_OF))
    seed_config = load_scoring({"profile": "seed"})
    _timed("score() seed profile", lambda: score(agg, seed_config, AS_OF))
    some = agg.take(np.random.default_rng(2).choice(len(agg), size=INCREMENTAL, replace=False))
    _timed(
        f"score() {INCREMENTAL:,} with calibration",
        lambda: score(some, config, AS_OF, calibration=full.calibration),
    )
    again = score(agg, config, AS_OF, calibration=full.calibration)
    changed = _timed(
        "material_change() on everyone",
        lambda: material_change(full.snapshot(), again.snapshot(), config.material_change),
    )
    print(f"  changed after an identical rescore: {int(changed.sum())}")

    model = full.calibration.model
    print(f"model: {model.method}; {'; '.join(model.notes)}")
    if model.bgnbd and model.gamma_gamma:
        bg, gg = model.bgnbd, model.gamma_gamma
        print(f"  BG/NBD r={bg.r:.3f} alpha={bg.alpha:.3f} a={bg.a:.3f} b={bg.b:.3f} (drawn: 0.6 12 0.8 2.5)")
        print(f"  Gamma-Gamma p={gg.p:.2f} q={gg.q:.2f} v={gg.v:.2f} (drawn: 6 4 30)")
    shares = {lab: float(np.mean(full.label == lab)) for lab in ("icp", "negative_icp", "neutral")}
    print("labels: " + ", ".join(f"{k} {v:.1%}" for k, v in shares.items()))
    names, counts = np.unique(full.stage.astype(str), return_counts=True)
    print("stages: " + ", ".join(f"{k} {n / len(agg):.1%}" for k, n in zip(names, counts, strict=True)))


def main() -> None:
    """Print wall time per step, score() end to end, and peak memory."""
    config = DEFAULT_SCORING
    print(f"{CUSTOMERS:,} customers, profile {config.profile!r}, fit sample {config.model.fit_sample:,}")
    agg = _timed("generate synthetic aggregates", lambda: synthetic_shop(CUSTOMERS, AS_OF, seed=1))
    print(f"  orders in the shop: {int(agg.n_orders.sum()):,}")
    _steps(agg, config)
    _end_to_end(agg, config)
    gc.collect()

    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    score(agg, config, AS_OF)
    peak = tracemalloc.get_traced_memory()[1] - base
    tracemalloc.stop()
    inputs_size = sum(getattr(agg, name).nbytes for name in agg.__dataclass_fields__)
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    print("memory:")
    print(f"  aggregates (numpy buffers)         {_mib(inputs_size)}")
    print(f"  score() peak above its input       {_mib(peak)}")
    print(f"  process peak RSS (whole bench)     {_mib(rss)}")


if __name__ == "__main__":
    main()
