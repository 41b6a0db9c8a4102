"""The few statements whose SQL differs between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Table
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def insert(session: Session, table: Table) -> Any:
    """A dialect-specific INSERT supporting ``on_conflict_do_nothing`` / ``on_conflict_do_update``."""
    name = session.get_bind().dialect.name
    if name == "postgresql":
        return postgresql.insert(table)
    if name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(f"unsupported database dialect {name!r}")


def insert_ignoring_conflicts(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping any whose key already exists (idempotent inserts)."""
    if rows:
        session.execute(insert(session, table).on_conflict_do_nothing(), rows)
