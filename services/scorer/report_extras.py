"""What the ICP report adds to the scorer's numbers: money per label, reasons in words, the
audiences each label feeds with their platform sizes, and the label mix at earlier runs.

Read-only queries over ``labels``, ``scoring_runs``, ``destination_audiences`` and
``audience_snapshots``; money is the base currency the ingestor converted every order to.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from services.scorer.adapters.aggregates import CHUNK_ROWS
from services.scorer.adapters.runs import FULL, REPORT
from services.scorer.domain.insights import LABEL_ORDER
from services.scorer.report_words import ReasonLine, reason_lines
from shared.definitions import Definitions
from shared.store.db import Store
from shared.store.models import AudienceSnapshot, DestinationAudience, Label, ScoringRun

TREND_RUNS = 8  # earlier runs shown in the trend table


@dataclass(frozen=True)
class LabelMoney:
    """One label's money in the base currency: history (revenue, AOV, LTV) and prediction."""

    label: str
    customers: int
    orders: int
    revenue: float  # net of refunds, to date
    predicted_value: float  # the value model's prediction, summed

    @property
    def aov(self) -> float | None:
        """Net revenue per order."""
        return self.revenue / self.orders if self.orders else None

    @property
    def ltv(self) -> float | None:
        """Net revenue per customer to date."""
        return self.revenue / self.customers if self.customers else None

    @property
    def value_per_customer(self) -> float | None:
        """Predicted value per customer."""
        return self.predicted_value / self.customers if self.customers else None


@dataclass(frozen=True)
class PlatformSize:
    """One destination of an audience and the size its platform last reported."""

    platform: str
    account: str
    kind: str
    status: str
    size_lower: int | None
    size_upper: int | None
    at: datetime | None


@dataclass(frozen=True)
class FedAudience:
    """An audience that selects customers by label, and where it is synced."""

    key: str
    role: str
    labels: tuple[str, ...]  # the labels it selects ("not x" for an exclusion of a label)
    destinations: list[PlatformSize]


@dataclass(frozen=True)
class TrendPoint:
    """The label mix after one full rescore or report."""

    at: datetime
    what: str
    counts: dict[str, int]

    @property
    def total(self) -> int:
        """Customers labelled then."""
        return sum(self.counts.values())


@dataclass(frozen=True)
class ReportExtras:
    """Everything the report shows beyond ``IcpReport``."""

    currency: str
    money: list[LabelMoney]
    reasons: list[ReasonLine]
    audiences: list[FedAudience]
    trends: list[TrendPoint] = field(default_factory=list)


def label_money(store: Store) -> list[LabelMoney]:
    """Customers, orders, net revenue and predicted value per label, in one grouped query."""
    ltv = Label.features["ltv"].as_float()
    orders = Label.features["orders"].as_float()
    query = select(
        Label.label, func.count(), func.sum(orders), func.sum(ltv), func.sum(Label.value)
    ).group_by(Label.label)
    with store.session() as session:
        rows = session.execute(query).all()
    found = {
        label: LabelMoney(label, int(n), int(o or 0), float(r or 0), float(v or 0))
        for label, n, o, r, v in rows
    }
    order = [name for name in LABEL_ORDER if name in found] + sorted(set(found) - set(LABEL_ORDER))
    return [found[name] for name in order]


def label_reasons(store: Store, currency: str) -> list[ReasonLine]:
    """Each condition that labelled customers, in words with its threshold, and how many it caught."""
    query = select(Label.label, Label.reasons).where(Label.label != "neutral")
    with store.session() as session:
        rows = session.execute(query, execution_options={"yield_per": CHUNK_ROWS})
        return reason_lines(((label, list(why or [])) for label, why in rows), currency)


def trends(store: Store, limit: int = TREND_RUNS) -> list[TrendPoint]:
    """The label mix recorded by the latest ``limit`` full rescores and reports, oldest first."""
    query = (
        select(ScoringRun.started_at, ScoringRun.mode, ScoringRun.summary)
        .where(ScoringRun.mode.in_((FULL, REPORT)))
        .order_by(ScoringRun.id.desc())
        .limit(limit)
    )
    with store.session() as session:
        rows = session.execute(query).all()
    points = []
    for at, mode, summary in reversed(rows):
        counts = dict((summary or {}).get("labels") or {})
        if counts:
            what = "report" if mode == REPORT else "full rescore"
            points.append(TrendPoint(at, what, {str(k): int(v) for k, v in counts.items()}))
    return points


def _selected_labels(select_: Any) -> tuple[str, ...]:
    labels = sorted(select_.labels)
    return tuple(labels) + tuple(f"not {x}" for x in sorted(select_.labels_not))


def fed_audiences(store: Store, definitions: Definitions | None) -> list[FedAudience]:
    """Audiences (declared, or else as synced) with each destination's last reported size."""
    with store.session() as session:
        dests = session.scalars(
            select(DestinationAudience).order_by(
                DestinationAudience.audience_key, DestinationAudience.platform, DestinationAudience.id
            )
        ).all()
        latest = dict(
            session.execute(
                select(AudienceSnapshot.destination_audience_id, func.max(AudienceSnapshot.id)).group_by(
                    AudienceSnapshot.destination_audience_id
                )
            ).all()
        )
        snaps = {
            s.destination_audience_id: s
            for s in session.scalars(
                select(AudienceSnapshot).where(AudienceSnapshot.id.in_(list(latest.values())))
            )
        }
        sizes: dict[str, list[PlatformSize]] = {}
        for d in dests:
            snap = snaps.get(d.id)
            sizes.setdefault(d.audience_key, []).append(
                PlatformSize(
                    d.platform,
                    d.account_id,
                    d.kind + (f" {d.variant}" if d.variant else ""),
                    d.status,
                    snap.size_lower if snap else None,
                    snap.size_upper if snap else None,
                    snap.at if snap else None,
                )
            )
    if definitions is None:
        return [FedAudience(key, "include", (), found) for key, found in sizes.items()]
    return [
        FedAudience(a.key, a.role, _selected_labels(a.select), sizes.get(a.key, []))
        for a in definitions.audiences
        if a.select.labels or a.select.labels_not
    ]


def build_extras(store: Store, currency: str, definitions: Definitions | None = None) -> ReportExtras:
    """Everything the report adds, read now."""
    return ReportExtras(
        currency=currency,
        money=label_money(store),
        reasons=label_reasons(store, currency),
        audiences=fed_audiences(store, definitions),
        trends=trends(store),
    )
