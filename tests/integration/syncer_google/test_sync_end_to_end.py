"""The Google syncer end to end through the official clients: both paths, consent, zero-call reruns."""

from __future__ import annotations

import time
from typing import Any

import pytest

from shared.store.db import Store
from shared.sync.outcome import SyncOptions
from tests.integration.syncer_google.seed import Person, email_hash, erase, relabel, seed, set_consent

pytestmark = pytest.mark.integration

PEOPLE = [
    Person(1, country="DE"),  # EEA, both granted: uploaded with its consent
    Person(2, country="DE", ad_user_data=None, ad_personalization=None),  # EEA, unknown: never
    Person(3, country="US", ad_user_data=None, ad_personalization=None),  # elsewhere, marketing: yes
    Person(4, country="US", ad_user_data=None, ad_personalization=None, marketing=False),  # no
    Person(5, country="FR", ad_user_data=True, ad_personalization=False),  # denied: never
    Person(6, country="GB", label="negative_icp"),  # suppression list
    Person(7, country=None, ad_user_data=None, ad_personalization=None),  # unknown country: as EEA
    Person(8, country="CH", address=False),
]


def members(sandbox: Any, syncer: Any, audience: str) -> dict[str, tuple[str, str]]:
    lists = [lst for lst in sandbox.state.user_lists() if lst.name.endswith(f" {audience}")]
    assert len(lists) == 1, lists
    return sandbox.state.members(lists[0].id)


def emails(*ids: int) -> set[str]:
    return {f"email:{email_hash(i)}" for i in ids}


def test_both_paths_upload_exactly_the_consenting_members_then_rerun_makes_no_call(
    store: Store, google_sandbox: Any, make_syncer: Any
) -> None:
    seed(store, PEOPLE)
    syncer = make_syncer()
    reports = syncer.sync(SyncOptions())
    assert {(r.audience, r.status) for r in reports} == {
        ("negative_icp_exclusion", "succeeded"),
        ("icp_seed", "succeeded"),
        ("icp_ads", "succeeded"),
    }, [r.message for r in reports]

    for audience in ("icp_seed", "icp_ads"):
        got = members(google_sandbox, syncer, audience)
        assert set(got) == emails(1, 3, 8), audience
    # Size and match rate read back into the snapshot series, as for Meta.
    readbacks = {r.audience: r.readback for r in reports}
    assert readbacks["icp_seed"] is not None and readbacks["icp_seed"].lower == 3
    assert "match_rate" in readbacks["icp_seed"].details
    dm = members(google_sandbox, syncer, "icp_seed")
    assert dm[f"email:{email_hash(1)}"] == ("CONSENT_GRANTED", "CONSENT_GRANTED")
    assert dm[f"email:{email_hash(3)}"] == ("CONSENT_STATUS_UNSPECIFIED", "CONSENT_STATUS_UNSPECIFIED")
    assert set(members(google_sandbox, syncer, "negative_icp_exclusion")) == emails(6)

    before = len(google_sandbox.calls)
    again = make_syncer().sync(SyncOptions(record_noop=False))
    assert all(r.status == "succeeded" for r in again)
    assert len(google_sandbox.calls) == before  # nothing changed: not a single call


def test_withdrawal_relabel_and_erasure_remove_members(
    store: Store, google_sandbox: Any, make_syncer: Any
) -> None:
    seed(store, PEOPLE)
    make_syncer().sync(SyncOptions())
    set_consent(store, 1, ad_user_data=True, ad_personalization=False)  # withdrawn
    relabel(store, 3, label="negative_icp")  # moves to the suppression list
    erase(store, 8)
    guarded = make_syncer().sync(SyncOptions())
    refused = {r.audience for r in guarded if r.status == "refused"}
    assert refused == {"icp_seed", "icp_ads"}  # 2 of 3 members gone: Google's guardrail holds it
    assert f"email:{email_hash(8)}" not in members(google_sandbox, make_syncer(), "icp_seed")  # erasure went
    syncer = make_syncer()
    reports = syncer.sync(SyncOptions(force=True))
    assert all(r.status == "succeeded" for r in reports), [r.message for r in reports]
    for audience in ("icp_seed", "icp_ads"):
        assert members(google_sandbox, syncer, audience) == {}, audience
    assert set(members(google_sandbox, syncer, "negative_icp_exclusion")) == emails(3, 6)


def test_dry_run_plans_and_sends_nothing(store: Store, google_sandbox: Any, make_syncer: Any) -> None:
    seed(store, PEOPLE)
    from services.syncer_google.bootstrap import build_service
    from shared.config import Settings
    from tests.integration.syncer_google.conftest import definitions, google_settings

    syncer = build_service(
        Settings(database_url=store.url), store, google=google_settings(google_sandbox),
        definitions=definitions(), dry_run=True,
    )  # fmt: skip
    reports = syncer.sync(SyncOptions(dry_run=True))
    syncer.close()
    assert {r.audience: r.plan.new for r in reports if r.plan} == {
        "icp_seed": 3, "icp_ads": 3, "negative_icp_exclusion": 1,
    }  # fmt: skip
    assert len(google_sandbox.calls) == 0


def test_repair_is_a_safe_replace_that_drops_only_strays(
    store: Store, google_sandbox: Any, make_syncer: Any
) -> None:
    from google.oauth2.credentials import Credentials

    from services.syncer_google.adapters.calls import GoogleCalls
    from services.syncer_google.adapters.datamanager import DataManagerLists

    seed(store, PEOPLE)
    dm_only = [{"key": "icp_seed", "select": {"label": "icp"}, "destinations": {"google": {}}}]
    make_syncer(dm_only).sync(SyncOptions())
    (found,) = google_sandbox.state.user_lists()
    # Someone added a stray member by hand in the account: a normal sync cannot know about it.
    stray = ("f" * 64, "", "", "", "", "", "", "")

    class Free:
        def take(self, max_wait: float) -> float:
            return 0.0

    by_hand = DataManagerLists(
        GoogleCalls(Free()), operating_account="1234567890", login_account=None,
        credentials=Credentials(token="sandbox-token"), endpoint=google_sandbox.endpoint,  # type: ignore[no-untyped-call]
        ca_pem=google_sandbox.ca_pem,
    )  # fmt: skip
    by_hand.add(str(found.id), [stray])
    by_hand.close()
    time.sleep(0.5)
    assert f"email:{'f' * 64}" in google_sandbox.state.members(found.id)

    (report,) = make_syncer(dm_only).sync(SyncOptions(repair=True))
    assert report.status == "succeeded" and report.mode == "repair", report.message
    assert set(google_sandbox.state.members(found.id)) == emails(1, 3, 8)
    assert google_sandbox.calls["IngestionService/RemoveAllAudienceMembers"] == 1
