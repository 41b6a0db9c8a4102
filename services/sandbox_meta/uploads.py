"""Graph handlers for membership edges: /users (add, remove), /usersreplace and /sessions."""

from __future__ import annotations

from typing import Any

from services.sandbox_meta.context import Ctx
from services.sandbox_meta.domain import errors, payload, sessions
from services.sandbox_meta.domain.audience import Audience
from services.sandbox_meta.domain.payload import Batch
from services.sandbox_meta.domain.sessions import SessionParam, UploadSession


def settle(ctx: Ctx, audience: Audience) -> None:
    """Close sessions past their 90-minute window, as Meta does on its side.

    An overdue replace is applied with what arrived so far and leaves the audience in
    "replace error"; an overdue /users session simply stops accepting batches.
    """
    for session in ctx.store.sessions(audience.id, open_only=True):
        if not session.overdue(ctx.now):
            continue
        session.closed = session.timed_out = True
        session.end_time = session.start_time + sessions.SESSION_WINDOW_SECONDS
        if session.kind == "replace":
            _swap_in(ctx, audience, session, failed=True)
        ctx.store.save_session(session)


def running_replace(ctx: Ctx, audience: Audience) -> UploadSession | None:
    """The open replace session of an audience, if any (after ``settle``)."""
    for session in ctx.store.sessions(audience.id, open_only=True):
        if session.kind == "replace" and not session.overdue(ctx.now):
            return session
    return None


def change_users(ctx: Ctx, audience: Audience, params: dict[str, str], *, adding: bool) -> dict[str, Any]:
    """``POST /{id}/users`` (add) or ``DELETE /{id}/users`` / ``method=DELETE`` (remove)."""
    _check_editable(audience)
    settle(ctx, audience)
    if running_replace(ctx, audience) is not None:
        # "Do not call /users add or remove while a replace is running" (replace guide).
        raise errors.update_failed(1870145)
    batch = payload.parse_payload(params.get("payload"))
    param = sessions.parse_session(params.get("session"), required=False)
    payload.check_value_column(batch, value_based=audience.is_value_based, adding=adding)
    _check_shape(audience, batch)
    session = _users_session(ctx, audience, param)
    if adding:
        matched = ctx.store.members.upsert(audience.id, audience.live_gen, batch.rows, ctx.match.matches)
    else:
        matched = ctx.store.members.remove(audience.id, audience.live_gen, batch.rows)
    _count(session, batch, matched)
    if param is None or param.last_batch_flag:
        session.closed, session.end_time = True, ctx.now
    ctx.store.save_session(session)
    audience.replace_error = False  # a finished /users batch brings the audience back to Normal
    _touch(ctx, audience, batch)
    return _response(audience, session, batch)


def replace_users(ctx: Ctx, audience: Audience, params: dict[str, str]) -> dict[str, Any]:
    """``POST /{id}/usersreplace``: stage a new member set, swap it in when the session ends."""
    _check_editable(audience)
    settle(ctx, audience)
    batch = payload.parse_payload(params.get("payload"))
    param = sessions.parse_session(params.get("session"), required=True)
    assert param is not None
    # A replace cannot switch between value-based and non-value-based (replace guide).
    payload.check_value_column(batch, value_based=audience.is_value_based, adding=True)
    _check_shape(audience, batch)
    total, _ = ctx.store.members.counts(audience.id, audience.live_gen)
    if total >= ctx.config.replace_max_members:
        raise errors.update_failed(1870144)
    existing = ctx.store.session(audience.id, param.session_id)
    running = running_replace(ctx, audience)
    if sessions.check_replace_batch(existing, running, param, batch.schema):
        if existing is not None:  # batch_seq 1 again restarts this session from scratch
            ctx.store.members.drop(audience.id, existing.gen)
        session = UploadSession(
            audience.id,
            param.session_id,
            "replace",
            ctx.now,
            schema=batch.schema,
            estimated_total=param.estimated_num_total,
            gen=audience.live_gen + 1,
        )
        ctx.store.members.drop(audience.id, session.gen)
    else:
        assert existing is not None
        session = existing
    matched = ctx.store.members.upsert(audience.id, session.gen, batch.rows, ctx.match.matches)
    _count(session, batch, matched)
    if param.last_batch_flag:
        session.closed, session.end_time = True, ctx.now
        _swap_in(ctx, audience, session, failed=False)
    ctx.store.save_session(session)
    _touch(ctx, audience, batch)
    body = _response(audience, session, batch)
    body["account_id"] = audience.account_id.removeprefix("act_")
    return body


def list_sessions(ctx: Ctx, audience: Audience, params: dict[str, str]) -> dict[str, Any]:
    """``GET /{id}/sessions[?session_id=]``: the ``CustomAudienceSession`` objects."""
    settle(ctx, audience)
    wanted = params.get("session_id")
    found = ctx.store.sessions(audience.id)
    if wanted:
        found = [s for s in found if s.session_id == wanted]
    return {"data": [s.to_graph() for s in reversed(found)]}


def _check_editable(audience: Audience) -> None:
    if audience.subtype != "CUSTOM":
        raise errors.invalid_parameter(
            "Users can only be added, removed or replaced on customer file custom audiences"
        )
    if audience.flagged:
        raise errors.audience_flagged()


def _check_shape(audience: Audience, batch: Batch) -> None:
    """The first upload fixes single-key vs multi-key for the audience (2650 otherwise)."""
    if audience.data_shape is not None and audience.data_shape != batch.shape:
        raise errors.data_source_mismatch(audience.data_shape, batch.shape)


def _users_session(ctx: Ctx, audience: Audience, param: SessionParam | None) -> UploadSession:
    if param is None:
        # No session sent: Meta still opens one for the single batch and returns its id.
        return UploadSession(audience.id, ctx.store.next_id(), "users", ctx.now)
    existing = ctx.store.session(audience.id, param.session_id)
    sessions.check_users_batch(existing)
    if existing is not None:
        return existing
    return UploadSession(
        audience.id, param.session_id, "users", ctx.now, estimated_total=param.estimated_num_total
    )


def _count(session: UploadSession, batch: Batch, matched: int) -> None:
    session.batches += 1
    session.num_received += batch.received
    session.num_invalid += batch.invalid
    session.num_matched += matched
    if session.schema is None:
        session.schema = batch.schema


def _swap_in(ctx: Ctx, audience: Audience, session: UploadSession, *, failed: bool) -> None:
    """Replace the live members with the staged generation in one step."""
    old = audience.live_gen
    audience.live_gen = session.gen
    audience.replace_error = failed
    audience.time_content_updated = audience.time_updated = ctx.now
    ctx.store.members.drop(audience.id, old)
    ctx.store.save_audience(audience)


def _touch(ctx: Ctx, audience: Audience, batch: Batch) -> None:
    if audience.data_shape is None:
        audience.data_shape = batch.shape
    if batch.rows:
        audience.time_content_updated = ctx.now
    audience.time_updated = ctx.now
    ctx.store.save_audience(audience)


def _response(audience: Audience, session: UploadSession, batch: Batch) -> dict[str, Any]:
    # num_received is the session's running total; the invalid count and samples are this
    # batch's, so a client can map each sample back to the rows it just sent.
    return {
        "audience_id": audience.id,
        "session_id": session.session_id,
        "num_received": session.num_received,
        "num_invalid_entries": batch.invalid,
        "invalid_entry_samples": batch.samples,
    }
