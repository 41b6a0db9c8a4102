"""Composition root of the syncer-meta service: settings to platforms, the shared engine, consumer.

``build_service`` wires one engine ``DestinationSync`` (``shared.sync``) per configured ad
account (its own SDK client, token, app secret and request budget) over the shared ledger; the
CLI, the consumer and the tests all go through it. Dry runs get the null platform, so they
cannot reach Meta at all.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping

from services.syncer_meta.adapters.meta_platform import MetaPlatform
from services.syncer_meta.adapters.null_platform import NullMetaPlatform
from services.syncer_meta.config import MetaSettings
from services.syncer_meta.domain.rows import META_ROWS
from services.syncer_meta.domain.targets import meta_target
from services.syncer_meta.lookalikes import Lookalikes
from services.syncer_meta.service import MetaSyncService
from shared.config import Settings
from shared.definitions import Definitions, load_definitions
from shared.log import get_logger
from shared.runtime import ConsumerService
from shared.store.db import Store
from shared.sync.consumer import serve_syncer, syncer_service
from shared.sync.guardrails import Guardrails
from shared.sync.membership import Consent
from shared.sync.ports import AudiencePlatform
from shared.sync.runs import Runs
from shared.sync.uploads import Progress
from shared.sync.wiring import EngineSettings, assemble

log = get_logger(__name__)
PLATFORM = "meta"


def meta_platforms(
    meta: MetaSettings, *, dry_run: bool = False, sleep: Callable[[float], None] = time.sleep
) -> dict[str, AudiencePlatform]:
    """One platform per ad account in ``META_ACCOUNTS`` (null platforms for a dry run)."""
    platforms: dict[str, AudiencePlatform] = {}
    for account in meta.accounts:
        platforms[account.account_id] = (
            NullMetaPlatform(account.account_id)
            if dry_run
            else MetaPlatform(
                account,
                graph_url=meta.graph_url,
                api_version=meta.api_version,
                timeout=meta.timeout_seconds,
                max_attempts=meta.max_attempts,
                max_throttle_wait=meta.max_throttle_wait,
                sleep=sleep,
            )
        )
    return platforms


def build_service(
    settings: Settings,
    store: Store,
    *,
    meta: MetaSettings | None = None,
    platforms: Mapping[str, AudiencePlatform] | None = None,
    definitions: Definitions | None = None,
    dry_run: bool = False,
    on_batch: Callable[[Progress], None] | None = None,
) -> MetaSyncService:
    """The syncer for every configured ad account over ``store`` (``meta``: from the environment)."""
    meta = MetaSettings.from_env() if meta is None else meta
    audiences = (definitions or load_definitions(settings.config_file)).audiences
    platforms = meta_platforms(meta, dry_run=dry_run) if platforms is None else platforms

    def lookalikes(runs: Runs, platform: AudiencePlatform) -> Lookalikes:
        return Lookalikes(runs, platform, min_seed=meta.min_audience_size)  # type: ignore[arg-type]

    built = assemble(
        store,
        platform=PLATFORM,
        rows_from=META_ROWS.identifiers,
        platforms=platforms,
        audiences=audiences,
        targets=meta_target,
        settings=EngineSettings(
            batch_size=meta.batch_size,
            guardrails=Guardrails(meta.min_audience_size, meta.max_remove_share, "Meta's"),
            consent=Consent(meta.consent),
            snapshot_max_age=meta.snapshot_max_age,
            name_prefix=f"audiencesync {settings.shop}",
        ),
        follow_up=lookalikes,
        on_batch=on_batch,
        service=MetaSyncService,
        accounts_variable="META_ACCOUNTS",
        account_noun="ad account",
    )
    assert isinstance(built, MetaSyncService)
    return built


def service(settings: Settings, meta: MetaSettings | None = None) -> ConsumerService:
    """The consumer declaration: group ``syncer-meta``, last hop for pipeline heartbeats."""
    meta = MetaSettings.from_env() if meta is None else meta
    return syncer_service(
        name="syncer-meta",
        platform=PLATFORM,
        build=lambda store: build_service(settings, store, meta=meta),
        flush_size=meta.flush_size,
        flush_seconds=meta.flush_seconds,
    )


def serve(settings: Settings) -> None:
    """Run the syncer-meta in the foreground until SIGTERM."""
    meta = MetaSettings.from_env()
    serve_syncer(
        settings,
        service(settings, meta),
        lambda store: build_service(settings, store, meta=meta),
        platform=PLATFORM,
        configured=bool(meta.accounts),
        sync_on_start=meta.sync_on_start,
        hint="set META_ACCOUNTS and tokens; labels are consumed, nothing is sent",
    )
