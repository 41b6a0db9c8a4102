"""Upload sessions for /users and /usersreplace, with the replace rules from Meta's guide.

A session is keyed by the advertiser's ``session_id``. ``last_batch_flag`` closes it; if it is
never sent, Meta closes it 90 minutes after the first batch. A replace session stages members
and swaps them in when it closes, so the audience never appears empty mid-replace.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from services.sandbox_meta.domain import errors

SESSION_WINDOW_SECONDS = 90 * 60  # "closes the session 90 minutes after the first batch"
MAX_SESSION_ID = 2**63 - 1  # session_id is an int64


@dataclass(frozen=True)
class SessionParam:
    """The decoded ``session`` parameter of one batch."""

    session_id: str
    batch_seq: int
    last_batch_flag: bool = False
    estimated_num_total: int | None = None


@dataclass
class UploadSession:
    """What Meta remembers about one session (read back via ``GET /{id}/sessions``)."""

    audience_id: str
    session_id: str
    kind: str  # "users" | "replace"
    start_time: int
    closed: bool = False
    timed_out: bool = False
    end_time: int = 0
    batches: int = 0
    num_received: int = 0
    num_invalid: int = 0
    num_matched: int = 0
    estimated_total: int | None = None
    schema: tuple[str, ...] | None = None
    gen: int = 0  # the member generation a replace session stages into

    def overdue(self, now: int) -> bool:
        """Open past the 90-minute window: Meta has closed it whatever the client thinks."""
        return not self.closed and now >= self.start_time + SESSION_WINDOW_SECONDS

    def to_graph(self) -> dict[str, Any]:
        """The ``CustomAudienceSession`` object Graph returns."""
        if self.closed:
            progress = 100
        elif self.estimated_total:
            progress = min(99, int(100 * self.num_received / self.estimated_total))
        else:
            progress = 0
        return {
            "session_id": self.session_id,
            "start_time": self.start_time,
            "end_time": self.end_time,
            "num_received": self.num_received,
            "num_matched": self.num_matched,
            "num_invalid_entries": self.num_invalid,
            "progress": progress,
            "stage": ("timed_out" if self.timed_out else "finished") if self.closed else "uploading",
        }


def parse_session(raw: str | None, *, required: bool) -> SessionParam | None:
    """Decode ``session``; optional on /users (the reference and SDK allow it), required on
    /usersreplace."""
    if raw is None or raw == "":
        if required:
            raise errors.invalid_parameter("The parameter session is required")
        return None
    try:
        data = json.loads(raw)
    except ValueError:
        raise errors.invalid_json("session") from None
    if not isinstance(data, dict):
        raise errors.invalid_parameter("session must be a JSON object")
    session_id = _int(data.get("session_id"), "session.session_id", low=1, high=MAX_SESSION_ID)
    batch_seq = _int(data.get("batch_seq"), "session.batch_seq", low=1, high=MAX_SESSION_ID)
    flag = data.get("last_batch_flag", False)
    if not isinstance(flag, bool):
        raise errors.invalid_parameter("session.last_batch_flag must be a boolean")
    total = data.get("estimated_num_total")
    estimated = (
        None if total is None else _int(total, "session.estimated_num_total", low=0, high=MAX_SESSION_ID)
    )
    return SessionParam(str(session_id), batch_seq, flag, estimated)


def check_users_batch(existing: UploadSession | None) -> None:
    """Rules for a /users batch that names a session already seen."""
    if existing is None:
        return
    if existing.kind != "users":
        raise errors.invalid_parameter("This session_id belongs to a replace session")
    if existing.timed_out:
        raise errors.update_failed(1870158)
    if existing.closed:
        raise errors.update_failed(1870159)


def check_replace_batch(
    existing: UploadSession | None,
    running: UploadSession | None,
    param: SessionParam,
    schema: tuple[str, ...],
) -> bool:
    """Rules for a /usersreplace batch; returns True when it starts a new replace session.

    ``existing`` is the session with this id (after overdue sessions were settled) and
    ``running`` is the open replace session on the audience, if any.
    """
    if existing is not None and existing.kind != "replace":
        raise errors.invalid_parameter("This session_id belongs to a /users session")
    if param.batch_seq == 1:
        # "A batch with batch_seq=1 starts a new replace session"; one replace at a time.
        if running is not None and running.session_id != param.session_id:
            raise errors.update_failed(1870145)
        if existing is not None and existing.timed_out:
            raise errors.update_failed(1870158)
        if existing is not None and existing.closed:
            raise errors.update_failed(1870159)
        return True
    if existing is None:
        raise errors.update_failed(1870147)  # the first batch_seq=1 was never seen
    if existing.timed_out:
        raise errors.update_failed(1870158)
    if existing.closed:
        raise errors.update_failed(1870159)
    if existing.schema is not None and existing.schema != schema:
        raise errors.invalid_parameter(
            "Every batch of a replace session must use the schema of its first batch",
            title="Schema Changed Mid-Session",
        )
    return False


def _int(value: object, name: str, *, low: int, high: int) -> int:
    if isinstance(value, bool):
        raise errors.invalid_parameter(f"{name} must be an integer")
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or not (low <= value <= high):
        raise errors.invalid_parameter(f"{name} must be an integer between {low} and {high}")
    return value
