"""The Google sync service: the engine's ``SyncService`` once per Google API, run as one.

Each audience's Google destination names its API (``destinations.google.api``); the Data
Manager path and the Google Ads API path are two engine services over the same accounts and
the same ``google`` destinations, so switching an audience's API keeps its list (Google Ads user
lists are the lists both APIs upload to) and its ledger.
"""

from __future__ import annotations

from collections.abc import Sequence

from shared.sync.membership import Destination
from shared.sync.outcome import RunReport, SyncOptions
from shared.sync.ports import AudiencePlatform
from shared.sync.service import SyncService, UnknownTargetError
from shared.sync.status import RunStatus

__all__ = ["GoogleSyncService", "UnknownTargetError"]
ADS_PATH_UNSET = (
    "this destination uses the Google Ads API, which needs GOOGLE_DEVELOPER_TOKEN (an allowlisted "
    "token); set it, or switch the destination to the Data Manager API: destinations: {google: {api: "
    "datamanager}}"
)


class GoogleSyncService:
    """Both Google paths behind the one interface the CLI, the consumer and the scheduler use."""

    def __init__(self, paths: Sequence[SyncService], *, missing: SyncService | None = None) -> None:
        self.paths = tuple(paths)
        # Destinations of a path that cannot run (the Google Ads API without a developer token):
        # reported as refused with the fix, never silently skipped.
        self.missing = missing

    @property
    def platforms(self) -> list[AudiencePlatform]:
        """Every path's adapters."""
        return [platform for path in self.paths for platform in path.platforms]

    def destinations(self, audience_key: str | None = None, account: str | None = None) -> list[Destination]:
        """Every path's destinations, suppression lists first within each path."""
        found: list[Destination] = []
        for path in self.paths:
            found.extend(path.destinations(audience_key, account))
        return found

    def sync(
        self, options: SyncOptions, *, audience_key: str | None = None, account: str | None = None
    ) -> list[RunReport]:
        """Sync every selected destination on every path."""
        reports: list[RunReport] = []
        for path in self.paths:
            reports.extend(path.sync(options, audience_key=audience_key, account=account))
        if self.missing is not None:
            for destination in self.missing.destinations(audience_key, account):
                reports.append(
                    RunReport(
                        destination.key, destination.account, RunStatus.PERMISSION_ERROR, "-",
                        message=ADS_PATH_UNSET,
                    )
                )  # fmt: skip
        return reports

    def close(self) -> None:
        """Release every path's connections."""
        for path in self.paths:
            path.close()
