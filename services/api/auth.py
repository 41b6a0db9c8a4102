"""Bearer tokens with scopes, checked before every route except probes, docs and signed webhooks.

Tokens are random 32-byte strings shown once at creation; only their SHA-256 is stored. Scopes
are ordered: ``read`` sees, ``operate`` also triggers and cancels syncs and resolves dead letters,
``admin`` also edits definitions, erases customers and reads the audit log. A view states what it
needs with ``@requires(scope)``; unmarked views need ``read``. Missing or unknown token: 401;
known token without the scope: 403; too many requests for one token: 429 with ``Retry-After``.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Callable
from copy import deepcopy
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from flask import current_app, g, request
from sqlalchemy import select, update

from services.api.cache import TtlCache
from services.api.errors import ApiError
from services.api.openapi import DOC_ENDPOINTS, SECURITY_SCHEME
from shared.store.audit import record
from shared.store.db import Store
from shared.store.models import ApiToken

SCOPES = ("read", "operate", "admin")  # each includes the ones before it
LEGACY_ALL = "*"  # tokens made before scopes existed hold every scope
PUBLIC_ENDPOINTS = frozenset({"ops.health_check", "ops.healthz", "ops.readyz"}) | DOC_ENDPOINTS
SIGNED_PREFIX = "webhooks."  # webhooks authenticate by HMAC signature instead
SESSION_PREFIX = "dashboard."  # the dashboard authenticates by its session cookie (services/api/dashboard)
TOUCH_EVERY = timedelta(minutes=1)  # last_used_at is written at most this often per token

F = TypeVar("F", bound=Callable[..., Any])
# Token lookups are kept 2 s per process (each was a query on every request). A revocation made in
# this process applies at once; one made elsewhere (the CLI) within 2 s.
TOKEN_SECONDS = 2.0
_KNOWN = TtlCache(TOKEN_SECONDS, size=1024)
_TOUCHED: dict[tuple[str, int], datetime] = {}


class TokenError(ValueError):
    """A token name or scope the CLI must refuse."""


@dataclass(frozen=True)
class TokenInfo:
    """A token as listed (never its secret)."""

    name: str
    scope: str
    created_at: datetime
    last_used_at: datetime | None
    revoked_at: datetime | None


def token_digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def effective_scope(scopes: list[Any]) -> str | None:
    """The highest scope a stored scope list grants (``*`` is admin)."""
    if LEGACY_ALL in scopes:
        return "admin"
    held = [s for s in SCOPES if s in scopes]
    return held[-1] if held else None


def grants(held: str | None, needed: str) -> bool:
    """Whether scope ``held`` includes ``needed``."""
    return held is not None and SCOPES.index(held) >= SCOPES.index(needed)


def requires(scope: str) -> Callable[[F], F]:
    """Mark a view as needing ``scope`` (read by ``authenticate``; documented in the OpenAPI file)."""
    if scope not in SCOPES:
        raise ValueError(scope)

    def mark(func: F) -> F:
        func.required_scope = scope  # type: ignore[attr-defined]
        apidoc = deepcopy(getattr(func, "_apidoc", {}))
        manual = apidoc.setdefault("manual_doc", {})
        manual["security"] = [{SECURITY_SCHEME: []}]
        manual["description"] = (manual.get("description", "") + f"\n\nScope: `{scope}`.").strip()
        func._apidoc = apidoc  # type: ignore[attr-defined]
        return func

    return mark


def create_token(store: Store, name: str, scopes: list[str], *, actor: str = "cli") -> str:
    """Create a token named ``name``; returns the secret (shown once, never stored)."""
    name = name.strip()
    if not name or len(name) > 64:
        raise TokenError("a token name is 1 to 64 characters")
    unknown = [s for s in scopes if s not in SCOPES and s != LEGACY_ALL]
    if unknown:
        raise TokenError(f"unknown scope {unknown[0]!r}; expected one of {', '.join(SCOPES)}")
    token = "as_" + secrets.token_urlsafe(32)
    with store.transaction() as session:
        if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
            raise TokenError(
                f"a token named {name!r} exists (revoked ones keep their name); pick another name"
            )
        now = datetime.now(UTC)
        session.add(ApiToken(name=name, token_sha256=token_digest(token), scopes=scopes, created_at=now))
        record(session, actor, "token.created", name, {"scopes": scopes}, at=now)
    return token


def revoke_token(store: Store, name: str, *, actor: str = "cli") -> bool:
    """Revoke the token named ``name``; False when there is none."""
    with store.transaction() as session:
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        revoked = bool(result.rowcount)  # type: ignore[attr-defined]
        _KNOWN.clear()
        if revoked:
            record(session, actor, "token.revoked", name, None)
        return revoked


def list_tokens(store: Store) -> list[TokenInfo]:
    """Every token, oldest first."""
    with store.session() as session:
        rows = session.scalars(select(ApiToken).order_by(ApiToken.id)).all()
        return [
            TokenInfo(r.name, effective_scope(r.scopes) or "-", r.created_at, r.last_used_at, r.revoked_at)
            for r in rows
        ]


def authenticate() -> None:
    """``before_request`` hook: a valid token (401), within its rate (429), holding the scope (403)."""
    endpoint = request.endpoint
    if (
        endpoint is None
        or endpoint in PUBLIC_ENDPOINTS
        or endpoint.startswith((SIGNED_PREFIX, SESSION_PREFIX))
    ):
        return  # unrouted requests fall through to their 404/405 problem
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise ApiError(401, "token_required", "send Authorization: Bearer <token>", headers=_challenge())
    resources = current_app.extensions["audiencesync"]
    store: Store = resources.store
    digest = token_digest(token.strip())
    row = known_token(store, digest)
    if row is None:
        raise ApiError(401, "invalid_token", "the token is unknown or revoked", headers=_challenge())
    wait = resources.limiter.take(row.name)
    if wait:
        # Per token and process (services/api/ratelimit.py); the client is told when to come back.
        raise ApiError(
            429,
            "rate_limited",
            f"too many requests for token {row.name!r}; retry in {wait}s",
            headers={"Retry-After": str(wait)},
            extra={"retry_after": wait},
        )
    view = current_app.view_functions.get(endpoint)
    needed = getattr(view, "required_scope", "read")
    held = effective_scope(row.scopes)
    if not grants(held, needed):
        raise ApiError(403, "insufficient_scope", f"this needs the {needed!r} scope; the token has {held!r}")
    g.actor = row.name
    g.scope = held
    _touch(store, row.id, row.last_used_at)


def known_token(store: Store, digest: str) -> Any:
    """The unrevoked token stored as ``digest`` (id, name, scopes, last_used_at), or None.

    Kept ``TOKEN_SECONDS`` per process; the bearer check and the dashboard's session both ask here.
    """
    row = _KNOWN.get((store.url, digest), lambda: _lookup(store, digest))
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        return None
    return row


def _lookup(store: Store, digest: str) -> Any:
    with store.session() as session:
        return session.execute(
            select(
                ApiToken.id, ApiToken.name, ApiToken.token_sha256, ApiToken.scopes, ApiToken.last_used_at
            ).where(ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None))
        ).first()


def _challenge() -> dict[str, str]:
    return {"WWW-Authenticate": 'Bearer realm="audiencesync"'}


def _touch(store: Store, token_id: int, last_used_at: datetime | None) -> None:
    now = datetime.now(UTC)
    seen = max(filter(None, (last_used_at, _TOUCHED.get((store.url, token_id)))), default=None)
    if seen is not None and now - seen < TOUCH_EVERY:
        return
    _TOUCHED[(store.url, token_id)] = now  # the cached row keeps its old last_used_at for a while
    with store.transaction() as session:
        session.execute(update(ApiToken).where(ApiToken.id == token_id).values(last_used_at=now))
