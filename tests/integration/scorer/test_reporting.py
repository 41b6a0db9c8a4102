"""The ICP report from stored labels: shares, traits, reasons, and movements since the last report."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from services.scorer.report_html import render
from services.scorer.reporting import build_report, record_report
from services.scorer.rescoring import full_rescore, rescore_customers
from shared.definitions.scoring import DEFAULT_SCORING
from shared.store.db import Store
from shared.store.models import Label
from tests.integration.scorer.shop import AS_OF, ShopWriter, key, random_shop

pytestmark = pytest.mark.integration


def test_report_counts_labels_traits_reasons_and_moves_since_the_last_report(store: Store) -> None:
    names = random_shop(store, 80)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    first = build_report(store)
    assert first.since_what == "the first scoring"
    assert sum(s.customers for s in first.shares) == len(names) == first.customers
    assert {m.before for m in first.movements} == {"(new)"}  # everyone got a first label
    assert {lift.trait for lift in first.lifts} >= {"country", "top_category", "discount_use"}
    assert sum(r.customers for r in first.reasons) >= first.negative_customers > 0
    record_report(store, first)

    with store.session() as s:
        neutral = s.scalars(select(Label.customer_key).where(Label.label == "neutral").limit(1)).one()
    name = next(n for n in names if key(n) == neutral)
    with store.transaction() as s:
        shop = ShopWriter(s)
        for day in range(1, 12):
            shop.order(name, (AS_OF - timedelta(days=day * 7)).strftime("%Y-%m-%d %H:%M"), 2500.0)
    rescore_customers(store, DEFAULT_SCORING, [neutral], now=AS_OF)
    with store.session() as s:
        now = s.get(Label, neutral)
    assert now is not None and now.label != "neutral"

    second = build_report(store)
    assert second.since_what.startswith("the last report")
    assert [(m.before, m.after, m.customers) for m in second.movements] == [("neutral", now.label, 1)]
    page = render(second)
    assert "neutral" in page and "Movements since the last report" in page
