"""Read access to sandbox state for tests and demos (``running.state.members(list_id)``).

Every read first applies due asynchronous work, as Google would have by then.
"""

from __future__ import annotations

from services.sandbox_google.domain.lists import ListSize, UserListRecord
from services.sandbox_google.service import GoogleSandbox
from services.sandbox_google.store import JobRow, MemberRow


class SandboxState:
    """Lists, members and jobs as stored."""

    def __init__(self, sandbox: GoogleSandbox) -> None:
        self._sandbox = sandbox

    def user_lists(self, customer_id: str | None = None) -> list[UserListRecord]:
        """Lists of one customer (or all)."""
        self._sandbox.settle()
        with self._sandbox.store.transaction():
            return self._sandbox.store.user_lists(customer_id)

    def member_records(self, list_id: int | str) -> list[MemberRow]:
        """Live members of a list with identifiers, consent, time added and match."""
        self._sandbox.settle()
        with self._sandbox.store.transaction():
            return self._sandbox.store.members(int(list_id))

    def members(self, list_id: int | str) -> dict[str, tuple[str, str]]:
        """Live members as ``{key: (ad_user_data, ad_personalization)}``; the key is
        ``email:<sha256 hex>`` (else ``phone:`` / ``address:``)."""
        return {m.key: (m.ad_user_data, m.ad_personalization) for m in self.member_records(list_id)}

    def size(self, list_id: int | str) -> ListSize:
        """Members and matched members of a list."""
        self._sandbox.settle()
        with self._sandbox.store.transaction():
            return self._sandbox.store.size(int(list_id))

    def jobs(self, customer_id: str | None = None) -> list[JobRow]:
        """Offline user data jobs of one customer (or all)."""
        self._sandbox.settle()
        with self._sandbox.store.transaction():
            return self._sandbox.store.jobs(customer_id)
