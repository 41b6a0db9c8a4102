"""Bearer-token authentication for every route except ``/health``, ``/readyz`` and signed webhooks.

Tokens are random 32-byte strings shown once at creation; only their SHA-256 is stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import UTC, datetime

from flask import current_app, g, request
from sqlalchemy import select, update

from services.api.errors import ApiError
from shared.store.db import Store
from shared.store.models import ApiToken

PUBLIC_ENDPOINTS = frozenset({"health", "readyz", "static"})
SIGNED_PREFIX = "webhooks."  # webhooks authenticate by HMAC signature instead


def token_digest(token: str) -> str:
    """The stored form of a token."""
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(store: Store, name: str, scopes: list[str]) -> str:
    """Create a token named ``name``; returns the secret (shown once, never stored)."""
    token = "as_" + secrets.token_urlsafe(32)
    with store.transaction() as session:
        session.add(
            ApiToken(name=name, token_sha256=token_digest(token), scopes=scopes, created_at=datetime.now(UTC))
        )
    return token


def revoke_token(store: Store, name: str) -> bool:
    """Revoke the token named ``name``; False when there is none."""
    with store.transaction() as session:
        result = session.execute(
            update(ApiToken)
            .where(ApiToken.name == name, ApiToken.revoked_at.is_(None))
            .values(revoked_at=datetime.now(UTC))
        )
        return bool(result.rowcount)  # type: ignore[attr-defined]


def authenticate() -> None:
    """``before_request`` hook: require a valid, unrevoked bearer token."""
    endpoint = request.endpoint or ""
    if endpoint in PUBLIC_ENDPOINTS or endpoint.startswith(SIGNED_PREFIX) or request.endpoint is None:
        return
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        raise ApiError(401, "token_required", "send Authorization: Bearer <token>")
    store: Store = current_app.extensions["audiencesync"].store
    digest = token_digest(token.strip())
    with store.session() as session:
        row = session.execute(
            select(ApiToken.id, ApiToken.name, ApiToken.token_sha256).where(
                ApiToken.token_sha256 == digest, ApiToken.revoked_at.is_(None)
            )
        ).first()
    if row is None or not hmac.compare_digest(row.token_sha256, digest):
        raise ApiError(401, "invalid_token", "the token is unknown or revoked")
    g.actor = row.name
