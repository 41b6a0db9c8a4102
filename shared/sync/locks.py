"""One sync of a destination at a time, across processes, released when the holder dies.

PostgreSQL: a session advisory lock on a dedicated connection, keyed by schema and destination
(advisory locks are database-wide; installations may share a database in separate schemas).
SQLite (one machine): an exclusive ``flock`` on a file beside the database. The kernel or the
server drops both when the process is killed, so a run found ``running`` under a lock we hold
belongs to a dead process and is safe to resume.
"""

from __future__ import annotations

import fcntl
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import text

from shared.store.db import Store

LOCK_CLASS = 0x4D455441  # "META": the advisory-lock namespace of destination syncs (ids are unique
# across platforms, so every platform shares it; the value is kept for running installations)
_KEY = ":cls, hashtext(current_schema() || '/' || :obj)"


@contextmanager
def destination_lock(store: Store, destination_id: int) -> Iterator[bool]:
    """Try to take the destination's lock; yields whether it was taken (never blocks)."""
    if store.dialect == "postgresql":
        with store.engine.connect() as conn:
            taken = bool(
                conn.execute(
                    text("SELECT pg_try_advisory_lock(:cls, :obj)"),
                    {"cls": LOCK_CLASS, "obj": destination_id},
                ).scalar()
            )
            conn.commit()
            try:
                yield taken
            finally:
                if taken:
                    conn.execute(
                        text("SELECT pg_advisory_unlock(:cls, :obj)"),
                        {"cls": LOCK_CLASS, "obj": destination_id},
                    )
                    conn.commit()
        return
    database = store.engine.url.database
    if not database or database == ":memory:":
        yield True  # an in-memory database lives in one process
        return
    # The name predates other platforms; destination ids are unique across them.
    path = Path(f"{database}.meta-sync-{destination_id}.lock")
    with path.open("a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            yield False
            return
        try:
            yield True
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
