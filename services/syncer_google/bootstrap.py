"""Composition root of the syncer-google service: settings to adapters, the shared engine, consumer.

``build_service`` wires, per Google API, one engine ``DestinationSync`` per customer account
over the shared ledger and one request budget per Google Cloud project (Data Manager) or
developer token (Google Ads API), kept in the database so every replica spends the same one.
The CLI, the consumer and the tests all go through it; dry runs get null platforms, so they
cannot reach Google at all.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping
from datetime import timedelta

from services.syncer_google.adapters.calls import GoogleCalls
from services.syncer_google.adapters.datamanager import DataManagerLists
from services.syncer_google.adapters.platform import PLATFORM, DataManagerPlatform, GoogleAdsPlatform, Waiting
from services.syncer_google.adapters.quota import Budget, SharedQuota
from services.syncer_google.config import GoogleSettings
from services.syncer_google.domain.rows import DATA_MANAGER_ROWS, GOOGLE_ADS_ROWS
from services.syncer_google.service import GoogleSyncService
from shared.config import Settings
from shared.definitions import Definitions, load_definitions
from shared.definitions.audiences import AudienceDefinition
from shared.runtime import ConsumerService
from shared.store.db import Store
from shared.sync.consumer import serve_syncer, syncer_service
from shared.sync.google_consent import GoogleConsent
from shared.sync.guardrails import Guardrails
from shared.sync.membership import Destination, Target
from shared.sync.null_platform import NullPlatform
from shared.sync.ports import AudiencePlatform, Caps
from shared.sync.rows import RowFormat
from shared.sync.service import SyncService
from shared.sync.uploads import Progress
from shared.sync.wiring import EngineSettings, assemble

Platforms = Mapping[str, AudiencePlatform]


def _target(api: str) -> Callable[[AudienceDefinition], Target | None]:
    def target(audience: AudienceDefinition) -> Target | None:
        google = audience.google
        if google is None or google.api != api:
            return None
        return Target(google.accounts)

    return target


def _refresh_after(share: float) -> Callable[[Destination], timedelta | None]:
    def refresh_after(destination: Destination) -> timedelta | None:
        google = destination.audience.google
        return timedelta(days=(google.membership_days if google else 540) * share)

    return refresh_after


def _calls(google: GoogleSettings, quota: SharedQuota, sleep: Callable[[float], None]) -> GoogleCalls:
    return GoogleCalls(
        quota,
        max_attempts=google.max_attempts,
        max_quota_wait=google.max_quota_wait,
        base_delay=google.retry_base_seconds,
        sleep=sleep,
    )


def _null_platforms(google: GoogleSettings, caps: Caps, rows: RowFormat) -> dict[str, AudiencePlatform]:
    """Platforms that send nothing (dry runs; no customer configured: no credentials needed)."""
    return {c: NullPlatform(c, platform=PLATFORM, caps=caps, rows=rows) for c in google.customers}


def datamanager_platforms(
    google: GoogleSettings,
    store: Store,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, AudiencePlatform]:
    """One Data Manager adapter per customer account, all spending the project's one budget."""
    if dry_run or not google.customers:
        return _null_platforms(google, DataManagerPlatform.caps, DATA_MANAGER_ROWS)
    budget = Budget(google.requests_per_minute, google.requests_per_day)
    quota = SharedQuota(store, f"datamanager:{google.project}", budget, sleep=sleep)
    credentials, ca = google.credentials(), google.ca_pem()
    return {
        customer: DataManagerPlatform(
            DataManagerLists(
                _calls(google, quota, sleep),
                operating_account=customer,
                login_account=google.login_customer,
                credentials=credentials,
                endpoint=google.datamanager_endpoint,
                ca_pem=ca,
                timeout=google.timeout_seconds,
            ),
            DATA_MANAGER_ROWS,
            Waiting(max_wait=google.request_wait, sleep=sleep),
        )
        for customer in google.customers
    }


