"""Labels in the database, the syncer through the real SDK, the sandbox's members as the proof."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import func, select

from services.sandbox_meta.server import RunningSandbox
from shared.store.db import Store
from shared.store.models import AudienceMembership, AudienceSnapshot, SyncBatch
from shared.sync.outcome import SyncOptions
from tests.integration.syncer_meta.conftest import audience_id
from tests.integration.syncer_meta.seed import Person, email_hash, seed

pytestmark = pytest.mark.integration


def test_members_and_values_equal_the_desired_audience_and_a_second_sync_is_free(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    icp = [Person(i, value=Decimal(i) + Decimal("0.25")) for i in range(30)]
    others = [Person(i, label="neutral") for i in range(30, 40)]
    seed(store, icp + others)
    syncer = make_syncer(META_BATCH_SIZE="7")

    reports = syncer.sync(SyncOptions(), audience_key="icp_seed")

    (report,) = reports
    assert report.status == "succeeded" and report.run is not None
    assert (report.run.desired, report.run.added, report.run.removed) == (30, 30, 0)
    members = sandbox.state.members(audience_id(syncer, "icp_seed"))
    assert members == {email_hash(p.i): float(p.value + 0) for p in icp}  # type: ignore[operator]
    assert sandbox.calls["POST /{audience_id}/users"] == 5  # ceil(30 / 7)
    with store.session() as session:
        assert session.scalar(select(func.count()).select_from(AudienceMembership)) == 30
        assert session.scalar(select(func.count()).where(SyncBatch.status == "acknowledged")) == 5
        snapshot = session.scalars(select(AudienceSnapshot)).one()
    assert (snapshot.size_lower, snapshot.size_upper, snapshot.operation_status) == (1000, 1000, 200)

    calls_before = sandbox.calls.total
    (again,) = syncer.sync(SyncOptions(), audience_key="icp_seed")

    assert again.status == "succeeded" and again.run is not None
    assert (again.run.added, again.run.removed, again.run.api_calls) == (0, 0, 0)
    assert sandbox.calls.total == calls_before  # no change, no call
