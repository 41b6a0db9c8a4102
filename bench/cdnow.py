"""Value models on CDNOW: BG/NBD + Gamma-Gamma, learned, blend, calibrated 1997-01..09, 9 months on.

The transaction logs of the CDNOW 1/10 sample (2,357 customers) and of the full file (23,570),
as shipped in the ``lifetimes`` wheel (``tests/fixtures/cdnow``). Customers are scored from
purchases up to 1997-09-30, exactly as a full rescore would (the learned model and the choice
use only that period), and every candidate's ranking is measured on each customer's spend from
1997-10-01 to 1998-06-30: top 5/10/20% capture, Spearman, normalized Gini, with 95% bootstrap
intervals. Prints figures only. Run: ``python -m bench cdnow``.
"""

from __future__ import annotations

import time
from dataclasses import replace
from datetime import UTC, date, datetime
from pathlib import Path

from rich.console import Console

from services.scorer.backtesting import compare_models
from services.scorer.domain.aggregates import epoch_days
from services.scorer.domain.transactions import aggregate_orders, net_revenue, read_cdnow
from services.scorer.domain.value_choice import History, cuts
from services.scorer.report_terminal import print_model_comparison
from shared.definitions.scoring import DEFAULT_SCORING

FIXTURES = Path(__file__).parents[1] / "tests" / "fixtures" / "cdnow"
CALIBRATION_END = datetime(1997, 9, 30, 23, 59, 59, tzinfo=UTC)
HOLDOUT_END = epoch_days(date(1998, 6, 30))
HORIZON_DAYS = 273.0  # the holdout's nine months


def main() -> None:
    """Backtest each CDNOW file and print the table."""
    console = Console(width=160)
    config = replace(DEFAULT_SCORING, model=replace(DEFAULT_SCORING.model, horizon_days=HORIZON_DAYS))
    as_of = epoch_days(CALIBRATION_END)
    for name in ("CDNOW_sample.txt", "CDNOW_master.txt.gz"):
        log = read_cdnow(FIXTURES / name)
        started = time.perf_counter()
        now = aggregate_orders(log, as_of)
        step, cut_a, cut_b = cuts(now, as_of, config.model)
        buyers = now.n_orders > 0
        later = net_revenue(log, as_of, HOLDOUT_END)[buyers]
        before, middle = (aggregate_orders(log, cut).take(buyers) for cut in (cut_a, cut_b))
        history = History(before, middle, now.take(buyers), step, as_of)
        _, models = compare_models(history.now, history, config, CALIBRATION_END, later)
        console.print(
            f"\n[bold]{name}[/bold]: {int(buyers.sum()):,} customers, {len(log.total):,} purchases; "
            f"backtest step {step:.0f} days; {time.perf_counter() - started:.1f} s"
        )
        print_model_comparison(console, models)
