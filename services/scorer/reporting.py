"""The ICP report: who the ICP customers are, what sets them apart, why others are negative.

Built from the stored labels (their compact features), so it describes exactly the lists the
audiences upload. Movements compare each customer's label now with their label at the previous
report (from ``label_history``); before any report, with the previous full rescore.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from services.scorer.adapters.label_reads import current_labels, label_columns, labels_at
from services.scorer.adapters.runs import FULL, REPORT, latest_run, save_run
from services.scorer.domain.insights import (
    LabelShare,
    Movement,
    ReasonCount,
    TraitLift,
    discount_use,
    label_shares,
    movements,
    reason_counts,
    trait_lifts,
)
from shared.store.db import Store

TRAITS = ("country", "channel", "top_category")
TRAIT_TITLES = {
    "country": "country",
    "channel": "acquisition channel",
    "top_category": "top category",
    "discount_use": "discount use",
}


@dataclass(frozen=True)
class IcpReport:
    """Everything the terminal summary and the HTML file show."""

    generated_at: datetime
    scored_as_of: datetime | None
    profile: str
    customers: int
    buyers: int
    icp_buyers: int
    shares: list[LabelShare]
    lifts: list[TraitLift]
    negative_customers: int
    reasons: list[ReasonCount]
    since: datetime | None
    since_what: str
    movements: list[Movement]


def _baseline(store: Store, since: datetime | None) -> tuple[datetime | None, str]:
    """When movements are counted from: the given moment, the last report, the previous rescore."""
    if since is not None:
        return since, since.date().isoformat()
    with store.session() as session:
        report = latest_run(session, REPORT)
        if report is not None:
            return report.started_at, f"the last report ({report.started_at:%Y-%m-%d %H:%M} UTC)"
        latest = latest_run(session, FULL)
        before = latest_run(session, FULL, before_id=latest.id) if latest else None
    if latest is not None and before is not None:
        # The previous rescore's labels are those stamped before the latest one started.
        return latest.started_at, f"the previous full rescore ({before.started_at:%Y-%m-%d %H:%M} UTC)"
    return None, "the first scoring"


def build_report(store: Store, *, since: datetime | None = None) -> IcpReport:
    """Compute the report from the stored labels."""
    numbers = ("ltv", "orders", "discount_share")
    with store.session() as session:
        columns = label_columns(session, numbers, TRAITS)
        latest = latest_run(session, FULL)
    f = columns.features
    buyers = np.nan_to_num(f["orders"]) > 0
    icp = columns.label == "icp"
    negative = columns.label == "negative_icp"
    traits = {name: f[name] for name in TRAITS} | {"discount_use": discount_use(f["discount_share"])}
    moment, what = _baseline(store, since)
    with store.session() as session:
        now_labels = current_labels(session)
        then = labels_at(session, moment) if moment is not None else {}
    keys = sorted(set(now_labels) | set(then))
    return IcpReport(
        generated_at=datetime.now(UTC),
        scored_as_of=latest.as_of if latest else None,
        profile=latest.profile if latest else "",
        customers=len(columns.label),
        buyers=int(buyers.sum()),
        icp_buyers=int((icp & buyers).sum()),
        shares=label_shares(columns.label, f["ltv"], columns.value),
        lifts=trait_lifts(traits, icp, buyers),
        negative_customers=int(negative.sum()),
        reasons=reason_counts(r for r, neg in zip(columns.reasons, negative.tolist(), strict=True) if neg),
        since=moment,
        since_what=what,
        movements=movements([then.get(k) for k in keys], [now_labels.get(k) for k in keys]),
    )


def record_report(store: Store, report: IcpReport) -> None:
    """Remember that this report was produced: the next one counts movements from here."""
    with store.transaction() as session:
        save_run(
            session,
            mode=REPORT,
            profile=report.profile,
            as_of=report.scored_as_of or report.generated_at,
            started_at=report.generated_at,
            finished_at=datetime.now(UTC),
            customers=report.customers,
            changed=sum(m.customers for m in report.movements),
            summary={"labels": {s.label: s.customers for s in report.shares}},
        )
