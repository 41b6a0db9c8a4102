"""SQLite state for the sandbox: audiences, sessions and ids; in memory or in a file.

One implementation serves both modes (``path=None`` is ``:memory:``), so ``--state FILE`` keeps
exactly what the in-memory default keeps. Every request runs inside ``transaction()``: one lock
and one SQLite transaction, so a request that raises leaves no partial state behind.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from services.sandbox_meta.adapters.members import MemberTable
from services.sandbox_meta.domain.audience import Audience
from services.sandbox_meta.domain.sessions import UploadSession

FIRST_ID = 23_850_000_000_000_001  # Graph ids are 17-digit numeric strings

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS audiences (
  id TEXT PRIMARY KEY, account_id TEXT NOT NULL, name TEXT NOT NULL, subtype TEXT NOT NULL,
  description TEXT, customer_file_source TEXT, is_value_based INTEGER NOT NULL,
  audience_labels TEXT NOT NULL, data_shape TEXT, origin_audience_id TEXT, lookalike_spec TEXT,
  flagged INTEGER NOT NULL, replace_error INTEGER NOT NULL, time_created INTEGER NOT NULL,
  time_updated INTEGER NOT NULL, time_content_updated INTEGER NOT NULL,
  live_gen INTEGER NOT NULL, ready_at INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS audiences_account ON audiences (account_id, id);
CREATE TABLE IF NOT EXISTS sessions (
  audience_id TEXT NOT NULL, session_id TEXT NOT NULL, kind TEXT NOT NULL,
  start_time INTEGER NOT NULL, closed INTEGER NOT NULL, timed_out INTEGER NOT NULL,
  end_time INTEGER NOT NULL, batches INTEGER NOT NULL, num_received INTEGER NOT NULL,
  num_invalid INTEGER NOT NULL, num_matched INTEGER NOT NULL, estimated_total INTEGER,
  schema TEXT, gen INTEGER NOT NULL, PRIMARY KEY (audience_id, session_id));
"""

