"""The few statements whose SQL differs between SQLite and PostgreSQL, written once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table
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


def insert_rows(
    session: Session,
    table: Table,
    rows: Sequence[dict[str, Any]],
    *,
    ignore_conflicts: bool = False,
    returning: Sequence[Any] = (),
) -> list[Any]:
    """Insert many rows the fastest way each database offers; rows must share the same keys.

    PostgreSQL: plain inserts go through ``COPY`` (psycopg's executemany is one statement per
    row; a 500-order batch has ~10,000 lines). SQLite: executemany, which is in-process and fast.
    ``RETURNING`` uses SQLAlchemy's batched "insertmanyvalues" on both.
    """
    if not rows:
        return []
    if returning:
        stmt = insert(session, table).returning(*returning, sort_by_parameter_order=True)
        return list(session.execute(stmt, list(rows)).all())
    if session.get_bind().dialect.name == "postgresql" and not ignore_conflicts and not _has_json(table):
        _copy(session, table, rows)
        return []
    stmt = insert(session, table)
    session.execute(stmt.on_conflict_do_nothing() if ignore_conflicts else stmt, list(rows))
    return []


def _has_json(table: Table) -> bool:
    return any(isinstance(column.type, JSON) for column in table.columns)


def _copy(session: Session, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    names = list(rows[0])
    columns = ", ".join(f'"{name}"' for name in names)
    cursor = session.connection().connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
        for row in rows:
            copy.write_row([row[name] for name in names])


def insert_new_rows(
    session: Session, table: Table, rows: Sequence[dict[str, Any]], *, returning: Sequence[Any]
) -> list[Any]:
    """Insert rows whose key is not stored yet; ``returning`` columns of the rows actually added.

    One ``INSERT ... ON CONFLICT DO NOTHING RETURNING`` per batch (SQLAlchemy's insertmanyvalues)
    tells which rows were new without reading the table first.
    """
    if not rows:
        return []
    stmt = insert(session, table).on_conflict_do_nothing().returning(*returning)
    return list(session.execute(stmt, list(rows)).all())


def insert_ignoring_conflicts(session: Session, table: Table, rows: list[dict[str, Any]]) -> None:
    """Insert rows, skipping any whose key already exists (idempotent inserts)."""
    insert_rows(session, table, rows, ignore_conflicts=True)
