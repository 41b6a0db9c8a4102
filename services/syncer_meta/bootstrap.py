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
    settings: Settings, *, dry_run: bool = False, sleep: Callable[[float], None] = time.sleep
) -> dict[str, AudiencePlatform]:
    """One platform per ad account in ``META_ACCOUNTS`` (null platforms for a dry run)."""
    platforms: dict[str, AudiencePlatform] = {}
    for account in settings.meta_accounts:
        platforms[account.account_id] = (
            NullMetaPlatform(account.account_id)
            if dry_run
            else MetaPlatform(
                account,
                graph_url=settings.meta_graph_url,
                api_version=settings.meta_api_version,
                timeout=settings.meta_timeout_seconds,
                max_attempts=settings.meta_max_attempts,
                max_throttle_wait=settings.meta_max_throttle_wait,
                sleep=sleep,
            )
        )
    return platforms


def build_service(
    settings: Settings,
    store: Store,
    *,
    platforms: Mapping[str, AudiencePlatform] | None = None,
    definitions: Definitions | None = None,
    dry_run: bool = False,
    on_batch: Callable[[Progress], None] | None = None,
) -> MetaSyncService:
    """The syncer for every configured ad account over ``store``."""
    audiences = (definitions or load_definitions(settings.config_file)).audiences
    ledger, runs = Ledger(store, identifiers=META_ROWS.identifiers), Runs(store, PLATFORM)
    platforms = meta_platforms(settings, dry_run=dry_run) if platforms is None else platforms
    syncs = {
        account: DestinationSync(
            ledger=ledger,
            runs=runs,
            platform=platform,
            uploader=Uploader(ledger, platform, on_batch),
            reconciler=Reconciler(
                runs,
                platform,
                max_age=settings.meta_snapshot_max_age,
                follow_up=Lookalikes(runs, platform, min_seed=settings.meta_min_audience_size),  # type: ignore[arg-type]
            ),
            consent=Consent(settings.meta_consent),
            guardrails=Guardrails(settings.meta_min_audience_size, settings.meta_max_remove_share, "Meta's"),
            batch_size=settings.meta_batch_size,
            name_prefix=f"audiencesync {settings.shop}",
        )
        for account, platform in platforms.items()
    }
    return MetaSyncService(
        audiences, syncs, meta_target, accounts_variable="META_ACCOUNTS", account_noun="ad account"
    )


class _Consumer:
    """The handler and the idle hook share one micro-batch over the runner's store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.batch: MicroBatch | None = None

    def micro_batch(self, store: Store) -> MicroBatch:
        if self.batch is None:
            syncer = build_service(self.settings, store)

            def sync(keys: frozenset[str]) -> list[RunReport]:
                return syncer.sync(SyncOptions(scope=keys, record_noop=False))

            self.batch = MicroBatch(
                sync,
                size=self.settings.meta_flush_size,
                seconds=self.settings.meta_flush_seconds,
                platform=PLATFORM,
            )
        return self.batch

    def handler(self, store: Store, _publisher: Publisher) -> Handler:
        return make_handler(self.micro_batch(store))

    def on_idle(self, store: Store, _publisher: Publisher) -> Callable[[], None]:
        return self.micro_batch(store).on_idle


def service(settings: Settings) -> ConsumerService:
    """The consumer declaration: group ``syncer-meta``, last hop for pipeline heartbeats."""
    consumer = _Consumer(settings)
    return ConsumerService(
        name="syncer-meta",
        topics=(topics.LABELS_CHANGED,),
        heartbeat_forward_to=None,
        make_handler=consumer.handler,
        make_on_idle=consumer.on_idle,
    )


def sync_everything(settings: Settings, *, record_noop: bool = True) -> None:
    """A full sync of every destination (start-up reconcile; the nightly refresh calls it too)."""
    store = Store(settings.database_url)
    syncer = build_service(settings, store)
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
    if not settings.meta_accounts:
        log.warning(
            "sync.no_accounts",
            platform=PLATFORM,
            hint="set META_ACCOUNTS and tokens; labels are consumed, nothing is sent",
        )
    elif settings.meta_sync_on_start:
        # Keys gathered but not yet flushed when the last process died are found here.
        sync_everything(settings, record_noop=False)
    run_consumer_service(service(settings), settings)