def google_ads_platforms(
    google: GoogleSettings,
    store: Store,
    *,
    dry_run: bool = False,
    sleep: Callable[[float], None] = time.sleep,
) -> dict[str, AudiencePlatform]:
    """One Google Ads API adapter per customer account, spending the developer token's budget."""
    if dry_run or not google.customers:
        return _null_platforms(google, GoogleAdsPlatform.caps, GOOGLE_ADS_ROWS)
    from services.syncer_google.adapters.google_ads import GoogleAdsLists  # seconds to import: only here

    token = google.developer_token or ""
    scope = "google-ads:" + hashlib.sha256(token.encode()).hexdigest()[:16]  # never the token itself
    quota = SharedQuota(store, scope, Budget(0, google.ads_operations_per_day), sleep=sleep)
    credentials, ca = google.credentials(), google.ca_pem()
    return {
        customer: GoogleAdsPlatform(
            GoogleAdsLists(
                _calls(google, quota, sleep),
                customer_id=customer,
                login_customer_id=google.login_customer,
                developer_token=token,
                credentials=credentials,
                endpoint=google.google_ads_endpoint,
                ca_pem=ca,
                timeout=google.timeout_seconds,
            ),
            GOOGLE_ADS_ROWS,
            Waiting(max_wait=google.request_wait, sleep=sleep),
        )
        for customer in google.customers
    }


def _path(
    store: Store,
    settings: Settings,
    google: GoogleSettings,
    *,
    api: str,
    caps: Caps,
    rows_from: str,
    platforms: Platforms,
    audiences: tuple[AudienceDefinition, ...],
    on_batch: Callable[[Progress], None] | None,
) -> SyncService:
    return assemble(
        store,
        platform=PLATFORM,
        rows_from=rows_from,
        platforms=platforms,
        audiences=audiences,
        targets=_target(api),
        settings=EngineSettings(
            batch_size=min(google.batch_size, caps.max_rows),
            guardrails=Guardrails(google.min_audience_size, google.max_remove_share, "Google's"),
            consent=GoogleConsent(google.consent_elsewhere),
            snapshot_max_age=google.snapshot_max_age,
            name_prefix=f"audiencesync {settings.shop}",
            refresh_after=_refresh_after(google.refresh_share),
        ),
        on_batch=on_batch,
        accounts_variable="GOOGLE_CUSTOMERS",
        account_noun="Google Ads customer",
    )


def build_service(
    settings: Settings,
    store: Store,
    *,
    google: GoogleSettings | None = None,
    datamanager: Platforms | None = None,
    google_ads: Platforms | None = None,
    definitions: Definitions | None = None,
    dry_run: bool = False,
    on_batch: Callable[[Progress], None] | None = None,
) -> GoogleSyncService:
    """The Google syncer for every configured customer over ``store`` (``google``: from the environment)."""
    google = GoogleSettings.from_env() if google is None else google
    audiences = (definitions or load_definitions(settings.config_file)).audiences
    if datamanager is None:
        datamanager = datamanager_platforms(google, store, dry_run=dry_run)
    if google_ads is None and (google.developer_token or dry_run):
        google_ads = google_ads_platforms(google, store, dry_run=dry_run)

    def path(api: str, caps: Caps, rows_from: str, platforms: Platforms) -> SyncService:
        return _path(
            store, settings, google, api=api, caps=caps, rows_from=rows_from, platforms=platforms,
            audiences=audiences, on_batch=on_batch,
        )  # fmt: skip

    paths = [path("datamanager", DataManagerPlatform.caps, "google-dm", datamanager)]
    missing = None
    ads_caps = GoogleAdsPlatform.caps
    if google_ads is not None:
        paths.append(path("google_ads", ads_caps, "google-ads", google_ads))
    else:
        # Without a developer token the Ads path cannot run; its destinations are reported, not skipped.
        missing = path(
            "google_ads", ads_caps, "google-ads", _null_platforms(google, ads_caps, GOOGLE_ADS_ROWS)
        )
    return GoogleSyncService(paths, missing=missing)


def service(settings: Settings, google: GoogleSettings | None = None) -> ConsumerService:
    """The consumer declaration: group ``syncer-google``, keys noted durably, synced by a worker."""
    google = GoogleSettings.from_env() if google is None else google
    return syncer_service(
        name="syncer-google",
        platform=PLATFORM,
        build=lambda store: build_service(settings, store, google=google),
        flush_size=google.flush_size,
        flush_seconds=google.flush_seconds,
    )


def serve(settings: Settings) -> None:
    """Run the syncer-google in the foreground until SIGTERM."""
    google = GoogleSettings.from_env()
    serve_syncer(
        settings,
        service(settings, google),
        lambda store: build_service(settings, store, google=google),
        platform=PLATFORM,
        configured=bool(google.customers),
        sync_on_start=google.sync_on_start,
        hint="set GOOGLE_CUSTOMERS and credentials; labels are consumed, nothing is sent",
    )
