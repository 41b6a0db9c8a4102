"""The ICP report as one self-contained HTML file: inline CSS bar charts, no script, no network."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

from services.scorer.domain.insights import TraitLift
from services.scorer.reporting import TRAIT_TITLES, IcpReport

TOP_TRAITS = 8  # values shown per trait, highest lift first
COLORS = {"icp": "#1b7f4b", "neutral": "#8a94a6", "negative_icp": "#c0392b"}

_CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:2rem auto;
max-width:64rem;color:#1d2430;padding:0 1rem}
h1{font-size:1.6rem;margin-bottom:.2rem}
h2{font-size:1.15rem;margin-top:2.2rem;border-bottom:1px solid #dde2ea}
.muted{color:#5b6577}table{border-collapse:collapse;width:100%;margin:.6rem 0}
th,td{text-align:left;padding:.28rem .5rem;border-bottom:1px solid #eef1f5;vertical-align:middle}
th{font-weight:600;color:#3b4455}td.num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.bar{background:#eef1f5;height:.9rem;width:14rem;position:relative;border-radius:2px}
.bar span{position:absolute;left:0;top:0;bottom:0;border-radius:2px}
.lift-up{color:#1b7f4b;font-weight:600}.lift-down{color:#c0392b}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(28rem,1fr));gap:0 2rem}
"""


def _pct(share: float) -> str:
    return "–" if math.isnan(share) else f"{share:.1%}"


def _money(amount: float) -> str:
    return f"{amount:,.0f}"


def _bar(share: float, color: str = "#3867d6") -> str:
    width = 0.0 if math.isnan(share) else max(0.0, min(share, 1.0)) * 100
    return f'<div class="bar"><span style="width:{width:.1f}%;background:{color}"></span></div>'


def _table(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> str:
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "".join("<tr>" + "".join(rows_cell for rows_cell in row) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _td(text: str, *, num: bool = False) -> str:
    return f'<td class="num">{text}</td>' if num else f"<td>{text}</td>"


def _labels(report: IcpReport) -> str:
    rows = []
    for s in report.shares:
        color = COLORS.get(s.label, "#3867d6")
        rows.append(
            [
                _td(escape(s.label)),
                _td(f"{s.customers:,}", num=True),
                _td(_pct(s.customer_share), num=True),
                _td(_bar(s.customer_share, color)),
                _td(_pct(s.revenue_share), num=True),
                _td(_bar(s.revenue_share, color)),
                _td(_pct(s.value_share), num=True),
            ]
        )
    headers = ["label", "customers", "share", "", "historical revenue", "", "predicted value"]
    return _table(headers, rows)


def _lifts(lifts: list[TraitLift]) -> str:
    parts = []
    for trait, title in TRAIT_TITLES.items():
        rows = []
        for lift in [x for x in lifts if x.trait == trait][:TOP_TRAITS]:
            css = "lift-up" if lift.lift >= 1.2 else "lift-down" if lift.lift <= 0.8 else ""
            rows.append(
                [
                    _td(escape(lift.value)),
                    _td(_pct(lift.icp_share), num=True),
                    _td(_bar(lift.icp_share, COLORS["icp"])),
                    _td(_pct(lift.all_share), num=True),
                    _td(f'<span class="{css}">{lift.lift:.2f}×</span>', num=True),
                ]
            )
        table = _table([escape(title), "of ICP", "", "of all buyers", "lift"], rows) if rows else ""
        parts.append(
            f"<div><h3>{escape(title.capitalize())}</h3>{table or '<p class=muted>no data</p>'}</div>"
        )
    return '<div class="grid">' + "".join(parts) + "</div>"


def render(report: IcpReport) -> str:
    """The whole report as HTML text."""
    scored = f"{report.scored_as_of:%Y-%m-%d}" if report.scored_as_of else "never"
    reasons = _table(
        ["condition", "negative-ICP customers", "share", ""],
        [
            [
                _td(escape(r.feature)),
                _td(f"{r.customers:,}", num=True),
                _td(_pct(r.share), num=True),
                _td(_bar(r.share, COLORS["negative_icp"])),
            ]
            for r in report.reasons
        ],
    )
    moves = _table(
        ["from", "to", "customers"],
        [
            [_td(escape(m.before)), _td(escape(m.after)), _td(f"{m.customers:,}", num=True)]
            for m in report.movements
        ],
    )
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>ICP report</title><style>{_CSS}</style></head>
<body>
<h1>ICP report</h1>
<p class="muted">Generated {report.generated_at:%Y-%m-%d %H:%M} UTC · labels scored as of {scored} ·
profile {escape(report.profile or "–")} · {report.customers:,} customers, {report.buyers:,} buyers</p>
<h2>Labels: size and revenue share</h2>
{_labels(report)}
<h2>What sets ICP customers apart</h2>
<p class="muted">Share of the {report.icp_buyers:,} ICP customers with each trait, against all buyers.
Lift above 1 means the trait is more common among ICP customers.</p>
{_lifts(report.lifts)}
<h2>Why customers are negative ICP</h2>
<p class="muted">{report.negative_customers:,} customers; one may match several conditions.</p>
{reasons if report.reasons else '<p class="muted">none</p>'}
<h2>Movements since {escape(report.since_what)}</h2>
{moves if report.movements else '<p class="muted">no label changed</p>'}
</body></html>
"""
