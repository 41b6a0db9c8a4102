"""Every destination of one platform in an installation: which audiences on which accounts, in what order.

Suppression lists are synced before include lists, so a customer moving to the negative ICP is
excluded before being dropped from an include list: never targeted in between.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

from shared.definitions.audiences import AudienceDefinition
from shared.sync.engine import DestinationSync
from shared.sync.membership import Destination, Targets, destinations
from shared.sync.outcome import RunReport, SyncOptions
from shared.sync.ports import AudiencePlatform
from shared.sync.status import ACCOUNT_DEAD


class Syncer(Protocol):
    """What the consumer, the CLI and a start-up sync need of a platform's sync service
    (``SyncService``, or a service running several of them, as Google's two APIs)."""

    def sync(
        self, options: SyncOptions, *, audience_key: str | None = None, account: str | None = None
    ) -> list[RunReport]:
        """Sync every selected destination."""
        ...

    def close(self) -> None:
        """Release the platforms' connections."""
        ...


class UnknownTargetError(KeyError):
    """An audience key or account that the configuration does not have."""


class SyncService:
    """Runs destination syncs across audiences and one platform's accounts."""

    def __init__(
        self,
        audiences: Sequence[AudienceDefinition],
        syncs: Mapping[str, DestinationSync],
        targets: Targets,
        *,
        accounts_variable: str = "the configured accounts",
        account_noun: str = "account",
    ) -> None:
        self.audiences = tuple(audiences)
        self.syncs = dict(syncs)  # account -> its syncer (own platform, credentials, budget)
        self.targets = targets  # how this platform reads an audience definition
        # Named when an unknown account is asked for: "ad account 'act_9' is not in META_ACCOUNTS".
        self.accounts_variable, self.account_noun = accounts_variable, account_noun

    @property
    def platforms(self) -> list[AudiencePlatform]:
        """One platform adapter per configured account."""
        return [sync.platform for sync in self.syncs.values()]

    def destinations(self, audience_key: str | None = None, account: str | None = None) -> list[Destination]:
        """Destinations to sync, exclusion lists first; raises ``UnknownTargetError``."""
        if audience_key is not None and all(a.key != audience_key for a in self.audiences):
            raise UnknownTargetError(f"no audience {audience_key!r} in the definitions")
        if account is not None and account not in self.syncs:
            raise UnknownTargetError(f"{self.account_noun} {account!r} is not in {self.accounts_variable}")
        accounts = [account] if account else list(self.syncs)
        found = [
            d
            for d in destinations(self.audiences, accounts, self.targets)
            if audience_key is None or d.key == audience_key
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
                # The credentials are refused for the whole account: its other destinations
                # would only fail the same way, one call each.
                first = dead_accounts[destination.account]
                reports.append(
                    RunReport(destination.key, destination.account, first.status, "-", message=first.message)
                )
                continue
            report = self.syncs[destination.account].run(destination, options)
            if report.status in ACCOUNT_DEAD:
                dead_accounts[destination.account] = report
            reports.append(report)
        return reports

    def close(self) -> None:
        """Release every platform's connections."""
        for platform in self.platforms:
            platform.close()
