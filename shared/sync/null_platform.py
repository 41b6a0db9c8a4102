"""A platform that sends nothing: dry runs are wired to it so no code path can reach Meta."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from services.syncer_meta.domain.diff import Direction
from services.syncer_meta.domain.ports import LookalikeSpec, Readback, Receipt, SessionRef


class NullPlatform:
    """``AudiencePlatform`` that answers like an empty account and counts what would be sent."""

    def __init__(self, account_id: str) -> None:
        self.account_id = account_id
        self.calls = 0  # a dry run reports its calls from the plan; this stays 0 unless misused
        self.would_send: dict[Direction, int] = {}

    def find_audience(self, name: str) -> str | None:
        """No audience exists on a null account."""
        return None

    def create_audience(self, name: str, description: str, *, value_based: bool) -> str:
        """A placeholder id; never stored by a dry run."""
        return f"dry-run:{name}"

    def read_audience(self, audience_id: str) -> Readback:
        """Nothing is known."""
        return Readback(None, None, None, None)

    def describe(self, audience_id: str) -> dict[str, Any]:
        """Nothing is known."""
        return {"id": audience_id}

    def upload(
        self,
        audience_id: str,
        direction: Direction,
        schema: Sequence[str],
        rows: Sequence[Sequence[str | float]],
        session: SessionRef,
    ) -> Receipt:
        """Count the rows as if Meta had received them all."""
        self.would_send[direction] = self.would_send.get(direction, 0) + len(rows)
        return Receipt(str(session.session_id), len(rows), 0, None)

    def create_lookalike(self, seed_id: str, name: str, spec: LookalikeSpec) -> str:
        """A placeholder id."""
        return f"dry-run:{name}"

    def find_lookalike(self, seed_id: str, spec: LookalikeSpec) -> str | None:
        """No lookalike exists on a null account."""
        return None

    def close(self) -> None:
        """Nothing to release."""
