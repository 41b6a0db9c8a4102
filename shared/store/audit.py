"""Writing the audit log (``audit_log``): who did what to which object, and when.

Entries are added to the caller's transaction, so a change and its entry commit together or not
at all. The API, the CLI and the scheduler write through here.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from shared.store.models import AuditEntry


def record(
    session: Session,
    actor: str,
    action: str,
    target: str | None,
    details: dict[str, Any] | None,
    *,
    at: datetime | None = None,
) -> None:
    """Add one entry to the caller's transaction."""
    entry = AuditEntry(at=at or datetime.now(UTC), actor=actor, action=action, target=target, details=details)
    session.add(entry)
