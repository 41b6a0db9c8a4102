"""Session parsing and the usersreplace rules (2650 subcodes) as pure decisions."""

from __future__ import annotations

import json

import pytest

from services.sandbox_meta.domain import sessions
from services.sandbox_meta.domain.errors import GraphError
from services.sandbox_meta.domain.sessions import SessionParam, UploadSession

SCHEMA = ("EMAIL",)


def replace_session(session_id: str = "7", **changes: object) -> UploadSession:
    session = UploadSession("1", session_id, "replace", start_time=1_000, schema=SCHEMA)
    for name, value in changes.items():
        setattr(session, name, value)
    return session


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ({"session_id": 7, "batch_seq": 1}, SessionParam("7", 1, False, None)),
        (
            {"session_id": "7", "batch_seq": 2, "last_batch_flag": True, "estimated_num_total": 9},
            SessionParam("7", 2, True, 9),
        ),
    ],
)
def test_session_parameter_is_decoded(raw: dict[str, object], expected: SessionParam) -> None:
    assert sessions.parse_session(json.dumps(raw), required=True) == expected


@pytest.mark.parametrize(
    "raw",
    [
        {"batch_seq": 1},
        {"session_id": 7},
        {"session_id": 7, "batch_seq": 0},
        {"session_id": -1, "batch_seq": 1},
        {"session_id": 7, "batch_seq": 1, "last_batch_flag": "yes"},
        {"session_id": 7, "batch_seq": True},
    ],
)
def test_malformed_sessions_are_invalid_parameters(raw: dict[str, object]) -> None:
    with pytest.raises(GraphError) as caught:
        sessions.parse_session(json.dumps(raw), required=False)
    assert caught.value.code == 100


def test_session_is_optional_on_users_and_required_on_replace() -> None:
    assert sessions.parse_session(None, required=False) is None
    with pytest.raises(GraphError):
        sessions.parse_session(None, required=True)


@pytest.mark.parametrize(
    ("existing", "running", "seq", "schema", "outcome"),
    [
        (None, None, 1, SCHEMA, "starts"),
        (replace_session(), replace_session(), 1, SCHEMA, "starts"),  # same id: restart
        (None, replace_session("8"), 1, SCHEMA, 1870145),  # another replace is running
        (None, None, 2, SCHEMA, 1870147),  # batch_seq 1 never seen
        (replace_session(closed=True), None, 2, SCHEMA, 1870159),
        (replace_session(closed=True), None, 1, SCHEMA, 1870159),
        (replace_session(closed=True, timed_out=True), None, 3, SCHEMA, 1870158),
        (replace_session(), replace_session(), 2, SCHEMA, "continues"),
        (replace_session(), replace_session(), 5, ("PHONE",), 100),  # schema fixed per session
    ],
)
def test_replace_batches_follow_the_documented_rules(
    existing: UploadSession | None,
    running: UploadSession | None,
    seq: int,
    schema: tuple[str, ...],
    outcome: str | int,
) -> None:
    param = SessionParam("7", seq)
    if isinstance(outcome, str):
        starts = sessions.check_replace_batch(existing, running, param, schema)
        assert starts is (outcome == "starts")
        return
    with pytest.raises(GraphError) as caught:
        sessions.check_replace_batch(existing, running, param, schema)
    if outcome == 100:
        assert caught.value.code == 100
    else:
        assert (caught.value.code, caught.value.subcode) == (2650, outcome)


@pytest.mark.parametrize(
    ("existing", "subcode"),
    [
        (UploadSession("1", "7", "users", 0, closed=True), 1870159),
        (UploadSession("1", "7", "users", 0, closed=True, timed_out=True), 1870158),
    ],
)
def test_closed_users_sessions_reject_more_batches(existing: UploadSession, subcode: int) -> None:
    with pytest.raises(GraphError) as caught:
        sessions.check_users_batch(existing)
    assert (caught.value.code, caught.value.subcode) == (2650, subcode)


def test_a_session_is_overdue_ninety_minutes_after_its_first_batch() -> None:
    session = replace_session()
    assert not session.overdue(1_000 + 90 * 60 - 1)
    assert session.overdue(1_000 + 90 * 60)
    session.closed = True
    assert not session.overdue(10**9)


def test_session_read_back_reports_progress_and_stage() -> None:
    session = UploadSession("1", "7", "users", 5, num_received=50, estimated_total=200)
    assert session.to_graph()["progress"] == 25
    assert session.to_graph()["stage"] == "uploading"
    session.closed = True
    assert (session.to_graph()["progress"], session.to_graph()["stage"]) == (100, "finished")
