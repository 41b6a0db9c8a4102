"""A UTC column binds on SQLite through its own fast text conversion: it must store exactly the
text SQLAlchemy's ``DATETIME`` would, or stored times would stop comparing and sorting as text."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql, sqlite

from shared.store.types import UtcDateTime

SQLITE = sqlite.dialect()


def _sqlalchemys_text(value: datetime) -> str:
    process = sqlite.DATETIME().bind_processor(SQLITE)  # type: ignore[no-untyped-call]
    assert process is not None
    return str(process(value.astimezone(UTC).replace(tzinfo=None)))


def _samples() -> list[datetime]:
    rng = random.Random(7)
    zones = [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=45))]
    fixed = [
        datetime(1, 1, 1, 23, 59, tzinfo=timezone(timedelta(hours=-1))),
        datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-5))),  # next year in UTC
        datetime(2026, 3, 4, 5, 6, 7, 0, tzinfo=UTC),  # no microseconds: still written out
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ]
    spread = [
        datetime(1990, 1, 1, tzinfo=UTC).astimezone(rng.choice(zones))
        + timedelta(seconds=rng.uniform(0, 60 * 365 * 86400))
        for _ in range(500)
    ]
    return fixed + spread


def test_sqlite_binds_the_text_sqlalchemy_would_store() -> None:
    process = UtcDateTime().dialect_impl(SQLITE).bind_processor(SQLITE)
    assert process is not None
    for value in _samples():
        assert process(value) == _sqlalchemys_text(value), value
    assert process(None) is None


def test_naive_values_are_refused_on_both_databases() -> None:
    for dialect in (SQLITE, postgresql.dialect()):  # type: ignore[no-untyped-call]
        process = UtcDateTime().dialect_impl(dialect).bind_processor(dialect)
        assert process is not None
        with pytest.raises(ValueError, match="naive datetime"):
            process(datetime(2026, 1, 1))
