"""Faults through the real SDK: transient errors and throttling are survived, an expired token is not."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from services.sandbox_meta.server import RunningSandbox
from shared.store.db import Store
from shared.store.models import SyncBatch, SyncRun
from shared.sync.outcome import SyncOptions
from shared.sync.uploads import Progress
from tests.integration.syncer_meta.conftest import ACCOUNT, SPARE_TOKEN, TOKEN, audience_id
from tests.integration.syncer_meta.seed import Person, email_hash, seed

pytestmark = pytest.mark.integration

USERS = "/{audience_id}/users"


def test_transient_errors_and_a_throttling_window_are_waited_out(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i) for i in range(60)])
    syncer = make_syncer(META_BATCH_SIZE="10")
    sandbox.faults.set_transient(0.2, seed=7)
    sandbox.throttle(2, code=80003, account=ACCOUNT)
    started = time.monotonic()

    (report,) = syncer.sync(SyncOptions(), audience_key="icp_seed")

    assert report.status == "succeeded", report.message
    assert set(sandbox.state.members(audience_id(syncer, "icp_seed"))) == {email_hash(i) for i in range(60)}
    failed = [e.error_code for e in sandbox.calls.entries if e.error_code]
    assert 80003 in failed and {1, 2} & set(failed)
    assert time.monotonic() - started >= 1.0  # the window was waited out, not hammered
    uploads = [e for e in sandbox.calls.entries if e.route == USERS]
    assert sum(e.status == 200 for e in uploads) == 6  # each batch landed exactly once
    assert report.run is not None and report.run.api_calls == sandbox.calls.total


def test_an_expired_token_stops_the_run_at_once_with_an_operator_message(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(
        store, [Person(i, stage="abandoned_checkout") for i in range(10)] + [Person(10, label="negative_icp")]
    )
    syncer = make_syncer()
    sandbox.expire_token(TOKEN)
    started = time.monotonic()

    reports = syncer.sync(SyncOptions())

    assert time.monotonic() - started < 5
    assert [r.status for r in reports] == ["auth_error"] * 3
    assert sandbox.calls.total == 1  # no retry, and the account's other audiences were not tried
    assert "META_ACCESS_TOKEN_ACT_7007" in (reports[0].message or "")
    with store.session() as session:
        run = session.scalars(select(SyncRun)).one()
    assert (run.status, run.errors) == ("auth_error", 1) and run.message == reports[0].message


def test_after_a_token_expires_mid_run_a_new_token_sends_only_the_rest(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i) for i in range(25)])

    def expire_after_two(step: Progress) -> None:
        if step.seq == 2:
            sandbox.expire_token(TOKEN)

    (stopped,) = make_syncer(META_BATCH_SIZE="5", on_batch=expire_after_two).sync(
        SyncOptions(), audience_key="icp_seed"
    )
    assert stopped.status == "auth_error" and stopped.run is not None and stopped.run.added == 10
    sent_before = sandbox.calls[f"POST {USERS}"]

    renewed = make_syncer(META_BATCH_SIZE="5", META_ACCESS_TOKEN=SPARE_TOKEN)
    (done,) = renewed.sync(SyncOptions(), audience_key="icp_seed")

    assert done.status == "succeeded" and done.run is not None and done.run.added == 15
    assert sandbox.calls[f"POST {USERS}"] - sent_before == 3
    assert set(sandbox.state.members(audience_id(renewed, "icp_seed"))) == {email_hash(i) for i in range(25)}
    with store.session() as session:
        statuses = [b.status for b in session.scalars(select(SyncBatch).order_by(SyncBatch.id))]
    assert statuses == ["acknowledged", "acknowledged", "failed"] + ["acknowledged"] * 3
