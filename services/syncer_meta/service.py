"""The Meta sync service: the engine's ``SyncService`` plus adopting an existing Meta audience."""

from __future__ import annotations

from shared.log import get_logger
from shared.sync.errors import PlatformRejected
from shared.sync.service import SyncService, UnknownTargetError
from shared.sync.status import DestinationStatus

__all__ = ["MetaSyncService", "SyncService", "UnknownTargetError"]
log = get_logger(__name__)


class MetaSyncService(SyncService):
    """Runs Meta destination syncs across audiences and ad accounts."""

    def adopt(self, audience_key: str, account: str, platform_audience_id: str) -> str:
        """Use an existing Meta audience for a destination; checks it is a fitting customer-file audience."""
        (destination,) = self.destinations(audience_key, account)
        sync = self.syncs[account]
        found = sync.platform.describe(platform_audience_id)  # type: ignore[attr-defined]
        if found.get("subtype", "CUSTOM") != "CUSTOM":
            raise PlatformRejected.because(f"audience {platform_audience_id} is not a customer-file audience")
        if bool(found.get("is_value_based")) != destination.value_based:
            kind = "value-based" if destination.value_based else "not value-based"
            raise PlatformRejected.because(f"{audience_key} needs an audience that is {kind}")
        record = sync.runs.destination(destination.audience, account)
        sync.runs.set_platform_audience(record.id, platform_audience_id, status=DestinationStatus.ADOPTED)
        log.info("sync.audience_adopted", platform="meta", audience=audience_key, account=account)
        return str(found.get("name") or platform_audience_id)
