"""Audience members in SQLite, resolved to people the way Meta matches them.

A row names a person by its identifiers (email hash, phone hash, MADID, EXTERN_ID ...). A new
row that shares any identifier with a member updates that member (merging members it links);
a removal deletes every member sharing an identifier with the removed row. Members live in a
generation: a replace stages the next generation and the audience switches to it at the end.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

from services.sandbox_meta.domain.payload import Row

MEMBER_SCHEMA = """
CREATE TABLE IF NOT EXISTS members (
  id INTEGER PRIMARY KEY, audience_id INTEGER NOT NULL, gen INTEGER NOT NULL,
  fields TEXT NOT NULL, value REAL, matched INTEGER NOT NULL);
CREATE INDEX IF NOT EXISTS members_audience ON members (audience_id, gen);
CREATE TABLE IF NOT EXISTS member_keys (
  audience_id INTEGER NOT NULL, gen INTEGER NOT NULL, key INTEGER NOT NULL,
  member_id INTEGER NOT NULL, PRIMARY KEY (audience_id, gen, key)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS member_keys_member ON member_keys (member_id);
"""


# Which field names a member in ``state.members``: the email hash first, as Meta's docs rank keys.
PRIMARY_KEYS = ("EMAIL", "PHONE", "MADID", "UID", "APPUID", "PAGEUID", "EXTERN_ID")


@dataclass(frozen=True)
class Member:
    """One person in an audience: the hashed fields known for them and their value."""

    fields: dict[str, str]
    value: float | None
    matched: bool

    @property
    def identifier(self) -> str:
        """The member's main identifier: email hash, else phone hash, MADID, ids, EXTERN_ID."""
        for key in PRIMARY_KEYS:
            if key in self.fields:
                return self.fields[key]
        return "|".join(f"{k}={v}" for k, v in sorted(self.fields.items()))


@dataclass
class _Entry:
    fields: dict[str, str]
    value: float | None
    keys: set[int] = field(default_factory=set)
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
        row_keys = [[ident_key(i) for i in r.identifiers] for r in rows]
        mapping = self._lookup(audience_id, gen, {k for keys in row_keys for k in keys})
        entries = self._load(set(mapping.values()))
        dropped: set[int] = set()
        next_new = -1
        matched_rows = 0
        for row, keys in zip(rows, row_keys, strict=True):
            # A person matches if any identifier does, so merged people match if either did.
            row_matched = match(row.identifiers)
            matched_rows += row_matched
            hits = {mapping[k] for k in keys if k in mapping}
            if not hits:
                owner, next_new = next_new, next_new - 1
                entries[owner] = _Entry(dict(row.fields), row.value, set(keys), row_matched)
                for key in keys:
                    mapping[key] = owner
                continue
            # Existing members (positive ids) own before members new in this batch.
            owner, *others = sorted(hits, key=lambda k: (k < 0, abs(k)))
            entry = entries[owner]
            for other in others:  # this row links two people: merge them
                merged = entries.pop(other)
                entry.fields = {**merged.fields, **entry.fields}
                entry.keys |= merged.keys
                entry.matched = entry.matched or merged.matched
                if entry.value is None:
                    entry.value = merged.value
                for key in merged.keys:
                    mapping[key] = owner
                if other > 0:
                    dropped.add(other)
            entry.fields.update(row.fields)
            entry.keys.update(keys)
            entry.matched = entry.matched or row_matched
            if row.value is not None:
                entry.value = row.value
            for key in keys:
                mapping[key] = owner
        self._write(audience_id, gen, entries, dropped)
        return matched_rows

    def remove(self, audience_id: str, gen: int, rows: Sequence[Row]) -> int:
        """Remove every member sharing an identifier with a row; returns how many went."""
        mapping = self._lookup(audience_id, gen, {ident_key(i) for r in rows for i in r.identifiers})
        ids = sorted(set(mapping.values()))
        self._delete(ids)
        return len(ids)

    def counts(self, audience_id: str, gen: int) -> tuple[int, int]:
        """``(members, matched members)`` of one generation."""
        total, matched = self._conn.execute(
            "SELECT COUNT(*), COALESCE(SUM(matched), 0) FROM members WHERE audience_id = ? AND gen = ?",
            (int(audience_id), gen),
        ).fetchone()
        return int(total), int(matched)

    def of(self, audience_id: str, gen: int) -> list[Member]:
        """All members of one generation, in upload order."""
        rows = self._conn.execute(
            "SELECT fields, value, matched FROM members WHERE audience_id = ? AND gen = ? ORDER BY id",
            (int(audience_id), gen),
        ).fetchall()
        return [Member(decode_fields(f), v, bool(m)) for f, v, m in rows]

    def drop(self, audience_id: str, gen: int | None = None) -> None:
        """Delete one generation (or all, ``gen=None``) of an audience."""
        if gen is None:
            self._conn.execute("DELETE FROM member_keys WHERE audience_id = ?", (int(audience_id),))
            self._conn.execute("DELETE FROM members WHERE audience_id = ?", (int(audience_id),))
            return
        args = (int(audience_id), gen)
        self._conn.execute("DELETE FROM member_keys WHERE audience_id = ? AND gen = ?", args)
        self._conn.execute("DELETE FROM members WHERE audience_id = ? AND gen = ?", args)

    def _lookup(self, audience_id: str, gen: int, keys: set[int]) -> dict[int, int]:
        # json_each binds any number of values as one parameter (no 999-variable limit).
        rows = self._conn.execute(
            "SELECT key, member_id FROM member_keys WHERE audience_id = ? AND gen = ? "
            "AND key IN (SELECT value FROM json_each(?))",
            (int(audience_id), gen, json.dumps(sorted(keys))),
        ).fetchall()
        return dict(rows)

    def _load(self, ids: set[int]) -> dict[int, _Entry]:
        entries: dict[int, _Entry] = {}
        wanted = json.dumps(sorted(ids))
        for mid, fields, value, matched in self._conn.execute(
            "SELECT id, fields, value, matched FROM members WHERE id IN (SELECT value FROM json_each(?))",
            (wanted,),
        ):
            entries[mid] = _Entry(decode_fields(fields), value, matched=bool(matched))
        for key, mid in self._conn.execute(
            "SELECT key, member_id FROM member_keys WHERE member_id IN (SELECT value FROM json_each(?))",
            (wanted,),
        ):
            entries[mid].keys.add(key)
        return entries

    def _write(self, audience_id: str, gen: int, entries: dict[int, _Entry], dropped: set[int]) -> None:
        self._delete(sorted(dropped))
        aud = int(audience_id)  # audience ids are numeric: integers keep the tables small
        (top,) = self._conn.execute("SELECT COALESCE(MAX(id), 0) FROM members").fetchone()
        ids: dict[int, int] = {}
        for temp in sorted((k for k in entries if k < 0), reverse=True):
            top += 1
            ids[temp] = top
        member_rows = [
            (ids.get(k, k), aud, gen, encode_fields(e.fields), e.value, int(e.matched))
            for k, e in entries.items()
        ]
        self._conn.executemany(
            "INSERT OR REPLACE INTO members (id, audience_id, gen, fields, value, matched) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            member_rows,
        )
        self._conn.executemany(
            "INSERT OR REPLACE INTO member_keys (audience_id, gen, key, member_id) VALUES (?, ?, ?, ?)",
            [(aud, gen, key, ids.get(k, k)) for k, e in entries.items() for key in e.keys],
        )

    def _delete(self, ids: list[int]) -> None:
        if not ids:
            return
        wanted = (json.dumps(ids),)
        self._conn.execute(
            "DELETE FROM member_keys WHERE member_id IN (SELECT value FROM json_each(?))", wanted
        )
        self._conn.execute("DELETE FROM members WHERE id IN (SELECT value FROM json_each(?))", wanted)


def ident_key(identifier: str) -> int:
    """A 64-bit key for an identifier (``EMAIL:<hash>``): a quarter of the text's size in the
    index. Two identifiers collide with odds of about n^2 / 2^65 (1e-8 at a million people)."""
    digest = hashlib.blake2b(identifier.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# Fields are stored as KEY<US>value<RS>KEY<US>value: several times cheaper than JSON per row.
# Values holding a separator (only a strange EXTERN_ID could) fall back to JSON, marked "{".
_US, _RS = "\x1f", "\x1e"


def encode_fields(fields: dict[str, str]) -> str:
    """Compact text form of a member's fields."""
    if any(_US in v or _RS in v for v in fields.values()):
        return json.dumps(fields, sort_keys=True)
    return _RS.join(f"{k}{_US}{v}" for k, v in sorted(fields.items()))


def decode_fields(text: str) -> dict[str, str]:
    """Inverse of ``encode_fields``."""
    if text.startswith("{"):
        decoded: dict[str, str] = json.loads(text)
        return decoded
    if not text:
        return {}
    return dict(item.split(_US, 1) for item in text.split(_RS))
