"""Batches of at most the platform's cap per direction, each knowing whether it is the run's last.

The cap comes from the adapter (``Caps.max_rows``: Meta 10,000 rows, Data Manager 10,000
members, Google Ads API 100,000 operations). Meta closes an upload session only on
``last_batch_flag`` (Google's jobs are run after their last request); a stream cannot know a
batch is the last until the next one fails to fill, so one full batch per direction is held
back. Memory stays at two batches per direction whatever the audience size.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from shared.sync.diff import Change, Direction

MAX_ROWS = 10_000  # the default cap: Meta, "each request can take up to 10,000 users"


@dataclass(frozen=True)
class Batch:
    """One request's rows, all in one direction."""

    direction: Direction
    changes: tuple[Change, ...]
    last: bool  # the final batch of this direction in the run (Meta: sent with last_batch_flag)
    planned: int | None = None  # rows this direction is planned to send in the run, when known

    def __len__(self) -> int:
        return len(self.changes)


def batches(changes: Iterable[Change], size: int = MAX_ROWS, *, cap: int = MAX_ROWS) -> Iterator[Batch]:
    """Group a change stream into batches; the minimum number of requests, ceil(n / size) each way.

    ``cap`` is the platform's limit per request; ``size`` (configured, at most ``cap``) the one used.
    """
    if not 1 <= size <= cap:
        raise ValueError(f"batch size must be between 1 and {cap}")
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
    """Requests a plan needs: ceil(n / size) per direction, the minimum the cap allows."""
    return sum(-(-n // size) for n in (adds, removes, replace))
