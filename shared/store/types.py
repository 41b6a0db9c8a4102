"""Column types that behave the same on SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import DateTime
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator


class UtcDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC in, timezone-aware UTC out.

    SQLite has no time zones and hands back naive datetimes; comparing those with aware ones
    (``updated_at`` versions) would raise, so values are normalized to UTC on the way in and
    marked UTC on the way out. Naive input is refused: it is always a bug upstream.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any] | None:
        """On SQLite, straight to the text SQLAlchemy's ``DATETIME`` stores, in C (``isoformat``):
        the composed ``process_bind_param`` + ``DATETIME`` pair cost twice as much, and an ingest
        binds every order's two timestamps (``tests/unit/foundation/test_utc_column.py`` checks
        that they agree)."""
        if dialect.name != "sqlite":
            return super().bind_processor(dialect)
        return sqlite_text

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        stamp: datetime = datetime.fromisoformat(value) if isinstance(value, str) else value
        return stamp.replace(tzinfo=UTC) if stamp.tzinfo is None else stamp.astimezone(UTC)


def sqlite_text(value: datetime | None) -> str | None:
    """A UTC column's value as SQLite stores it: ``YYYY-MM-DD HH:MM:SS.ffffff`` in UTC."""
    if value is None:
        return None
    offset = value.utcoffset()
    if offset is None:
        raise ValueError("naive datetime given to a UTC column")
    if offset:
        value = value.astimezone(UTC)
    return value.isoformat(" ", "microseconds")[:26]  # less the "+00:00"
