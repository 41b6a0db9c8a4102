"""Faults from outside: transient errors, quota windows, concurrent modification, bad credentials."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.store.db import Store
from shared.sync.outcome import SyncOptions
from tests.integration.syncer_google.seed import Person, email_hash, seed

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(tmp_path) -> str:  # type: ignore[no-untyped-def]
    """Faults are the platform's side: one database kind is enough here (both run elsewhere)."""
    return f"sqlite:///{tmp_path / 'audiencesync.db'}"


PEOPLE = [Person(i, country="DE") for i in range(1, 41)]
ADS_ONLY = [{"key": "icp_ads", "select": {"label": "icp"}, "destinations": {"google": {"api": "google_ads"}}}]
DM_ONLY = [{"key": "icp_seed", "select": {"label": "icp"}, "destinations": {"google": {}}}]


def held(sandbox: Any) -> set[str]:
    (found,) = sandbox.state.user_lists()
    return set(sandbox.state.members(found.id))


def everyone() -> set[str]:
    return {f"email:{email_hash(p.i)}" for p in PEOPLE}


def test_transient_errors_and_a_quota_window_are_survived(
    store: Store, google_sandbox: Any, make_syncer: Any
) -> None:
    seed(store, PEOPLE)
    google_sandbox.faults.set_transient(0.3, seed=7)
    google_sandbox.faults.open_quota_window(google_sandbox.clock.now() + 1.5, scope="datamanager")
    started = time.monotonic()
    reports = make_syncer(DM_ONLY, batch_size=10, max_attempts=8, retry_base_seconds=0.05).sync(SyncOptions())
    assert [r.status for r in reports] == ["succeeded"], [r.message for r in reports]
    assert held(google_sandbox) == everyone()
    codes = {entry.code for entry in google_sandbox.calls.entries}
    assert {"UNAVAILABLE", "RESOURCE_EXHAUSTED"} <= codes  # both faults were met, and waited out
    assert time.monotonic() - started >= 1.0


def test_concurrent_modification_on_the_ads_path_is_retried(
    store: Store, google_sandbox: Any, make_syncer: Any
) -> None:
    seed(store, PEOPLE)
    google_sandbox.faults.add_concurrent_modifications(2)
    reports = make_syncer(ADS_ONLY, retry_base_seconds=0.05).sync(SyncOptions())
    assert [r.status for r in reports] == ["succeeded"], [r.message for r in reports]
    assert held(google_sandbox) == everyone()
    assert any(e.code != "OK" for e in google_sandbox.calls.entries)


def test_a_developer_token_not_allowlisted_stops_at_once_with_the_switch_advice(
    store: Store, google_sandbox: Any, make_syncer: Any
) -> None:
    from services.sandbox_google.config import GoogleSandboxConfig
    from services.sandbox_google.server import run_google_sandbox
    from services.sandbox_google.testing import session_identity

    seed(store, PEOPLE)
    config = GoogleSandboxConfig(developer_tokens=("plain-dev",), tls_identity=session_identity())
    with run_google_sandbox(config) as sandbox:
        from services.syncer_google.bootstrap import build_service
        from shared.config import Settings
        from tests.integration.syncer_google.conftest import definitions, google_settings

        syncer = build_service(
            Settings(database_url=store.url), store,
            google=google_settings(sandbox, developer_token="plain-dev"), definitions=definitions(ADS_ONLY),
        )  # fmt: skip
        (report,) = syncer.sync(SyncOptions())
        syncer.close()
        calls = len(sandbox.calls)
    assert report.status == "permission_error"
    assert report.message is not None and "api: datamanager" in report.message
    assert calls <= 4  # find/create the list, one refused job: no retries


def test_an_unknown_access_token_is_an_auth_error(
    store: Store, google_sandbox: Any, make_syncer: Any
) -> None:
    seed(store, PEOPLE)
    reports = make_syncer(DM_ONLY, access_token="revoked").sync(SyncOptions())
    assert [r.status for r in reports] == ["auth_error"]
    assert "GOOGLE_ACCESS_TOKEN" in (reports[0].message or "")
