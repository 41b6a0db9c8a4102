"""Who ends up where: exclusion wins, consent, erasure, guardrails, dry runs, invalid rows."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import insert, select

from services.sandbox_meta.server import RunningSandbox
from shared.store.db import Store
from shared.store.models import AudienceMembership, CustomerIdentifier, SyncRun
from shared.sync.outcome import SyncOptions
from tests.integration.syncer_meta.conftest import audience_id
from tests.integration.syncer_meta.seed import NOW, Person, email_hash, erase, key_of, relabel, seed

pytestmark = pytest.mark.integration

CHECKOUT = "abandoned_checkout"


def test_exclusion_wins_over_every_include_list_of_the_account(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(
        store,
        [Person(i, label="neutral", stage=CHECKOUT) for i in range(5)]
        + [Person(i, label="negative_icp", stage=CHECKOUT) for i in range(5, 8)],
    )
    syncer = make_syncer()
    reports = syncer.sync(SyncOptions())

    assert [r.audience for r in reports] == ["negative_icp_exclusion", "icp_seed", "retarget"]
    retarget = sandbox.state.members(audience_id(syncer, "retarget"))
    excluded = sandbox.state.members(audience_id(syncer, "negative_icp_exclusion"))
    assert set(retarget) == {email_hash(i) for i in range(5)}
    assert set(excluded) == {email_hash(i) for i in range(5, 8)}

    relabel(store, 0, label="negative_icp")  # the scorer moves a customer to the negative ICP
    syncer.sync(SyncOptions())

    assert email_hash(0) not in sandbox.state.members(audience_id(syncer, "retarget"))
    assert email_hash(0) in sandbox.state.members(audience_id(syncer, "negative_icp_exclusion"))


def test_consent_keeps_unconsented_customers_off_include_lists_but_not_off_suppression(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(
        store,
        [
            Person(0, email_consent=True),
            Person(1, email_consent=False, sms_consent=True),
            Person(2, email_consent=False),
            Person(3, email_consent=None),
            Person(4, label="negative_icp", email_consent=False),
        ],
    )
    syncer = make_syncer()
    syncer.sync(SyncOptions())

    assert set(sandbox.state.members(audience_id(syncer, "icp_seed"))) == {email_hash(0), email_hash(1)}
    assert set(sandbox.state.members(audience_id(syncer, "negative_icp_exclusion"))) == {email_hash(4)}

    strict = make_syncer(META_CONSENT="strict")
    strict.sync(SyncOptions(force=True), audience_key="negative_icp_exclusion")
    assert sandbox.state.members(audience_id(strict, "negative_icp_exclusion")) == {}


def test_an_erased_customer_is_removed_from_every_audience_with_the_ledger_row(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i, stage=CHECKOUT) for i in range(6)])
    syncer = make_syncer()
    syncer.sync(SyncOptions())
    assert email_hash(2) in sandbox.state.members(audience_id(syncer, "icp_seed"))
    assert email_hash(2) in sandbox.state.members(audience_id(syncer, "retarget"))

    erase(store, 2)  # identifiers and label are gone; only the ledger still knows the row
    with store.session() as session:
        assert (
            session.scalar(select(CustomerIdentifier).where(CustomerIdentifier.customer_key == key_of(2)))
            is None
        )
    reports = syncer.sync(SyncOptions())

    for key in ("icp_seed", "retarget"):
        assert email_hash(2) not in sandbox.state.members(audience_id(syncer, key))
        assert len(sandbox.state.members(audience_id(syncer, key))) == 5
    assert {r.audience: r.plan.erased for r in reports if r.plan} == {
        "negative_icp_exclusion": 0,
        "icp_seed": 1,
        "retarget": 1,
    }
    with store.session() as session:
        assert (
            session.scalar(select(AudienceMembership).where(AudienceMembership.customer_key == key_of(2)))
            is None
        )


def test_guardrail_refuses_a_mass_removal_without_force_but_still_erases(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i) for i in range(10)])
    syncer = make_syncer(META_MIN_AUDIENCE_SIZE="5", META_MAX_REMOVE_SHARE="0.2")
    syncer.sync(SyncOptions(), audience_key="icp_seed")
    seed_id = audience_id(syncer, "icp_seed")
    for i in range(4):
        relabel(store, i, label="neutral")
    erase(store, 9)

    (refused,) = syncer.sync(SyncOptions(), audience_key="icp_seed")

    assert refused.status == "refused" and "--force" in (refused.message or "")
    assert set(sandbox.state.members(seed_id)) == {email_hash(i) for i in range(9)}  # only the erasure went
    (forced,) = syncer.sync(SyncOptions(force=True), audience_key="icp_seed")
    assert forced.status == "succeeded"
    assert set(sandbox.state.members(seed_id)) == {email_hash(i) for i in range(4, 9)}


def test_a_dry_run_plans_and_changes_nothing(sandbox: RunningSandbox, store: Store, make_syncer) -> None:
    seed(store, [Person(i) for i in range(25)])
    (report,) = make_syncer(dry_run=True, META_BATCH_SIZE="10").sync(
        SyncOptions(dry_run=True), audience_key="icp_seed"
    )

    assert report.status == "dry_run" and report.plan is not None and report.plan.new == 25
    assert report.feedback["planned_calls"] == 2 + 3  # find + create the audience, ceil(25 / 10) uploads
    assert sandbox.calls.total == 0 and sandbox.state.audiences() == []
    with store.session() as session:
        assert session.scalar(select(AudienceMembership)) is None
        run = session.scalars(select(SyncRun)).one()
    assert (run.mode, run.status, run.added, run.api_calls) == ("dry_run", "dry_run", 0, 0)


def test_an_invalid_row_is_mapped_to_its_customer_and_the_rest_of_the_batch_lands(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i, value=Decimal(10)) for i in range(5)])
    with store.transaction() as session:  # a corrupt identifier: not a SHA-256 digest
        session.execute(
            insert(CustomerIdentifier),
            [
                {
                    "customer_key": key_of(2),
                    "platform": "meta",
                    "field": "ZIP",
                    "value": "9410",
                    "added_at": NOW,
                }
            ],
        )
    syncer = make_syncer()
    (report,) = syncer.sync(SyncOptions(), audience_key="icp_seed")

    assert report.status == "succeeded" and report.run is not None
    assert report.run.invalid == 1
    assert report.run.feedback["invalid_samples"][0]["customer_key"] == key_of(2)
    assert "ZIP" in report.run.feedback["invalid_samples"][0]["reason"]
    assert set(sandbox.state.members(audience_id(syncer, "icp_seed"))) == {
        email_hash(i) for i in (0, 1, 3, 4)
    }
