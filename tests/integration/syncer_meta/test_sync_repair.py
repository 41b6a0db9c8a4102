"""Repair mode: usersreplace makes the audience equal the desired set without ever emptying it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import delete, func, select

from services.sandbox_meta.server import RunningSandbox
from shared.store.db import Store
from shared.store.models import AudienceMembership, SyncBatch
from shared.sync.outcome import SyncOptions
from shared.sync.uploads import Progress
from tests.integration.syncer_meta.conftest import ACCOUNT, audience_id, sdk_audience
from tests.integration.syncer_meta.seed import Person, email_hash, key_of, seed, sha

pytestmark = pytest.mark.integration


def test_repair_replaces_drifted_members_and_the_audience_is_never_empty(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i, value=Decimal(3)) for i in range(30)])
    syncer = make_syncer(META_BATCH_SIZE="10")
    (first,) = syncer.sync(SyncOptions(), audience_key="icp_seed")
    assert first.status == "succeeded", first.message
    seed_id = audience_id(syncer, "icp_seed")
    # Drift: someone added strangers in Ads Manager, and the ledger lost track of five members.
    strangers = [[sha(f"stranger{i}@example.com"), 1.0] for i in range(4)]
    sdk = sdk_audience(sandbox.url, seed_id)
    sdk.add_users(["EMAIL", "LOOKALIKE_VALUE"], strangers, is_raw=True, pre_hashed=True)
    with store.transaction() as session:
        session.execute(
            delete(AudienceMembership).where(
                AudienceMembership.customer_key.in_([key_of(i) for i in range(5)])
            )
        )
    sdk.get_api()._session.requests.close()
    seen: list[int] = []

    def watch(step: Progress) -> None:
        seen.append(len(sandbox.state.members(seed_id)))

    repairer = make_syncer(META_BATCH_SIZE="10", on_batch=watch)
    (report,) = repairer.sync(SyncOptions(repair=True), audience_key="icp_seed")

    assert report.status == "succeeded" and report.mode == "repair"
    assert seen == [34, 34, 30]  # old members stay live while the replace is staged
    assert sandbox.state.members(seed_id) == {email_hash(i): 3.0 for i in range(30)}
    assert sandbox.calls["POST /{audience_id}/usersreplace"] == 3
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(AudienceMembership)) == 30
        replaced = session.scalars(select(SyncBatch).where(SyncBatch.direction == "replace")).all()
    assert {b.session_id for b in replaced} == {
        s.session_id for s in sandbox.state.sessions(seed_id) if s.kind == "replace"
    }
    calls = sandbox.calls.total
    (after,) = repairer.sync(SyncOptions(), audience_key="icp_seed")
    assert after.run is not None and after.run.api_calls == 0 and sandbox.calls.total == calls


def test_an_adopted_audience_is_used_instead_of_creating_one(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i, label="negative_icp") for i in range(3)])
    syncer = make_syncer()
    existing = syncer.syncs[ACCOUNT].platform.create_audience("made by hand", "ad-ops", value_based=False)
    syncer.adopt("negative_icp_exclusion", ACCOUNT, existing)

    (report,) = syncer.sync(SyncOptions(repair=True), audience_key="negative_icp_exclusion")

    assert report.status == "succeeded" and report.platform_audience_id == existing
    assert set(sandbox.state.members(existing)) == {email_hash(i) for i in range(3)}
    assert len(sandbox.state.audiences()) == 1


class SimulatedCrashError(Exception):
    """Stands in for the process dying between two batches."""


@pytest.mark.parametrize("minutes_later", [0, 91])
def test_an_interrupted_repair_resumes_or_tops_up_and_ends_exact(
    sandbox: RunningSandbox, store: Store, make_syncer, minutes_later: int
) -> None:
    seed(store, [Person(i, value=Decimal(1)) for i in range(30)])
    syncer = make_syncer(META_BATCH_SIZE="10")
    syncer.sync(SyncOptions(), audience_key="icp_seed")
    seed_id = audience_id(syncer, "icp_seed")
    sdk = sdk_audience(sandbox.url, seed_id)
    sdk.add_users(
        ["EMAIL", "LOOKALIKE_VALUE"], [[sha("stranger@example.com"), 1.0]], is_raw=True, pre_hashed=True
    )
    sdk.get_api()._session.requests.close()

    def crash_after_first(step: Progress) -> None:
        if step.seq == 1:
            raise SimulatedCrashError

    with pytest.raises(SimulatedCrashError):
        make_syncer(META_BATCH_SIZE="10", on_batch=crash_after_first).sync(
            SyncOptions(repair=True), audience_key="icp_seed"
        )
    assert len(sandbox.state.members(seed_id)) == 31  # the replace is staged, nothing swapped yet
    sandbox.clock.advance(minutes_later * 60)  # past 90 minutes Meta applies what arrived: 10 people

    (resumed,) = make_syncer(META_BATCH_SIZE="10").sync(SyncOptions(), audience_key="icp_seed")

    assert resumed.status == "succeeded" and resumed.resumed and resumed.mode == "repair"
    assert sandbox.state.members(seed_id) == {email_hash(i): 1.0 for i in range(30)}
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(AudienceMembership)) == 30
    replaced, added = (
        sandbox.calls["POST /{audience_id}/usersreplace"],
        sandbox.calls["POST /{audience_id}/users"],
    )
    before = 3 + 1  # the first sync's batches and the stranger's add
    if minutes_later:  # the late batch was refused (1870158); the other 20 went by add, the stranger is gone
        assert (replaced, added) == (2, before + 2)
    else:  # the same replace session went on with batch_seq 2 and 3
        assert (replaced, added) == (3, before)
