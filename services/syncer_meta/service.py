"""Every Meta destination of an installation: which audiences on which ad accounts, in what order.

Suppression lists are synced before include lists, so a customer moving to the negative ICP is
excluded before being dropped from an include list: never targeted in between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from services.syncer_meta.domain.errors import PlatformRejected
from services.syncer_meta.domain.membership import Destination, destinations
from services.syncer_meta.domain.ports import AudiencePlatform
from services.syncer_meta.sync import DestinationSync, RunReport, SyncOptions
from shared.definitions.audiences import AudienceDefinition
from shared.log import get_logger

log = get_logger(__name__)


class UnknownTargetError(KeyError):
    """An audience key or ad account that the configuration does not have."""


class SyncService:
    """Runs destination syncs across audiences and ad accounts."""

    def __init__(
        self,
        audiences: Sequence[AudienceDefinition],
        syncs: Mapping[str, DestinationSync],
    ) -> None:
        self.audiences = tuple(audiences)
        self.syncs = dict(syncs)  # ad account -> its syncer (own platform, credentials, budget)

    @property
    def platforms(self) -> list[AudiencePlatform]:
        """One platform per configured ad account."""
        return [sync.platform for sync in self.syncs.values()]

    def destinations(self, audience_key: str | None = None, account: str | None = None) -> list[Destination]:
        """Destinations to sync, exclusion lists first; raises ``UnknownTargetError``."""
        if audience_key is not None and all(a.key != audience_key for a in self.audiences):
            raise UnknownTargetError(f"no audience {audience_key!r} in the definitions")
        if account is not None and account not in self.syncs:
            raise UnknownTargetError(f"ad account {account!r} is not in META_ACCOUNTS")
        accounts = [account] if account else list(self.syncs)
        found = [
            d for d in destinations(self.audiences, accounts) if audience_key is None or d.key == audience_key
        ]
        return sorted(found, key=lambda d: (accounts.index(d.account), d.audience.role != "exclusion"))

    def sync(
        self, options: SyncOptions, *, audience_key: str | None = None, account: str | None = None
    ) -> list[RunReport]:
        """Sync every selected destination; one account's auth failure skips its other destinations."""
        reports: list[RunReport] = []
        dead_accounts: dict[str, RunReport] = {}
        for destination in self.destinations(audience_key, account):
            if destination.account in dead_accounts:
                # The token is refused for the whole account: its other destinations would only
                # fail the same way, one Graph call each.
                first = dead_accounts[destination.account]
                reports.append(
                    RunReport(destination.key, destination.account, first.status, "-", message=first.message)
                )
                continue
            report = self.syncs[destination.account].run(destination, options)
            if report.status in ("auth_error", "permission_error"):
                dead_accounts[destination.account] = report
            reports.append(report)
        return reports

    def adopt(self, audience_key: str, account: str, platform_audience_id: str) -> str:
        """Use an existing Meta audience for a destination; checks it is a fitting customer-file audience."""
        (destination,) = self.destinations(audience_key, account)
        sync = self.syncs[account]
        found = sync.platform.describe(platform_audience_id)
        if found.get("subtype", "CUSTOM") != "CUSTOM":
            raise PlatformRejected.because(f"audience {platform_audience_id} is not a customer-file audience")
        if bool(found.get("is_value_based")) != destination.value_based:
            kind = "value-based" if destination.value_based else "not value-based"
            raise PlatformRejected.because(f"{audience_key} needs an audience that is {kind}")
        record = sync.runs.destination(destination.audience, account)
        sync.runs.set_platform_audience(record.id, platform_audience_id, status="adopted")
        log.info("meta.audience_adopted", audience=audience_key, account=account)
        return str(found.get("name") or platform_audience_id)

    def close(self) -> None:
        """Release every platform's connections."""
        for platform in self.platforms:
            platform.close()
