"""Batches of at most 10,000 rows per direction, each knowing whether it is the session's last.

Meta closes a session only on ``last_batch_flag``; a stream cannot know a batch is the last
until the next one fails to fill, so one full batch per direction is held back. Memory stays
at two batches per direction whatever the audience size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from services.syncer_meta.domain.diff import Change, Direction

MAX_ROWS = 10_000  # "each request can take up to 10,000 users" (custom-audiences guide)


@dataclass(frozen=True)
class Batch:
    """One request's rows, all in one direction."""

    direction: Direction
    changes: tuple[Change, ...]
    last: bool  # the final batch of this direction in the run: sent with last_batch_flag

    def __len__(self) -> int:
        return len(self.changes)


def batches(changes: Iterable[Change], size: int = MAX_ROWS) -> Iterator[Batch]:
    """Group a change stream into batches; the minimum number of requests, ceil(n / size) each way."""
    if not 1 <= size <= MAX_ROWS:
        raise ValueError(f"batch size must be between 1 and {MAX_ROWS}")
    filling: dict[Direction, list[Change]] = {}
    held: dict[Direction, tuple[Change, ...]] = {}
    for change in changes:
        rows = filling.setdefault(change.direction, [])
        rows.append(change)
        if len(rows) == size:
            if change.direction in held:
                yield Batch(change.direction, held[change.direction], last=False)
            held[change.direction] = tuple(rows)
            filling[change.direction] = []
    for direction in Direction:
        rest = filling.get(direction)
        if direction in held:
            yield Batch(direction, held[direction], last=not rest)
        if rest:
            yield Batch(direction, tuple(rest), last=True)


def planned_calls(adds: int, removes: int, replace: int = 0, size: int = MAX_ROWS) -> int:
    """Requests a plan needs: ceil(n / size) per direction, the minimum Meta's cap allows."""
    return sum(-(-n // size) for n in (adds, removes, replace))
