"""Reading the audit log for ``GET /audit`` (entries are written by ``shared.store.audit``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from shared.store.db import Store
from shared.store.models import AuditEntry


def entries(
    store: Store,
    *,
    actor: str | None = None,
    action: str | None = None,
    target: str | None = None,
    since: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """Entries newest first, filtered; with the total matching count (for pagination)."""
    where = []
    if actor:
        where.append(AuditEntry.actor == actor)
    if action:
        where.append(AuditEntry.action == action)
    if target:
        where.append(AuditEntry.target == target)
    if since:
        where.append(AuditEntry.at >= since)
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(AuditEntry).where(*where)) or 0
        rows = session.scalars(
            select(AuditEntry).where(*where).order_by(AuditEntry.id.desc()).limit(limit).offset(offset)
        ).all()
        items = [
            {
                "id": r.id,
                "at": r.at,
                "actor": r.actor,
                "action": r.action,
                "target": r.target,
                "details": r.details or {},
            }
            for r in rows
        ]
    return items, total
