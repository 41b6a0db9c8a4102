"""Failure classification for the consumer runner: which errors retry a batch, which are a message's.

The runner (``shared.bus.consumer``) acts on these answers; they live here so the policy can be
read in one place and handlers can ask the same question (``is_infrastructure``) without owning
the translation. Infrastructure failures pass, so the batch waits; a concurrent-write conflict is
retried a few times in a row; anything else is the message's fault and is described for its dead
letter by type and location only, never by the error's text, which may quote PII.
"""

from __future__ import annotations

import socket
import sqlite3
import traceback
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import exc as sa_exc

from shared.bus.envelope import InvalidMessage

_ROOT = Path(__file__).resolve().parents[2]


class TransientError(Exception):
    """A failure that may pass (database busy, platform unavailable): retry the whole batch."""


# Failures of what a handler runs on, not of what it was given: they pass, so the batch waits.
# sqlite3's own errors are listed for handlers on the raw driver (SQLAlchemy wraps them).
_INFRASTRUCTURE: tuple[type[BaseException], ...] = (
    TransientError,
    sa_exc.OperationalError,  # locked SQLite file, PostgreSQL restart, failover, serialization
    sa_exc.InterfaceError,
    sa_exc.DisconnectionError,
    sa_exc.TimeoutError,  # connection pool exhausted
    sqlite3.OperationalError,
    sqlite3.InterfaceError,
    ConnectionError,
    TimeoutError,
    socket.gaierror,
)


def is_infrastructure(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it was raised from) is a database, broker or network failure."""
    from kafka.errors import KafkaError  # the producer's PublishError is one

    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return False
        if isinstance(seen, (*_INFRASTRUCTURE, KafkaError)):
            return True
        if isinstance(seen, sa_exc.DBAPIError) and seen.connection_invalidated:
            return True
        seen = seen.__cause__
    return False


def describe(exc: BaseException) -> str:
    """Type and message of an infrastructure failure, without SQLAlchemy's statement parameters."""
    if isinstance(exc, TransientError):
        return str(exc)[:300]
    inner = exc.orig if isinstance(exc, sa_exc.StatementError) and exc.orig is not None else exc
    return f"{type(inner).__name__}: {inner}"[:300]


@dataclass
class ConflictBudget:
    """How many ``IntegrityError`` retries in a row before a conflict counts as the message's."""

    limit: int
    spent: int = 0

    def spend(self) -> bool:
        """Take one retry if any is left."""
        if self.spent >= self.limit:
            return False
        self.spent += 1
        return True

    def reset(self) -> None:
        """A batch went through: the next conflict starts a fresh run of retries."""
        self.spent = 0


def as_transient(exc: Exception, conflicts: ConflictBudget) -> TransientError | None:
    """``exc`` as the ``TransientError`` that retries the batch, or None if it is the message's."""
    if is_infrastructure(exc):
        return TransientError(describe(exc))
    if isinstance(exc, sa_exc.IntegrityError) and conflicts.spend():
        # Most likely a concurrent writer inserted the same row between our read and our
        # write; the writes are idempotent, so a retry converges.
        return TransientError(f"concurrent write: {type(exc.orig).__name__}")
    return None


def _where(exc: BaseException) -> str:
    """Where ``exc`` was raised: the innermost frame of our own code (file:line), no values."""
    frames = traceback.extract_tb(exc.__traceback__)
    ours = [f for f in frames if f.filename.startswith(str(_ROOT)) and "site-packages" not in f.filename]
    if not frames:
        return ""
    frame = (ours or frames)[-1]
    path = Path(frame.filename)
    shown = path.relative_to(_ROOT) if path.is_relative_to(_ROOT) else path.name
    return f" at {shown}:{frame.lineno}"


def poison_reason(exc: Exception) -> tuple[str, str | None]:
    """The dead-letter reason and field path for a message the handler raised on alone."""
    if isinstance(exc, InvalidMessage):  # its reason is written to be PII-free
        return exc.reason, exc.field_path
    return f"handler_error: {type(exc).__name__}{_where(exc)}", None
