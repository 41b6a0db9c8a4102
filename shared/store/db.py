"""Engine and transactions for SQLite (embedded default) and PostgreSQL (deployments).

One ``Store`` per process, built in the composition root; nothing connects at import time.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker


def normalize_url(url: str) -> str:
    """Pick the psycopg 3 driver for bare ``postgresql://`` URLs."""
    if url.startswith("postgresql://"):
        return "postgresql+psycopg://" + url[len("postgresql://") :]
    if url.startswith("postgres://"):
        return "postgresql+psycopg://" + url[len("postgres://") :]
    return url


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers run beside the one writer; busy_timeout turns writer contention between
    # services into a wait instead of "database is locked"; foreign keys are off by default.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=30000")
    cur.close()
    # pysqlite's own transaction handling emits BEGIN only before a write and none for SAVEPOINT,
    # so a savepoint (``begin_nested``) opening a transaction committed on RELEASE and an outer
    # rollback undid nothing. SQLAlchemy's BEGIN (``_sqlite_begin``) takes over instead.
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Any) -> None:
    # A writer takes the write lock up front (BEGIN IMMEDIATE, waiting up to busy_timeout), so a
    # transaction that read first never fails to upgrade its snapshot after another commit.
    immediate = conn.get_execution_options().get("sqlite_immediate", False)
    conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine for ``url``; creates the SQLite file's folder when needed."""
    url = normalize_url(url)
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, **kwargs)
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
        return engine
    return create_engine(url, pool_pre_ping=True, **kwargs)


class Store:
    """The database of one process: an engine and a session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = normalize_url(url)
        self.engine = make_engine(self.url, **engine_kwargs)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        writer = self.engine.execution_options(sqlite_immediate=True)
        self._writes = sessionmaker(writer, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        """``sqlite`` or ``postgresql``."""
        return self.engine.dialect.name

    @contextmanager
    def transaction(self) -> Iterator[Session]:
        """A session whose work commits on success and rolls back on any error."""
        with self._writes.begin() as session:
            yield session

    def session(self) -> Session:
        """A plain session for reads (caller closes it)."""
        return self._sessions()

    def dispose(self) -> None:
        """Close pooled connections (before fork, at shutdown)."""
        self.engine.dispose()