_AUDIENCE_COLUMNS = (
    "id",
    "account_id",
    "name",
    "subtype",
    "description",
    "customer_file_source",
    "is_value_based",
    "audience_labels",
    "data_shape",
    "origin_audience_id",
    "lookalike_spec",
    "flagged",
    "replace_error",
    "time_created",
    "time_updated",
    "time_content_updated",
    "live_gen",
    "ready_at",
)
_SESSION_COLUMNS = (
    "audience_id",
    "session_id",
    "kind",
    "start_time",
    "closed",
    "timed_out",
    "end_time",
    "batches",
    "num_received",
    "num_invalid",
    "num_matched",
    "estimated_total",
    "schema",
    "gen",
)
# Static SQL: the column lists are spelled out so no query is assembled at run time.
_SELECT_AUDIENCES = (
    "SELECT "
    "id, account_id, name, subtype, description, customer_file_source, "
    "is_value_based, audience_labels, data_shape, origin_audience_id, "
    "lookalike_spec, flagged, replace_error, time_created, time_updated, "
    "time_content_updated, live_gen, ready_at"
    " FROM audiences"
)
_UPSERT_AUDIENCE = (
    "INSERT OR REPLACE INTO audiences ("
    "id, account_id, name, subtype, description, customer_file_source, "
    "is_value_based, audience_labels, data_shape, origin_audience_id, "
    "lookalike_spec, flagged, replace_error, time_created, time_updated, "
    "time_content_updated, live_gen, ready_at"
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_SELECT_SESSIONS = (
    "SELECT "
    "audience_id, session_id, kind, start_time, closed, timed_out, end_time, "
    "batches, num_received, num_invalid, num_matched, estimated_total, schema, gen"
    " FROM sessions WHERE audience_id = ?"
)
_UPSERT_SESSION = (
    "INSERT OR REPLACE INTO sessions ("
    "audience_id, session_id, kind, start_time, closed, timed_out, end_time, "
    "batches, num_received, num_invalid, num_matched, estimated_total, schema, gen"
    ") VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)


class SandboxStore:
    """Audiences, sessions and members in one SQLite database."""

    def __init__(self, path: Path | None = None) -> None:
        target = ":memory:" if path is None else str(path)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._lock = threading.RLock()
        if path is not None:
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
        self._conn.executescript(SCHEMA)
        self.members = MemberTable(self._conn)
        self.members.create()
        self._depth = 0

    def close(self) -> None:
        """Close the database (a file keeps everything for the next start)."""
        with self._lock:
            self._conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Serialise one request and commit it, or roll it back if it raises.

        Nested use is a savepoint: only the inner block is undone when it raises, so work the
        outer block did first (settling overdue sessions) survives a failed call.
        """
        with self._lock:
            self._depth += 1
            name = f"sp{self._depth}"
            outer = self._depth == 1
            self._conn.execute("BEGIN IMMEDIATE" if outer else f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                self._conn.execute("ROLLBACK" if outer else f"ROLLBACK TO {name}")
                if not outer:
                    self._conn.execute(f"RELEASE {name}")
                raise
            else:
                self._conn.execute("COMMIT" if outer else f"RELEASE {name}")
            finally:
                self._depth -= 1

    def next_id(self) -> str:
        """A fresh numeric object id, never reused (kept across restarts with a file)."""
        row = self._conn.execute("SELECT value FROM counters WHERE name = 'id'").fetchone()
        value = FIRST_ID if row is None else int(row[0]) + 1
        self._conn.execute(
            "INSERT INTO counters (name, value) VALUES ('id', ?) "
            "ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            (value,),
        )
        return str(value)

    # --- audiences ---------------------------------------------------------------------

    def save_audience(self, audience: Audience) -> None:
        """Insert or update an audience."""
        values = _audience_row(audience)
        self._conn.execute(_UPSERT_AUDIENCE, values)

    def audience(self, audience_id: str) -> Audience | None:
        """The audience with this id, or None."""
        row = self._conn.execute(_SELECT_AUDIENCES + " WHERE id = ?", (audience_id,)).fetchone()
        return None if row is None else _audience_from(row)

    def audiences(self, account_id: str | None = None) -> list[Audience]:
        """Audiences of one account (or all), oldest first."""
        if account_id is None:
            rows = self._conn.execute(_SELECT_AUDIENCES + " ORDER BY CAST(id AS INTEGER)")
        else:
            rows = self._conn.execute(
                _SELECT_AUDIENCES + " WHERE account_id = ? ORDER BY CAST(id AS INTEGER)",
                (account_id,),
            )
        return [_audience_from(r) for r in rows]

    def lookalikes_of(self, seed_id: str) -> list[Audience]:
        """Lookalikes created from this seed."""
        rows = self._conn.execute(
            _SELECT_AUDIENCES + " WHERE origin_audience_id = ? ORDER BY CAST(id AS INTEGER)",
            (seed_id,),
        )
        return [_audience_from(r) for r in rows]

    def delete_audience(self, audience_id: str) -> None:
        """Delete an audience with its members and sessions."""
        self._conn.execute("DELETE FROM audiences WHERE id = ?", (audience_id,))
        self._conn.execute("DELETE FROM sessions WHERE audience_id = ?", (audience_id,))
        self.members.drop(audience_id)

    # --- sessions ----------------------------------------------------------------------

    def save_session(self, session: UploadSession) -> None:
        """Insert or update a session."""
        values = (
            session.audience_id,
            session.session_id,
            session.kind,
            session.start_time,
            int(session.closed),
            int(session.timed_out),
            session.end_time,
            session.batches,
            session.num_received,
            session.num_invalid,
            session.num_matched,
            session.estimated_total,
            None if session.schema is None else json.dumps(list(session.schema)),
            session.gen,
        )
        self._conn.execute(_UPSERT_SESSION, values)

    def session(self, audience_id: str, session_id: str) -> UploadSession | None:
        """One session of an audience, or None."""
        row = self._conn.execute(
            _SELECT_SESSIONS + " AND session_id = ?", (audience_id, session_id)
        ).fetchone()
        return None if row is None else _session_from(row)

    def sessions(self, audience_id: str, *, open_only: bool = False) -> list[UploadSession]:
        """Sessions of an audience, oldest first."""
        where = " AND closed = 0" if open_only else ""
        rows = self._conn.execute(_SELECT_SESSIONS + where + " ORDER BY start_time, rowid", (audience_id,))
        return [_session_from(r) for r in rows]


def _audience_row(a: Audience) -> tuple[Any, ...]:
    return (
        a.id,
        a.account_id,
        a.name,
        a.subtype,
        a.description,
        a.customer_file_source,
        int(a.is_value_based),
        json.dumps(a.audience_labels),
        a.data_shape,
        a.origin_audience_id,
        None if a.lookalike_spec is None else json.dumps(a.lookalike_spec),
        int(a.flagged),
        int(a.replace_error),
        a.time_created,
        a.time_updated,
        a.time_content_updated,
        a.live_gen,
        a.ready_at,
    )


def _audience_from(row: tuple[Any, ...]) -> Audience:
    data = dict(zip(_AUDIENCE_COLUMNS, row, strict=True))
    data["is_value_based"] = bool(data["is_value_based"])
    data["flagged"] = bool(data["flagged"])
    data["replace_error"] = bool(data["replace_error"])
    data["audience_labels"] = json.loads(data["audience_labels"])
    spec = data["lookalike_spec"]
    data["lookalike_spec"] = None if spec is None else json.loads(spec)
    return Audience(**data)


def _session_from(row: tuple[Any, ...]) -> UploadSession:
    data = dict(zip(_SESSION_COLUMNS, row, strict=True))
    data["closed"] = bool(data["closed"])
    data["timed_out"] = bool(data["timed_out"])
    schema = data["schema"]
    data["schema"] = None if schema is None else tuple(json.loads(schema))
    return UploadSession(**data)
