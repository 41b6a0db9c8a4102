"""Meta's dry-run platform: the engine's null platform with Meta's caps, rows and adoption check."""

from __future__ import annotations

from typing import Any

from services.syncer_meta.adapters.meta_platform import META_CAPS
from services.syncer_meta.domain.rows import META_ROWS
from services.syncer_meta.lookalikes import LookalikeSpec
from shared.sync.null_platform import NullPlatform


class NullMetaPlatform(NullPlatform):
    """Answers like an empty ad account; no code path can reach Meta through it."""

    def __init__(self, account_id: str) -> None:
        super().__init__(account_id, platform="meta", caps=META_CAPS, rows=META_ROWS)

    def describe(self, audience_id: str) -> dict[str, Any]:
        """Nothing is known."""
        return {"id": audience_id}

    def create_lookalike(self, seed_id: str, name: str, spec: LookalikeSpec) -> str:
        """A placeholder id."""
        return f"dry-run:{name}"

    def find_lookalike(self, seed_id: str, spec: LookalikeSpec) -> str | None:
        """No lookalike exists on a null account."""
        return None
