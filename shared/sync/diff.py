"""Desired membership minus the ledger: what to add, update and remove, by streaming merge.

Both inputs are sorted by customer key, so a million-member audience is compared in constant
memory. Nothing to do yields nothing, which is what makes a no-change sync free of API calls.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol, TypeVar

from shared.sync.rows import Member


class Direction(enum.StrEnum):
    """What a change does to the platform list (each adapter maps it to its own call)."""

    ADD = "add"  # Meta POST /{id}/users; Data Manager ingest; Ads API create operations
    REMOVE = "remove"  # Meta DELETE /{id}/users; Data Manager remove; Ads API remove operations
    REPLACE = "replace"  # a staged full replace (Meta /usersreplace), for repair; Caps.replace


class Reason(enum.StrEnum):
    """Why a change is needed."""

    NEW = "new"
    UPDATED = "updated"  # identifiers or value changed since the ledger's row
    REFRESHED = "refreshed"  # unchanged but sent long ago: sent again before the platform lets it lapse
    DESELECTED = "deselected"  # no longer selected (label, stage, exclusion, consent)
    ERASED = "erased"  # erased customer: removal is a legal duty, never held back
    REPAIR = "repair"


@dataclass(frozen=True, slots=True)
class Synced:
    """A ledger row: what the platform audience holds for one customer."""

    key: str
    row: tuple[str, ...]
    value: Decimal | None = None
    erased: bool = False
    batch_id: int | None = None
    stale: bool = False  # sent longer ago than the destination's refresh age (Google's 540 days)


@dataclass(frozen=True, slots=True)
class Change:
    """One customer to send in one direction, with the exact row to send."""

    direction: Direction
    reason: Reason
    member: Member


class UnsortedInputError(ValueError):
    """A diff input was not sorted by customer key (a query without ORDER BY)."""


class _Keyed(Protocol):
    @property
    def key(self) -> str: ...


K = TypeVar("K", bound=_Keyed)


def _sorted(items: Iterable[K], name: str) -> Iterator[K]:
    previous: str | None = None
    for item in items:
        if previous is not None and item.key <= previous:
            raise UnsortedInputError(f"{name} must be sorted by customer key, unique ({item.key[:8]}...)")
        previous = item.key
        yield item


def _same(member: Member, synced: Synced) -> bool:
    return member.row == synced.row and member.value == synced.value


def diff(desired: Iterable[Member], synced: Iterable[Synced]) -> Iterator[Change]:
    """Adds for members the ledger lacks or holds differently, removes for ledger rows not desired."""
    wanted, held = _sorted(desired, "desired"), _sorted(synced, "synced")
    member, entry = next(wanted, None), next(held, None)
    while member is not None or entry is not None:
        if member is not None and (entry is None or member.key < entry.key):
            yield Change(Direction.ADD, Reason.NEW, member)
            member = next(wanted, None)
        elif entry is not None and (member is None or entry.key < member.key):
            reason = Reason.ERASED if entry.erased else Reason.DESELECTED
            yield Change(Direction.REMOVE, reason, Member(entry.key, entry.row, entry.value))
            entry = next(held, None)
        elif member is not None and entry is not None:
            if not _same(member, entry):
                yield Change(Direction.ADD, Reason.UPDATED, member)
            elif entry.stale:
                yield Change(Direction.ADD, Reason.REFRESHED, member)
            member, entry = next(wanted, None), next(held, None)


def replace_set(
    desired: Iterable[Member], synced: Iterable[Synced], sent: frozenset[int] = frozenset()
) -> Iterator[Change]:
    """Every desired member for a full replace, minus those a resumed replace already sent.

    ``sent`` holds the batch ids this replace session has acknowledged; a ledger row written by
    one of them with the same row and value needs no second upload.
    """
    ledger = _sorted(synced, "synced")
    entry = next(ledger, None)
    for member in _sorted(desired, "desired"):
        while entry is not None and entry.key < member.key:
            entry = next(ledger, None)
        if entry is not None and entry.key == member.key and entry.batch_id in sent and _same(member, entry):
            continue
        yield Change(Direction.REPLACE, Reason.REPAIR, member)


@dataclass
class Changes:
    """Counts of a diff: the plan a dry run reports and the guardrails judge."""

    kept: list[Change] | None = field(default=None, repr=False)  # the changes, when few enough
    desired: int = 0
    synced: int = 0
    new: int = 0
    updated: int = 0
    refreshed: int = 0
    deselected: int = 0
    erased: int = 0
    replace: int = 0

    @property
    def adds(self) -> int:
        """Rows sent as additions (new, updated and refreshed members)."""
        return self.new + self.updated + self.refreshed

    @property
    def removes(self) -> int:
        """Rows sent as removals."""
        return self.deselected + self.erased

    @property
    def total(self) -> int:
        """Every row a run would send."""
        return self.adds + self.removes + self.replace

    def count(self, change: Change) -> None:
        """Add one change to the counts."""
        name = {Reason.REPAIR: "replace"}.get(change.reason, change.reason.value)
        setattr(self, name, getattr(self, name) + 1)


class _Counted(Iterable[K]):
    """Counts the items an iterable yields (desired and synced sizes during one pass)."""

    def __init__(self, items: Iterable[K]) -> None:
        self.items, self.n = items, 0

    def __iter__(self) -> Iterator[K]:
        for item in self.items:
            self.n += 1
            yield item


def count_changes(desired: Iterable[Member], synced: Iterable[Synced], *, keep: int = 0) -> Changes:
    """Run the diff to the end and count it (the plan of a run).

    Up to ``keep`` changes are kept so a small delta is sent without a second pass over the
    store; past that the list is dropped and memory stays flat.
    """
    wanted, held = _Counted(desired), _Counted(synced)
    changes = Changes(kept=[] if keep > 0 else None)
    for change in diff(wanted, held):
        changes.count(change)
        if changes.kept is not None:
            changes.kept.append(change)
            if len(changes.kept) > keep:
                changes.kept = None
    changes.desired, changes.synced = wanted.n, held.n
    return changes


def tally(desired: Iterable[Member], synced: Iterable[Synced]) -> tuple[Changes, Iterator[Change]]:
    """The diff as a stream whose counts fill in as it is consumed (one pass: count while sending)."""
    wanted, held = _Counted(desired), _Counted(synced)
    changes = Changes()

    def stream() -> Iterator[Change]:
        for change in diff(wanted, held):
            changes.count(change)
            yield change
        changes.desired, changes.synced = wanted.n, held.n

    return changes, stream()
