"""Full and incremental rescoring against the real store, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import delete, func, select

from services.cli.main import main
from services.scorer.rescoring import full_rescore, rescore_customers
from shared.bus.envelope import decode
from shared.definitions.scoring import DEFAULT_SCORING, load_scoring
from shared.messages import LabelChanged
from shared.store.db import Store
from shared.store.models import (
    Customer,
    Erasure,
    Label,
    LabelHistory,
    Order,
    OutboxMessage,
    Refund,
    ScoringRun,
    SupportTicket,
)
from tests.integration.scorer.shop import AS_OF, ShopWriter, key, random_shop

pytestmark = pytest.mark.integration


def labels(store: Store) -> dict[str, tuple[object, ...]]:
    """Every stored label as comparable tuples."""
    with store.session() as s:
        return {
            row.customer_key: (row.label, row.stage, tuple(row.reasons), row.value, row.features)
            for row in s.scalars(select(Label))
        }


def announced(store: Store) -> list[LabelChanged]:
    """``LabelChanged`` messages waiting in the outbox, oldest first."""
    with store.session() as s:
        bodies = s.scalars(select(OutboxMessage.body).order_by(OutboxMessage.id)).all()
    return [LabelChanged.from_envelope(decode(body)) for body in bodies]


def count(store: Store, model: type, *where: object) -> int:
    with store.session() as s:
        return int(s.scalar(select(func.count()).select_from(model).where(*where)) or 0)


def test_incremental_and_full_rescoring_store_identical_labels(store: Store) -> None:
    names = random_shop(store, 90)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    after_full = labels(store)
    assert len(after_full) == len(names)
    assert {row[0] for row in after_full.values()} == {"icp", "neutral", "negative_icp"}
    with store.transaction() as s:
        s.execute(delete(Label))
    result = rescore_customers(store, DEFAULT_SCORING, [key(n) for n in names], now=AS_OF)
    assert result.mode == "incremental" and result.customers == len(names)
    assert labels(store) == after_full
    assert count(store, ScoringRun) == 1  # the stored calibration was reused, not refitted


def _later_facts_removed(store: Store) -> None:
    with store.transaction() as s:
        s.execute(delete(Refund).where(Refund.created_at > AS_OF))
        s.execute(delete(SupportTicket).where(SupportTicket.created_at > AS_OF))
        s.execute(delete(Order).where(Order.created_at > AS_OF))


def test_score_all_as_of_ignores_later_facts(
    store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    random_shop(store, 60, after_as_of=True)
    monkeypatch.setenv("DATABASE_URL", store.url)
    monkeypatch.setenv("AUDIENCESYNC_VAR_DIR", str(tmp_path))
    monkeypatch.delenv("KAFKA_BOOTSTRAP_SERVERS", raising=False)
    assert main(["score", "--all", "--as-of", AS_OF.date().isoformat()]) == 0
    with_later = labels(store)
    _later_facts_removed(store)
    assert main(["score", "--all", "--as-of", AS_OF.date().isoformat()]) == 0
    assert labels(store) == with_later
    with store.session() as s:
        runs = s.scalars(select(ScoringRun).order_by(ScoringRun.id)).all()
    assert [r.changed for r in runs] == [61, 0]
    assert all(r.as_of == AS_OF for r in runs)


def test_history_and_messages_only_for_material_changes(store: Store) -> None:
    names = random_shop(store, 60)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=True)
    assert count(store, LabelHistory) == len(names)
    assert len(announced(store)) == len(names)
    with store.transaction() as s:
        s.execute(delete(OutboxMessage))

    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=True)  # same facts: nothing moves
    assert count(store, LabelHistory) == len(names) and announced(store) == []

    quiet, busy = key(names[0]), key(names[1])
    with store.transaction() as s:
        s.get(Customer, quiet).accepts_email_marketing = False  # no effect on the score
        shop = ShopWriter(s)
        for day in range(1, 9):  # a burst of large recent orders
            shop.order(names[1], (AS_OF - timedelta(days=day)).strftime("%Y-%m-%d %H:%M"), 900.0)
    before = labels(store)[busy]
    rescore_customers(store, DEFAULT_SCORING, [quiet, busy], now=AS_OF)
    messages = announced(store)
    assert [m.customer_key for m in messages] == [busy]
    after = labels(store)[busy]
    assert (messages[0].previous_label, messages[0].label) == (before[0], after[0])
    assert messages[0].value == pytest.approx(float(after[3]), abs=1e-4)
    assert messages[0].stage == after[1] and list(messages[0].reasons) == list(after[2])
    assert count(store, LabelHistory, LabelHistory.customer_key == busy) == 2
    assert count(store, LabelHistory, LabelHistory.customer_key == quiet) == 1


def test_erasure_deletes_the_label_and_announces_the_removal(store: Store) -> None:
    names = random_shop(store, 40)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    gone = key(names[3])
    previous = labels(store)[gone][0]
    with store.transaction() as s:  # what the ingestor does on customers/redact
        s.add(Erasure(customer_key=gone, shop="test-shop", requested_at=AS_OF, source="test"))
        s.execute(delete(Customer).where(Customer.customer_key == gone))
    rescore_customers(store, DEFAULT_SCORING, [], erased=[gone], now=AS_OF)
    assert gone not in labels(store)
    assert count(store, LabelHistory, LabelHistory.customer_key == gone) == 0
    assert announced(store) == [LabelChanged(gone, None, previous_label=previous, erased=True)]


def test_without_a_calibration_a_full_rescore_runs_first(store: Store) -> None:
    names = random_shop(store, 40)
    now = AS_OF + timedelta(days=1)
    result = rescore_customers(store, DEFAULT_SCORING, [key(names[0])], now=now)
    assert result.mode == "full" and result.customers == len(names)
    assert len(labels(store)) == len(names) == len(announced(store))
    with store.session() as s:
        run = s.scalars(select(ScoringRun)).one()
    assert run.mode == "full" and run.calibration["profile"] == "default"
    assert run.as_of == now.astimezone(UTC)


def test_switching_profile_recalibrates_with_a_full_rescore(store: Store) -> None:
    names = random_shop(store, 40)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    seed = load_scoring({"profile": "seed"})
    result = rescore_customers(store, seed, [key(names[0])], now=datetime(2024, 7, 1, tzinfo=UTC))
    assert result.mode == "full"
    with store.session() as s:
        profiles = s.scalars(select(ScoringRun.profile).order_by(ScoringRun.id)).all()
    assert profiles == ["default", "seed"]


def test_a_shop_that_doubled_since_its_calibration_is_recalibrated(store: Store) -> None:
    random_shop(store, 20, seed=1)
    full_rescore(store, DEFAULT_SCORING, as_of=AS_OF, announce=False)
    names = random_shop(store, 80, seed=2, prefix="later")
    assert rescore_customers(store, DEFAULT_SCORING, [key(names[0])], now=AS_OF).mode == "full"
    assert rescore_customers(store, DEFAULT_SCORING, [key(names[1])], now=AS_OF).mode == "incremental"


def test_a_full_rescore_records_its_value_choice_and_incremental_rescoring_reuses_it(store: Store) -> None:
    random_shop(store, 400)
    config = load_scoring({"model": {"learned_min_buyers": 50, "learned_trees": 30}})
    full_rescore(store, config, as_of=AS_OF, announce=False)
    with store.session() as s:
        run = s.scalars(select(ScoringRun)).one()
    choice = run.summary["value_choice"]
    # Backtested on the shop's own latest window: every candidate's figures, the choice, its reason.
    assert set(choice["figures"]) == {"bgnbd_gamma_gamma", "learned", "blend"}, choice["reason"]
    assert choice["method"] in choice["figures"] and choice["reason"]
    assert set(choice["figures"]["learned"]) == {"top 5%", "top 10%", "top 20%", "spearman", "gini"}
    assert run.calibration["value_choice"]["method"] == choice["method"]
    before = labels(store)
    rescore_customers(store, config, [key("c1"), key("c2"), key("c3")], now=AS_OF)
    assert labels(store) == before
