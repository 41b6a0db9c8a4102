"""Assembling the engine for one platform: ledger, runs, one ``DestinationSync`` per account.

A platform's bootstrap builds its adapters (one per account) and calls ``assemble`` with its
reading of audience definitions (``Targets``), consent rule and limits; the CLI, the consumer
and the tests all get the same ``SyncService`` from it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta

from shared.definitions.audiences import AudienceDefinition
from shared.store.db import Store
from shared.sync.engine import DestinationSync
from shared.sync.guardrails import Guardrails
from shared.sync.ledger import Ledger
from shared.sync.membership import ConsentRule, Destination, Targets
from shared.sync.ports import AudiencePlatform
from shared.sync.reconcile import FollowUp, Reconciler
from shared.sync.runs import Runs
from shared.sync.service import SyncService
from shared.sync.uploads import Progress, Uploader


@dataclass(frozen=True)
class EngineSettings:
    """The engine's knobs for one platform (each service reads them from its own variables)."""

    batch_size: int  # rows per request, at most the adapter's Caps.max_rows
    guardrails: Guardrails
    consent: ConsentRule
    snapshot_max_age: float  # seconds: read sizes back after a no-change run older than this
    name_prefix: str  # platform list names: "<prefix> <audience key>" ("audiencesync <shop>")
    # Send unchanged members again once their row is this old (Google's membership life span).
    refresh_after: Callable[[Destination], timedelta | None] | None = None


def assemble(
    store: Store,
    *,
    platform: str,
    rows_from: str,
    platforms: Mapping[str, AudiencePlatform],
    audiences: Sequence[AudienceDefinition],
    targets: Targets,
    settings: EngineSettings,
    follow_up: Callable[[Runs, AudiencePlatform], FollowUp | None] | None = None,
    on_batch: Callable[[Progress], None] | None = None,
    service: type[SyncService] = SyncService,
    accounts_variable: str = "the configured accounts",
    account_noun: str = "account",
) -> SyncService:
    """The sync service of one platform over ``store``.

    ``platform`` names ``destination_audiences.platform`` (its runs and ledger); ``rows_from`` the
    ``customer_identifiers.platform`` rows are built from (the adapters' ``rows.identifiers``);
    ``platforms`` one adapter per account; ``follow_up`` the platform's extra work after each
    read-back (Meta's lookalikes).
    """
    ledger, runs = Ledger(store, identifiers=rows_from), Runs(store, platform)
    syncs = {
        account: DestinationSync(
            ledger=ledger,
            runs=runs,
            platform=adapter,
            uploader=Uploader(ledger, adapter, on_batch),
            reconciler=Reconciler(
                runs,
                adapter,
                max_age=settings.snapshot_max_age,
                follow_up=follow_up(runs, adapter) if follow_up else None,
            ),
            consent=settings.consent,
            guardrails=settings.guardrails,
            batch_size=settings.batch_size,
            name_prefix=settings.name_prefix,
            refresh_after=settings.refresh_after,
        )
        for account, adapter in platforms.items()
    }
    return service(audiences, syncs, targets, accounts_variable=accounts_variable, account_noun=account_noun)
