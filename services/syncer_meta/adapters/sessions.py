"""Meta upload sessions: one per direction and run, continued after a resume, renewed when closed.

Meta groups the batches of one upload in a session (``session_id``, ``batch_seq`` from 1,
``last_batch_flag`` on the final one). The engine records each batch's session id before it is
sent, so a resumed run continues the session with the next ``batch_seq``.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence

from shared.sync.diff import Direction
from shared.sync.ports import SentBatch


class Sessions:
    """The run's upload session per direction (continued after a resume) and its next batch_seq."""

    def __init__(self, recorded: Sequence[SentBatch] = ()) -> None:
        self._open: dict[str, tuple[int, int]] = {}  # direction -> (session_id, batches in it)
        for batch in recorded:
            if batch.reference is None or not batch.reference.isdigit():
                continue
            session_id, count = self._open.get(batch.direction, (0, 0))
            sid = int(batch.reference)
            self._open[batch.direction] = (sid, count + 1) if sid == session_id else (sid, 1)

    def next(self, direction: Direction) -> tuple[int, int]:
        """``(session_id, batch_seq)`` for the next batch; batch_seq 1 opens a session."""
        session_id, count = self._open.get(direction.value) or self.renew(direction)
        return session_id, count + 1

    def renew(self, direction: Direction) -> tuple[int, int]:
        """A fresh session: a random int64, unique within the ad account in practice."""
        self._open[direction.value] = (secrets.randbits(62) + 1, 0)
        return self._open[direction.value]

    def sent(self, direction: Direction, session_id: int) -> None:
        """One more batch went in this session."""
        sid, count = self._open.get(direction.value, (session_id, 0))
        self._open[direction.value] = (session_id, count + 1 if sid == session_id else 1)
