"""Terminal summaries of the ICP report and the backtest, with rich tables."""

from __future__ import annotations

import math

from rich.console import Console
from rich.table import Table

from services.scorer.backtesting import BacktestRun, ModelComparison
from services.scorer.domain.backtest import RANKING_METRICS
from services.scorer.domain.value_choice import BASELINE
from services.scorer.report_extras import ReportExtras
from services.scorer.report_words import MODEL_WORDS
from services.scorer.reporting import TRAIT_TITLES, IcpReport

TOP_TRAITS = 3  # per trait in the terminal; the HTML file shows more


def _pct(share: float) -> str:
    return "–" if math.isnan(share) else f"{share:.1%}"


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, title_justify="left")
    for i, name in enumerate(columns):
        table.add_column(name, justify="left" if i == 0 else "right")
    return table


def _money(amount: float | None) -> str:
    return "–" if amount is None or math.isnan(amount) else f"{amount:,.0f}"


def print_report(console: Console, report: IcpReport, extras: ReportExtras | None = None) -> None:
    """Label shares, money per label, the strongest traits, negative reasons and movements."""
    scored = f"{report.scored_as_of:%Y-%m-%d}" if report.scored_as_of else "never"
    console.print(
        f"[bold]ICP report[/bold]: {report.customers:,} customers ({report.buyers:,} buyers), "
        f"scored as of {scored}, profile {report.profile or '–'}"
    )
    labels = _table("Labels", "label", "customers", "share", "historical revenue", "predicted value")
    for s in report.shares:
        labels.add_row(
            s.label, f"{s.customers:,}", _pct(s.customer_share), _pct(s.revenue_share), _pct(s.value_share)
        )
    console.print(labels)
    if extras is not None:
        money = _table(f"Money per label ({extras.currency})", "label", "revenue", "AOV", "LTV", "predicted")
        for row in extras.money:
            money.add_row(
                row.label, _money(row.revenue), _money(row.aov), _money(row.ltv), _money(row.predicted_value)
            )
        console.print(money)
    traits = _table("Traits over-indexing among ICP", "trait", "value", "of ICP", "of all buyers", "lift")
    for trait, title in TRAIT_TITLES.items():
        for lift in [x for x in report.lifts if x.trait == trait][:TOP_TRAITS]:
            traits.add_row(title, lift.value, _pct(lift.icp_share), _pct(lift.all_share), f"{lift.lift:.2f}×")
    console.print(traits)
    reasons = _table(
        f"Why {report.negative_customers:,} customers are negative ICP", "condition", "customers", "share"
    )
    worded = [r for r in extras.reasons if r.label == "negative_icp"] if extras else []
    for r in worded:
        reasons.add_row(r.words, f"{r.customers:,}", _pct(r.share))
    for c in [] if worded else report.reasons:
        reasons.add_row(c.feature, f"{c.customers:,}", _pct(c.share))
    console.print(reasons)
    moves = _table(f"Movements since {report.since_what}", "from", "to", "customers")
    for m in report.movements[:12]:
        moves.add_row(m.before, m.after, f"{m.customers:,}")
    console.print(moves if report.movements else f"No label changed since {report.since_what}.")


def print_backtest(console: Console, run: BacktestRun) -> None:
    """Capture of the following period's revenue by each list, and the negative-ICP check."""
    r = run.result
    console.print(
        f"[bold]Backtest[/bold]: scored as of {run.calibration_end:%Y-%m-%d}"
        f" ({MODEL_WORDS.get(run.method, run.method)}), "
        f"following period to {run.holdout_end:%Y-%m-%d}: {r.customers:,} customers who had bought, "
        f"{run.later_buyers:,} of them bought again, net revenue {r.revenue:,.2f}"
    )
    table = _table(
        "Share of the following period's net revenue",
        "list",
        "customers",
        "random (size share)",
        "by historical spend",
        "captured",
        "lift vs random",
    )
    for c in r.captures:
        table.add_row(
            c.name,
            f"{c.customers:,}",
            _pct(c.customer_share),
            _pct(c.historical_share),
            f"[bold]{_pct(c.revenue_share)}[/bold]",
            "–" if math.isnan(c.lift_vs_random) else f"{c.lift_vs_random:.2f}×",
        )
    console.print(table)
    n = r.negative
    neg = _table(f"Negative ICP ({n.customers:,} customers) against the rest", "", "negative ICP", "the rest")
    neg.add_row(
        "later net revenue per customer",
        f"{n.revenue_per_customer:,.2f}",
        f"{n.rest_revenue_per_customer:,.2f}",
    )
    neg.add_row("later return rate (by value)", _pct(n.return_rate), _pct(n.rest_return_rate))
    console.print(neg)
    if run.models is not None:
        print_model_comparison(console, run.models, baseline=run.method)


def print_model_comparison(console: Console, models: ModelComparison, *, baseline: str = BASELINE) -> None:
    """The value models side by side on the holdout, with 95% bootstrap intervals, and the choice.

    ``baseline``: the method BG/NBD + Gamma-Gamma actually ran as (a fallback on a small shop).
    """
    table = _table(
        f"Value models on the following period (95% intervals, {models.samples} bootstrap resamples)",
        "model",
        *RANKING_METRICS,
    )
    for name, metrics in models.metrics.items():
        cells = []
        for m in RANKING_METRICS:
            low, high = models.intervals[name][m]
            value = metrics[m]
            text = "–" if math.isnan(value) else f"{value:.3f} [{low:.3f}, {high:.3f}]"
            cells.append(text)
        label = MODEL_WORDS.get(baseline if name == BASELINE else name, name)
        label += " (chosen)" if name == models.chosen else ""
        table.add_row(label, *cells)
    console.print(table)
    console.print(f"Choice on the shop's own latest window before the calibration end: {models.reason}")
