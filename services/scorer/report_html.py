"""The ICP report as HTML from Jinja templates: one self-contained file (inline CSS bar charts,
no script, no network), or its body for the dashboard's page.

Templates live in ``services/scorer/templates/icp_report/``; this module only prepares numbers
for them (shares, bar widths, the small-sample caveat) and formats money in the base currency.
"""

from __future__ import annotations

import math
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup

from services.scorer.domain.insights import TraitLift
from services.scorer.report_extras import ReportExtras
from services.scorer.reporting import TRAIT_TITLES, IcpReport

TOP_TRAITS = 8  # values shown per trait, highest lift first
SMALL_SAMPLE = 30  # ICP customers with a trait below which its lift is flagged as possibly noise
COLORS = {"icp": "#1b7f4b", "neutral": "#8a94a6", "negative_icp": "#c0392b"}
LABEL_WORDS = {"icp": "ICP", "neutral": "neutral", "negative_icp": "negative ICP"}


def _pct(share: float | None) -> str:
    return "–" if share is None or math.isnan(share) else f"{share:.1%}"


def _money(amount: float | None, currency: str = "") -> str:
    if amount is None or math.isnan(amount):
        return "–"
    return f"{amount:,.0f}" + (f" {currency}" if currency else "")


def _width(share: float | None) -> str:
    width = 0.0 if share is None or math.isnan(share) else max(0.0, min(share, 1.0)) * 100
    return f"{width:.1f}"


def _lift_class(lift: float) -> str:
    return "lift-up" if lift >= 1.2 else "lift-down" if lift <= 0.8 else ""


@cache
def _environment() -> Environment:
    env = Environment(
        loader=PackageLoader("services.scorer", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters.update(pct=_pct, money=_money, width=_width, lift_class=_lift_class)
    env.globals.update(colors=COLORS, label_words=LABEL_WORDS, small_sample=SMALL_SAMPLE)
    return env


def _lifts(lifts: list[TraitLift]) -> list[dict[str, Any]]:
    return [
        {"title": title, "rows": [x for x in lifts if x.trait == trait][:TOP_TRAITS]}
        for trait, title in TRAIT_TITLES.items()
    ]


def _context(report: IcpReport, extras: ReportExtras | None) -> dict[str, Any]:
    trends = extras.trends if extras else []
    labels = [s.label for s in report.shares]
    for point in trends:
        labels += [name for name in point.counts if name not in labels]
    small = [x for x in report.lifts if x.icp_customers < SMALL_SAMPLE]
    return {
        "report": report,
        "extras": extras,
        "currency": extras.currency if extras else "",
        "scored": f"{report.scored_as_of:%Y-%m-%d}" if report.scored_as_of else "never",
        "traits": _lifts(report.lifts),
        "trend_labels": labels,
        "small_lifts": len(small),
    }


def render_body(report: IcpReport, extras: ReportExtras | None = None) -> Markup:
    """The report's sections (inside ``<div class="icp-report">``), for a page that has its own head."""
    template = _environment().get_template("icp_report/body.html")
    return Markup(template.render(_context(report, extras)))  # noqa: S704 - autoescaped template output


def render(report: IcpReport, extras: ReportExtras | None = None) -> str:
    """The whole report as one HTML document (``audiencesync report icp`` writes it to a file)."""
    template = _environment().get_template("icp_report/page.html")
    return template.render(body=render_body(report, extras), report=report)


def stylesheet() -> str:
    """The report's CSS (scoped to ``.icp-report``), for pages that embed ``render_body``."""
    source, _, _ = _environment().loader.get_source(_environment(), "icp_report/report.css")  # type: ignore[union-attr]
    return source
