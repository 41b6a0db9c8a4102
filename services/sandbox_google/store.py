"""Sandbox state in SQLite: in memory by default, in a file with ``--state`` (kept across restarts).

One connection behind one re-entrant lock: every RPC runs its reads and writes inside
``transaction()``, so a call sees and leaves a consistent state while the server runs threads.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from services.sandbox_google.domain.lists import ListSize, UserListRecord

SCHEMA = """
CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS user_lists (
  id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, name TEXT NOT NULL, description TEXT NOT NULL,
  life_span_days INTEGER NOT NULL, upload_key_type TEXT NOT NULL, membership_status TEXT NOT NULL,
  created_at REAL NOT NULL);
CREATE TABLE IF NOT EXISTS members (
  list_id INTEGER NOT NULL, key TEXT NOT NULL, identifiers TEXT NOT NULL, ad_user_data TEXT NOT NULL,
  ad_personalization TEXT NOT NULL, added_at REAL NOT NULL, matched INTEGER NOT NULL,
  PRIMARY KEY (list_id, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS members_added ON members (list_id, added_at);
CREATE TABLE IF NOT EXISTS requests (
  id TEXT PRIMARY KEY, kind TEXT NOT NULL, created_at REAL NOT NULL, ready_at REAL NOT NULL,
  applied INTEGER NOT NULL DEFAULT 0, payload TEXT NOT NULL, result TEXT);
CREATE INDEX IF NOT EXISTS requests_due ON requests (applied, ready_at);
CREATE TABLE IF NOT EXISTS jobs (
  id INTEGER PRIMARY KEY, customer_id TEXT NOT NULL, list_id INTEGER NOT NULL, status TEXT NOT NULL,
  ad_user_data TEXT NOT NULL, ad_personalization TEXT NOT NULL, external_id INTEGER,
  op_kind TEXT, remove_all INTEGER NOT NULL DEFAULT 0, created_at REAL NOT NULL, run_at REAL,
  done_at REAL, match_range TEXT NOT NULL DEFAULT '', operation TEXT);
CREATE TABLE IF NOT EXISTS job_ops (
  job_id INTEGER NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
  identifiers TEXT NOT NULL, PRIMARY KEY (job_id, seq)) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class MemberRow:
    """A live member as stored (identifiers as ``kind:value`` texts)."""

    key: str
    identifiers: tuple[str, ...]
    ad_user_data: str
    ad_personalization: str
    added_at: float
    matched: bool


@dataclass(frozen=True)
class JobRow:
    """An offline user data job as stored."""

    id: int
    customer_id: str
    list_id: int
    status: str
    ad_user_data: str
    ad_personalization: str
    external_id: int | None
    op_kind: str | None
    remove_all: bool
    created_at: float
    run_at: float | None
    done_at: float | None
    match_range: str
    operation: str | None


class SandboxStore:
    """Tables for lists, members, Data Manager requests and Ads API jobs."""

    def __init__(self, path: Path | None = None) -> None:
        self.path = path
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(
            str(path) if path else ":memory:", check_same_thread=False, isolation_level=None
        )
        self._db.execute("PRAGMA journal_mode=WAL" if path else "PRAGMA journal_mode=MEMORY")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.executescript(SCHEMA)
        self._lock = threading.RLock()
        self._depth = 0

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Hold the lock; the outermost block commits, or rolls back on an exception."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._db.execute("BEGIN IMMEDIATE")
            self._depth += 1
            try:
                yield
            except BaseException:
                self._depth -= 1
                if outer:
                    self._db.execute("ROLLBACK")
                raise
            self._depth -= 1
            if outer:
                self._db.execute("COMMIT")

    def close(self) -> None:
        """Close the database (state files stay on disk)."""
        with self._lock:
            self._db.close()

    def next_id(self, name: str, start: int) -> int:
        """The next id in a named sequence (list ids, job ids, request numbers)."""
        row = self._db.execute("SELECT value FROM counters WHERE name = ?", (name,)).fetchone()
        value = start if row is None else int(row[0]) + 1
        self._db.execute("INSERT OR REPLACE INTO counters (name, value) VALUES (?, ?)", (name, value))
        return value

    # --- user lists -------------------------------------------------------------------------------

    def add_list(self, record: UserListRecord) -> None:
        """Store a new list."""
        self._db.execute(
            "INSERT INTO user_lists VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            (
                record.id,
                record.customer_id,
                record.name,
                record.description,
                record.life_span_days,
                record.upload_key_type,
                record.membership_status,
                record.created_at,
            ),
        )

    def user_list(self, list_id: int) -> UserListRecord | None:
        """One list by id."""
        row = self._db.execute("SELECT * FROM user_lists WHERE id = ?", (list_id,)).fetchone()
        return None if row is None else UserListRecord(*row)

    def user_lists(self, customer_id: str | None = None) -> list[UserListRecord]:
        """Lists of one customer (or all), oldest first."""
        if customer_id is None:
            rows = self._db.execute("SELECT * FROM user_lists ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM user_lists WHERE customer_id = ? ORDER BY id", (customer_id,)
            ).fetchall()
        return [UserListRecord(*r) for r in rows]

    def save_list(self, record: UserListRecord) -> None:
        """Overwrite a list's settings (its members stay)."""
        self._db.execute("DELETE FROM user_lists WHERE id = ?", (record.id,))
        self.add_list(record)

    def delete_list(self, list_id: int) -> None:
        """Remove a list and its members."""
        self._db.execute("DELETE FROM user_lists WHERE id = ?", (list_id,))
        self._db.execute("DELETE FROM members WHERE list_id = ?", (list_id,))

    # --- members ---------------------------------------------------------------------------------

    def upsert_members(self, list_id: int, rows: Iterable[tuple[str, str, str, str, float, int]]) -> None:
        """Add or refresh members: ``(key, identifiers json, ad_user_data, ad_personalization,
        added_at, matched)``; a re-added member gets the new time and consent.

        A member known by its key alone stores no identifier list (a third of a 1M-member list's
        size in memory)."""
        self._db.executemany(
            "INSERT OR REPLACE INTO members VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((list_id, key, "" if idents == f'["{key}"]' else idents, *rest) for key, idents, *rest in rows),
        )

    def remove_members(self, list_id: int, keys: Iterable[str]) -> None:
        """Remove members by key (absent keys are ignored, as Google ignores them)."""
        self._db.executemany(
            "DELETE FROM members WHERE list_id = ? AND key = ?", ((list_id, k) for k in keys)
        )

    def remove_added_before(self, list_id: int, before: float) -> int:
        """Remove members last added before ``before``; returns how many."""
        cur = self._db.execute("DELETE FROM members WHERE list_id = ? AND added_at < ?", (list_id, before))
        return int(cur.rowcount)

    def size(self, list_id: int) -> ListSize:
        """Members and matched members of a list."""
        row = self._db.execute(
            "SELECT COUNT(*), COALESCE(SUM(matched), 0) FROM members WHERE list_id = ?", (list_id,)
        ).fetchone()
        return ListSize(int(row[0]), int(row[1]))

    def members(self, list_id: int) -> list[MemberRow]:
        """Live members of a list in key order."""
        rows = self._db.execute(
            "SELECT key, identifiers, ad_user_data, ad_personalization, added_at, matched "
            "FROM members WHERE list_id = ? ORDER BY key",
            (list_id,),
        ).fetchall()
        return [
            MemberRow(r[0], tuple(json.loads(r[1])) if r[1] else (r[0],), r[2], r[3], r[4], bool(r[5]))
            for r in rows
        ]

    # --- Data Manager requests ------------------------------------------------------------------

    def add_request(
        self, request_id: str, kind: str, created_at: float, ready_at: float, payload: Any
    ) -> None:
        """Record an accepted request, processed once ``ready_at`` has passed."""
        self._db.execute(
            "INSERT INTO requests (id, kind, created_at, ready_at, payload) VALUES (?, ?, ?, ?, ?)",
            (request_id, kind, created_at, ready_at, json.dumps(payload, separators=(",", ":"))),
        )

    def due_requests(self, now: float) -> list[tuple[str, str, float, Any]]:
        """Unprocessed requests whose time has come, oldest first: ``(id, kind, created_at, payload)``."""
        rows = self._db.execute(
            "SELECT id, kind, created_at, payload FROM requests WHERE applied = 0 AND ready_at <= ? "
            "ORDER BY created_at, rowid",
            (now,),
        ).fetchall()
        return [(r[0], r[1], r[2], json.loads(r[3])) for r in rows]

    def finish_request(self, request_id: str, result: Any) -> None:
        """Mark a request processed with its per-destination result."""
        self._db.execute(
            "UPDATE requests SET applied = 1, payload = '{}', result = ? WHERE id = ?",
            (json.dumps(result, separators=(",", ":")), request_id),
        )

    def request(self, request_id: str) -> tuple[str, bool, Any] | None:
        """``(kind, processed, result or payload)`` of a request, or None."""
        row = self._db.execute(
            "SELECT kind, applied, payload, result FROM requests WHERE id = ?", (request_id,)
        ).fetchone()
        if row is None:
            return None
        return row[0], bool(row[1]), json.loads(row[3] if row[1] else row[2])

    # --- Ads API jobs ----------------------------------------------------------------------------

    def add_job(self, job: JobRow) -> None:
        """Store a new job."""
        self._db.execute(
            "INSERT INTO jobs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                job.id,
                job.customer_id,
                job.list_id,
                job.status,
                job.ad_user_data,
                job.ad_personalization,
                job.external_id,
                job.op_kind,
                int(job.remove_all),
                job.created_at,
                job.run_at,
                job.done_at,
                job.match_range,
                job.operation,
            ),
        )

    def save_job(self, job: JobRow) -> None:
        """Overwrite a job."""
        self._db.execute("DELETE FROM jobs WHERE id = ?", (job.id,))
        self.add_job(job)

    def job(self, job_id: int) -> JobRow | None:
        """One job by id."""
        row = self._db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return None if row is None else _job(row)

    def jobs(self, customer_id: str | None = None) -> list[JobRow]:
        """Jobs of one customer (or all), oldest first."""
        if customer_id is None:
            rows = self._db.execute("SELECT * FROM jobs ORDER BY id").fetchall()
        else:
            rows = self._db.execute(
                "SELECT * FROM jobs WHERE customer_id = ? ORDER BY id", (customer_id,)
            ).fetchall()
        return [_job(r) for r in rows]

    def job_by_operation(self, name: str) -> JobRow | None:
        """The job a long-running operation name belongs to."""
        row = self._db.execute("SELECT * FROM jobs WHERE operation = ?", (name,)).fetchone()
        return None if row is None else _job(row)

    def external_id_used(self, customer_id: str, external_id: int) -> bool:
        """Whether a job of this customer already has the external id."""
        row = self._db.execute(
            "SELECT 1 FROM jobs WHERE customer_id = ? AND external_id = ?", (customer_id, external_id)
        ).fetchone()
        return row is not None

    def add_job_ops(self, job_id: int, ops: list[tuple[str, str, str]]) -> int:
        """Append ``(kind, key, identifiers json)`` operations; returns the job's total."""
        row = self._db.execute(
            "SELECT COALESCE(MAX(seq), -1) FROM job_ops WHERE job_id = ?", (job_id,)
        ).fetchone()
        start = int(row[0]) + 1
        self._db.executemany(
            "INSERT INTO job_ops VALUES (?, ?, ?, ?, ?)",
            ((job_id, start + i, kind, key, idents) for i, (kind, key, idents) in enumerate(ops)),
        )
        return start + len(ops)

    def job_has_ops(self, job_id: int) -> bool:
        """Whether any operation was added to the job (without reading them)."""
        return (
            self._db.execute("SELECT 1 FROM job_ops WHERE job_id = ? LIMIT 1", (job_id,)).fetchone()
            is not None
        )

    def job_ops(self, job_id: int) -> list[tuple[str, str, str]]:
        """A job's operations in the order added."""
        rows = self._db.execute(
            "SELECT kind, key, identifiers FROM job_ops WHERE job_id = ? ORDER BY seq", (job_id,)
        ).fetchall()
        return [(r[0], r[1], r[2]) for r in rows]

    def drop_job_ops(self, job_id: int) -> None:
        """Forget a finished job's operations (its effect is in ``members``)."""
        self._db.execute("DELETE FROM job_ops WHERE job_id = ?", (job_id,))


def _job(row: tuple[Any, ...]) -> JobRow:
    values = list(row)
    values[8] = bool(values[8])
    return JobRow(*values)
