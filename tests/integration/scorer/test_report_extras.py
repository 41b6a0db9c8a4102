"""The ICP report's money, reasons in words, audiences fed and trends, read from a scored shop."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from services.scorer.report_extras import build_extras
from services.scorer.report_html import SMALL_SAMPLE, render
from services.scorer.reporting import build_report, record_report
from services.scorer.rescoring import full_rescore
from shared.definitions import DEFAULT_FILE, load_definitions
from shared.definitions.scoring import DEFAULT_SCORING
from shared.store.db import Store
from shared.store.models import Audience, AudienceSnapshot, DestinationAudience, Label
from tests.integration.scorer.shop import AS_OF, random_shop

pytestmark = pytest.mark.integration


def _destination(store: Store, audience: str, platform: str, lower: int, upper: int) -> None:
    now = datetime.now(UTC)
    with store.transaction() as s:
        if s.get(Audience, audience) is None:
            s.add(
                Audience(
                    key=audience,
                    role="include",
                    definition={},
                    origin="config",
                    created_at=now,
                    updated_at=now,
                )
            )
            s.flush()
        dest = DestinationAudience(
            audience_key=audience,
            platform=platform,
            account_id="acct",
            kind="custom",
            status="active",
            created_at=now,
        )
        s.add(dest)
        s.flush()
        s.add(AudienceSnapshot(destination_audience_id=dest.id, at=now, size_lower=lower, size_upper=upper))


def test_money_reasons_audiences_and_trends_match_the_stored_labels(store: Store) -> None:
    random_shop(store, 80)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    record_report(store, build_report(store))
    _destination(store, "icp_seed", "meta", 1000, 1200)
    _destination(store, "icp_seed", "google", 70, 70)

    report = build_report(store)
    extras = build_extras(store, "EUR", load_definitions(DEFAULT_FILE))

    with store.session() as s:
        labels = s.scalars(select(Label)).all()
        expected = {}
        for row in labels:
            n, orders, revenue, value = expected.get(row.label, (0, 0.0, 0.0, 0.0))
            features = row.features or {}
            expected[row.label] = (
                n + 1,
                orders + float(features.get("orders") or 0),
                revenue + float(features.get("ltv") or 0),
                value + float(row.value or 0),
            )
    assert {m.label for m in extras.money} == set(expected)
    for money in extras.money:
        n, orders, revenue, value = expected[money.label]
        assert (money.customers, money.orders) == (n, orders)
        assert money.revenue == pytest.approx(revenue) and money.predicted_value == pytest.approx(value)
        assert money.aov == (pytest.approx(revenue / orders) if orders else None)
        assert money.ltv == pytest.approx(revenue / n)

    negative = [r for r in extras.reasons if r.label == "negative_icp"]
    assert negative and sum(r.customers for r in negative) >= report.negative_customers
    assert all(
        re.search(r"\d", r.words) and "=" not in r.words for r in extras.reasons
    )  # thresholds, in words

    fed = {a.key: a for a in extras.audiences}
    assert fed["icp_seed"].labels == ("icp",)
    assert {(d.platform, d.size_lower, d.size_upper) for d in fed["icp_seed"].destinations} == {
        ("meta", 1000, 1200),
        ("google", 70, 70),
    }
    assert (
        fed["negative_icp_exclusion"].role == "exclusion" and not fed["negative_icp_exclusion"].destinations
    )

    assert [p.what for p in extras.trends] == ["full rescore", "report"]
    assert extras.trends[-1].counts == {s.label: s.customers for s in report.shares}

    page = render(report, extras)
    assert "Money per label (EUR)" in page and "1,000–1,200" in page and "not synced yet" in page
    assert "<script" not in page and not re.search(r"(src|href)=\"?https?:", page)
    small = [x for x in report.lifts if x.icp_customers < SMALL_SAMPLE]
    assert ("Small sample" in page) == bool(small)
    for row in labels:
        assert row.customer_key not in page  # no customer is named, not even by hash
