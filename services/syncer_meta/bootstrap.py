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
from shared.bus import topics
from shared.bus.consumer import Handler
from shared.bus.producer import Publisher
from shared.config import Settings
from shared.definitions import Definitions, load_definitions
from shared.log import get_logger
from shared.runtime import ConsumerService, run_consumer_service
from shared.store.db import Store
from shared.sync.consumer import MicroBatch, make_handler
from shared.sync.engine import DestinationSync
from shared.sync.guardrails import Guardrails
from shared.sync.ledger import Ledger
from shared.sync.membership import Consent
from shared.sync.outcome import RunReport, SyncOptions
from shared.sync.ports import AudiencePlatform
from shared.sync.reconcile import Reconciler
from shared.sync.runs import Runs
from shared.sync.uploads import Progress, Uploader

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
    ledger, runs = Ledger(store, identifiers=META_ROWS.identifiers), Runs(store, PLATFORM)
    platforms = meta_platforms(meta, dry_run=dry_run) if platforms is None else platforms
    syncs = {
        account: DestinationSync(
            ledger=ledger,
            runs=runs,
            platform=platform,
            uploader=Uploader(ledger, platform, on_batch),
            reconciler=Reconciler(
                runs,
                platform,
                max_age=meta.snapshot_max_age,
                follow_up=Lookalikes(runs, platform, min_seed=meta.min_audience_size),  # type: ignore[arg-type]
            ),
            consent=Consent(meta.consent),
            guardrails=Guardrails(meta.min_audience_size, meta.max_remove_share, "Meta's"),
            batch_size=meta.batch_size,
            name_prefix=f"audiencesync {settings.shop}",
        )
        for account, platform in platforms.items()
    }
    return MetaSyncService(
        audiences, syncs, meta_target, accounts_variable="META_ACCOUNTS", account_noun="ad account"
    )


class _Consumer:
    """The handler and the idle hook share one micro-batch over the runner's store."""

    def __init__(self, settings: Settings, meta: MetaSettings) -> None:
        self.settings, self.meta = settings, meta
        self.batch: MicroBatch | None = None

    def micro_batch(self, store: Store) -> MicroBatch:
        if self.batch is None:
            syncer = build_service(self.settings, store, meta=self.meta)

            def sync(keys: frozenset[str]) -> list[RunReport]:
                return syncer.sync(SyncOptions(scope=keys, record_noop=False))

            self.batch = MicroBatch(
                sync,
                size=self.meta.flush_size,
                seconds=self.meta.flush_seconds,
                platform=PLATFORM,
            )
        return self.batch

    def handler(self, store: Store, _publisher: Publisher) -> Handler:
        return make_handler(self.micro_batch(store))

    def on_idle(self, store: Store, _publisher: Publisher) -> Callable[[], None]:
        return self.micro_batch(store).on_idle


def service(settings: Settings, meta: MetaSettings | None = None) -> ConsumerService:
    """The consumer declaration: group ``syncer-meta``, last hop for pipeline heartbeats."""
    consumer = _Consumer(settings, MetaSettings.from_env() if meta is None else meta)
    return ConsumerService(
        name="syncer-meta",
        topics=(topics.LABELS_CHANGED,),
        heartbeat_forward_to=None,
        make_handler=consumer.handler,
        make_on_idle=consumer.on_idle,
    )


def sync_everything(settings: Settings, meta: MetaSettings, *, record_noop: bool = True) -> None:
    """A full sync of every destination (start-up reconcile; the nightly refresh calls it too)."""
    store = Store(settings.database_url)
    syncer = build_service(settings, store, meta=meta)
    try:
        for report in syncer.sync(SyncOptions(record_noop=record_noop)):
            log.info(
                "sync.full_sync",
                platform=PLATFORM,
                audience=report.audience,
                account=report.account,
                status=report.status,
            )
    finally:
        syncer.close()
        store.dispose()


def serve(settings: Settings) -> None:
    """Run the syncer-meta in the foreground until SIGTERM."""
    meta = MetaSettings.from_env()
    if not meta.accounts:
        log.warning(
            "sync.no_accounts",
            platform=PLATFORM,
            hint="set META_ACCOUNTS and tokens; labels are consumed, nothing is sent",
        )
    elif meta.sync_on_start:
        # Keys gathered but not yet flushed when the last process died are found here.
        sync_everything(settings, meta, record_noop=False)
    run_consumer_service(service(settings, meta), settings)
