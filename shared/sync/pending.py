"""Pending keys: customers whose labels changed and that a syncer has not synced yet, durably.

The consumer notes keys here before their messages' offsets are committed; the sync worker
drains them only after a sync covering them succeeded. A key noted again while its sync ran
keeps its row: the drain deletes a key only with the ``noted`` stamp it read.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Protocol

from sqlalchemy import delete, func, select, tuple_

from shared.store.db import Store
from shared.store.dialect import insert
from shared.store.models import SyncPending

CHUNK = 5_000  # keys per statement: 2 parameters each, under SQLite's 32,766


class PendingKeys(Protocol):
    """Where a syncer's pending keys are kept (the database; a dict in unit tests)."""

    def note(self, keys: Sequence[str]) -> None:
        """Remember keys (again: their stamp moves on)."""
        ...

    def state(self) -> tuple[int, int | None]:
        """How many keys are pending and the oldest stamp (ns since the epoch; None: none)."""
        ...

    def claim(self, limit: int) -> dict[str, int]:
        """Up to ``limit`` pending keys, oldest first, with their stamps (nothing is locked)."""
        ...

    def drain(self, claimed: Mapping[str, int]) -> int:
        """Forget keys whose stamp is still the one claimed; returns how many went."""
        ...


def _chunks(items: Sequence[str], size: int = CHUNK) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class SqlPendingKeys:
    """``PendingKeys`` in the ``sync_pending`` table, one set per syncer (its platform)."""

    def __init__(self, store: Store, syncer: str, *, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.store, self.syncer, self.clock_ns = store, syncer, clock_ns

    def note(self, keys: Sequence[str]) -> None:
        """Upsert each key with a fresh stamp, in one transaction."""
        unique = sorted(set(keys))
        if not unique:
            return
        noted = self.clock_ns()
        with self.store.transaction() as session:
            for chunk in _chunks(unique):
                statement = insert(session, SyncPending.__table__)  # type: ignore[arg-type]
                session.execute(
                    statement.on_conflict_do_update(
                        index_elements=["syncer", "customer_key"], set_={"noted": statement.excluded.noted}
                    ),
                    [{"syncer": self.syncer, "customer_key": key, "noted": noted} for key in chunk],
                )

    def state(self) -> tuple[int, int | None]:
        """Count and oldest stamp of this syncer's keys."""
        with self.store.session() as session:
            query = select(func.count(), func.min(SyncPending.noted)).where(SyncPending.syncer == self.syncer)
            count, oldest = session.execute(query).one()
        return int(count or 0), (int(oldest) if oldest is not None else None)

    def claim(self, limit: int) -> dict[str, int]:
        """The oldest ``limit`` keys with their stamps."""
        with self.store.session() as session:
            query = (
                select(SyncPending.customer_key, SyncPending.noted)
                .where(SyncPending.syncer == self.syncer)
                .order_by(SyncPending.noted, SyncPending.customer_key)
                .limit(limit)
            )
            return {key: int(noted) for key, noted in session.execute(query)}

    def drain(self, claimed: Mapping[str, int]) -> int:
        """Delete the claimed keys whose stamp did not move while they were synced."""
        gone = 0
        keys = sorted(claimed)
        with self.store.transaction() as session:
            for chunk in _chunks(keys):
                pairs = [(key, claimed[key]) for key in chunk]
                result = session.execute(
                    delete(SyncPending).where(
                        SyncPending.syncer == self.syncer,
                        tuple_(SyncPending.customer_key, SyncPending.noted).in_(pairs),
                    )
                )
                gone += int(result.rowcount or 0)  # type: ignore[attr-defined]
        return gone


class MemoryPendingKeys:
    """``PendingKeys`` in a dict: unit tests and the in-memory contract fake."""

    def __init__(self, clock_ns: Callable[[], int] = time.time_ns) -> None:
        self.keys: dict[str, int] = {}
        self.clock_ns = clock_ns
        self._tick = 0

    def note(self, keys: Sequence[str]) -> None:
        """Stamp each key (strictly increasing, even within one clock tick)."""
        for key in keys:
            self._tick += 1
            self.keys[key] = max(self.clock_ns(), self._tick)
            self._tick = self.keys[key]

    def state(self) -> tuple[int, int | None]:
        """Count and oldest stamp."""
        return len(self.keys), min(self.keys.values(), default=None)

    def claim(self, limit: int) -> dict[str, int]:
        """The oldest keys."""
        return dict(sorted(self.keys.items(), key=lambda kv: (kv[1], kv[0]))[:limit])

    def drain(self, claimed: Mapping[str, int]) -> int:
        """Forget keys whose stamp is the claimed one."""
        gone = [key for key, noted in claimed.items() if self.keys.get(key) == noted]
        for key in gone:
            del self.keys[key]
        return len(gone)
