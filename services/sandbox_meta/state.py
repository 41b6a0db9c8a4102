"""Read access to sandbox state for tests and demos (``sandbox.state.members(id)``).

Every read takes the store's transaction, so it sees a consistent state while the server runs,
and settles overdue sessions first, as Meta would have by then.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from services.sandbox_meta import uploads
from services.sandbox_meta.adapters.members import Member
from services.sandbox_meta.adapters.store import SandboxStore
from services.sandbox_meta.context import Ctx
from services.sandbox_meta.domain.audience import Audience
from services.sandbox_meta.domain.sessions import UploadSession


class SandboxState:
    """What the sandbox holds: audiences, their live members and sessions."""

    def __init__(self, store: SandboxStore, context: Callable[[], Ctx]) -> None:
        self._store = store
        self._context = context

    def _settled(self, audience_id: str) -> Audience | None:
        audience = self._store.audience(audience_id)
        if audience is not None:
            uploads.settle(self._context(), audience)
        return audience

    def audience(self, audience_id: str) -> Audience | None:
        """The stored audience, or None (deleted or never created)."""
        with self._store.transaction():
            return self._store.audience(audience_id)

    def audiences(self, account_id: str | None = None) -> list[Audience]:
        """Audiences of one account (``act_N``) or all of them."""
        with self._store.transaction():
            return self._store.audiences(account_id)

    def members(self, audience_id: str) -> dict[str, float | None]:
        """Live members as ``{identifier: LOOKALIKE_VALUE or None}``, in upload order.

        The identifier is the email hash when the member has one (else phone hash, MADID, ...,
        EXTERN_ID); a running replace's staged members are not visible until it finishes.
        """
        return {m.identifier: m.value for m in self.member_records(audience_id)}

    def member_records(self, audience_id: str) -> list[Member]:
        """Live members with every field known for them and whether they matched a user."""
        with self._store.transaction():
            audience = self._settled(audience_id)
            if audience is None:
                return []
            return self._store.members.of(audience_id, audience.live_gen)

    def values(self, audience_id: str, key: str = "EMAIL") -> dict[str, float | None]:
        """Live members by one field (default the email hash) -> LOOKALIKE_VALUE or None."""
        return {m.fields[key]: m.value for m in self.member_records(audience_id) if key in m.fields}

    def counts(self, audience_id: str) -> tuple[int, int]:
        """``(members, matched members)`` of the live generation."""
        with self._store.transaction():
            audience = self._settled(audience_id)
            if audience is None:
                return 0, 0
            return self._store.members.counts(audience_id, audience.live_gen)

    def sessions(self, audience_id: str) -> list[UploadSession]:
        """Upload and replace sessions of an audience, oldest first."""
        with self._store.transaction():
            self._settled(audience_id)
            return self._store.sessions(audience_id)

    def flag(self, audience_id: str, flagged: bool = True) -> Audience:
        """Flag an audience for integrity (operation_status 471) or clear the flag."""
        with self._store.transaction():
            audience = self._store.audience(audience_id)
            if audience is None:
                raise KeyError(audience_id)
            updated = replace(audience, flagged=flagged, time_updated=self._context().now)
            self._store.save_audience(updated)
            return updated
