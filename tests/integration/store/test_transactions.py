"""A store transaction is one transaction on both databases, savepoints included."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from shared.store.db import Store
from shared.store.models import DeadLetterRecord

pytestmark = pytest.mark.integration


def _rows(store: Store) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(DeadLetterRecord)) or 0)


def _insert(session: Session, offset: int) -> None:
    session.add(
        DeadLetterRecord(
            consumer="c", topic="t", partition=0, offset=offset, reason="r", created_at=datetime.now(UTC)
        )
    )
    session.flush()


def test_a_savepoints_work_is_undone_with_its_transaction(store: Store) -> None:
    # With pysqlite's own BEGIN handling, a savepoint that opened the transaction committed on
    # release, so the ingestor's "a record's effects and its handled mark together" did not hold.
    def crash_after_a_savepoint() -> None:
        with store.transaction() as session:
            session.execute(select(func.count()).select_from(DeadLetterRecord)).all()
            with session.begin_nested():
                _insert(session, 1)
            raise RuntimeError("crash after the savepoint")

    with pytest.raises(RuntimeError):
        crash_after_a_savepoint()
    assert _rows(store) == 0


def test_a_writer_that_read_first_commits_after_another_writer(store: Store) -> None:
    # A deferred SQLite transaction that read, then wrote after another connection committed,
    # failed at once with "database is locked" (its snapshot cannot be upgraded).
    read, other_done = threading.Event(), threading.Event()

    def other() -> None:
        read.wait(10)
        with store.transaction() as session:
            _insert(session, 2)
        other_done.set()

    thread = threading.Thread(target=other)
    thread.start()
    with store.transaction() as session:
        session.execute(select(func.count()).select_from(DeadLetterRecord)).all()
        read.set()
        other_done.wait(1)  # SQLite: the other writer waits for this one; PostgreSQL: it commits
        _insert(session, 1)
    thread.join(40)
    assert _rows(store) == 2
