"""Audience members in SQLite, resolved to people the way Meta matches them.

A row names a person by its identifiers (email hash, phone hash, MADID, EXTERN_ID ...). A new
row that shares any identifier with a member updates that member (merging members it links);
a removal deletes every member sharing an identifier with the removed row. Members live in a
generation: a replace stages the next generation and the audience switches to it at the end.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from services.sandbox_meta.domain.payload import Row

MEMBER_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
  id INTEGER PRIMARY KEY, audience_id TEXT NOT NULL, gen INTEGER NOT NULL,
  fields TEXT NOT NULL, value REAL, matched INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS members_audience ON members (audience_id, gen);
CREATE TABLE IF NOT EXISTS member_keys (
  audience_id TEXT NOT NULL, gen INTEGER NOT NULL, ident TEXT NOT NULL,
  member_id INTEGER NOT NULL, PRIMARY KEY (audience_id, gen, ident)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_keys_member ON member_keys (member_id);
"""


@dataclass(frozen=True)
class Member:
    """One person in an audience: the hashed fields known for them and their value."""

    fields: dict[str, str]
    value: float | None
    matched: bool


@dataclass
class _Entry:
    fields: dict[str, str]
    value: float | None
    idents: set[str] = field(default_factory=set)
    matched: bool = False


class MemberTable:
    """Members of all audiences; the caller holds the store's transaction."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def create(self) -> None:
        """Create the tables if missing."""
        self._conn.executescript(MEMBER_SCHEMA)

    def upsert(
        self,
        audience_id: str,
        gen: int,
        rows: Sequence[Row],
        match: Callable[[Iterable[str]], bool],
    ) -> int:
        """Add or update the people in ``rows``; returns how many rows matched a user."""
        mapping = self._lookup(audience_id, gen, {i for r in rows for i in r.identifiers})
        entries = self._load(set(mapping.values()))
        dropped: set[int] = set()
        next_new = -1
        matched_rows = 0
        for row in rows:
            # Existing members (positive ids) own before members new in this batch.
            owners = sorted(
                {mapping[i] for i in row.identifiers if i in mapping},
                key=lambda k: (k < 0, abs(k)),
            )
            if not owners:
                owner, next_new = next_new, next_new - 1
                entries[owner] = _Entry(dict(row.fields), row.value)
            else:
                owner = owners[0]
                for other in owners[1:]:  # this row links two people: merge them
                    merged = entries.pop(other)
                    entries[owner].fields = {**merged.fields, **entries[owner].fields}
                    entries[owner].idents |= merged.idents
                    if entries[owner].value is None:
                        entries[owner].value = merged.value
                    for ident in merged.idents:
                        mapping[ident] = owner
                    if other > 0:
                        dropped.add(other)
                entries[owner].fields.update(row.fields)
                if row.value is not None:
                    entries[owner].value = row.value
            entries[owner].idents.update(row.identifiers)
            for ident in row.identifiers:
                mapping[ident] = owner
            matched_rows += match(row.identifiers)
        for entry in entries.values():
            entry.matched = match(entry.idents)
        self._write(audience_id, gen, entries, dropped)
        return matched_rows

    def remove(self, audience_id: str, gen: int, rows: Sequence[Row]) -> int:
        """Remove every member sharing an identifier with a row; returns how many went."""
        mapping = self._lookup(audience_id, gen, {i for r in rows for i in r.identifiers})
        ids = sorted(set(mapping.values()))
        self._delete(ids)
        return len(ids)

    def counts(self, audience_id: str, gen: int) -> tuple[int, int]:
        """``(members, matched members)`` of one generation."""
        total, matched = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(matched), 0) FROM members WHERE audience_id = ? AND gen = ?",
            (audience_id, gen),
        ).fetchone()
        return int(total), int(matched)

    def of(self, audience_id: str, gen: int) -> list[Member]:
        """All members of one generation, in upload order."""
        rows = self._conn.execute(
            "SELECT fields, value, matched FROM members WHERE audience_id = ? AND gen = ? ORDER BY id",
            (audience_id, gen),
        ).fetchall()
        return [Member(json.loads(f), v, bool(m)) for f, v, m in rows]

    def drop(self, audience_id: str, gen: int | None = None) -> None:
        """Delete one generation (or all, ``gen=None``) of an audience."""
        if gen is None:
            self._conn.execute("DELETE FROM member_keys WHERE audience_id = ?", (audience_id,))
            self._conn.execute("DELETE FROM members WHERE audience_id = ?", (audience_id,))
            return
        args = (audience_id, gen)
        self._conn.execute("DELETE FROM member_keys WHERE audience_id = ? AND gen = ?", args)
        self._conn.execute("DELETE FROM members WHERE audience_id = ? AND gen = ?", args)

    def _lookup(self, audience_id: str, gen: int, idents: set[str]) -> dict[str, int]:
        # json_each binds any number of values as one parameter (no 999-variable limit).
        rows = self._conn.execute(
            "SELECT ident, member_id FROM member_keys WHERE audience_id = ? AND gen = ? "
            "AND ident IN (SELECT value FROM json_each(?))",
            (audience_id, gen, json.dumps(sorted(idents))),
        ).fetchall()
        return dict(rows)

    def _load(self, ids: set[int]) -> dict[int, _Entry]:
        entries: dict[int, _Entry] = {}
        wanted = json.dumps(sorted(ids))
        for mid, fields, value in self._conn.execute(
            "SELECT id, fields, value FROM members WHERE id IN (SELECT value FROM json_each(?))",
            (wanted,),
        ):
            entries[mid] = _Entry(json.loads(fields), value)
        for ident, mid in self._conn.execute(
            "SELECT ident, member_id FROM member_keys WHERE member_id IN (SELECT value FROM json_each(?))",
            (wanted,),
        ):
            entries[mid].idents.add(ident)
        return entries

    def _write(self, audience_id: str, gen: int, entries: dict[int, _Entry], dropped: set[int]) -> None:
        self._delete(sorted(dropped))
        (top,) = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM members").fetchone()
        ids: dict[int, int] = {}
        for temp in sorted((k for k in entries if k < 0), reverse=True):
            top += 1
            ids[temp] = top
        member_rows = [
            (ids.get(k, k), audience_id, gen, json.dumps(e.fields, sort_keys=True), e.value, int(e.matched))
            for k, e in entries.items()
        ]
        self._conn.executemany(
            "INSERT OR REPLACE INTO members (id, audience_id, gen, fields, value, matched) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            member_rows,
        )
        self._conn.executemany(
            "INSERT OR REPLACE INTO member_keys (audience_id, gen, ident, member_id) VALUES (?, ?, ?, ?)",
            [(audience_id, gen, i, ids.get(k, k)) for k, e in entries.items() for i in e.idents],
        )

    def _delete(self, ids: list[int]) -> None:
        if not ids:
            return
        wanted = (json.dumps(ids),)
        self._conn.execute(
            "DELETE FROM member_keys WHERE member_id IN (SELECT value FROM json_each(?))", wanted
        )
        self._conn.execute("DELETE FROM members WHERE id IN (SELECT value FROM json_each(?))", wanted)
