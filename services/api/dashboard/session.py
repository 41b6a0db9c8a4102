"""The dashboard's login: a bearer token exchanged once for a signed session cookie.

The cookie (flask's signed session) holds the token's SHA-256, never the token, plus a CSRF
token; every page looks the digest up again through ``auth.known_token``, so a revoked token
logs its sessions out within the same 2 s as its bearer use. The cookie is HttpOnly and
SameSite=Strict, and each form also carries the session's CSRF token.
"""

from __future__ import annotations

import hmac
import os
import secrets
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from flask import Flask, request, session
from flask.sessions import SecureCookieSessionInterface
from itsdangerous import URLSafeTimedSerializer

from services.api.auth import effective_scope, grants, known_token, token_digest
from shared.config import Settings
from shared.store.db import Store

COOKIE = "audiencesync_session"
LIFETIME = timedelta(hours=12)
KEY_FILE = "dashboard-secret"  # under var_dir when DASHBOARD_SECRET is not set
NEEDED = "read"


def signing_key(settings: Settings) -> str:
    """DASHBOARD_SECRET, else a random key kept in ``var_dir`` (created once, owner-only).

    Written beside its final name and linked into place, so two processes starting together
    never read a half-written file: the first link wins and both read the winner.
    """
    if settings.dashboard_secret:
        return settings.dashboard_secret
    path = Path(settings.var_dir) / KEY_FILE
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        draft = path.with_name(f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(draft, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(secrets.token_urlsafe(32))
        try:
            os.link(draft, path)
        except FileExistsError:
            pass  # another process made it first
        finally:
            draft.unlink()
    return path.read_text(encoding="utf-8").strip()


class SignedSessions(SecureCookieSessionInterface):
    """flask's signed-cookie sessions with the key read on first use (no file I/O at ``create_app``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._lock = threading.Lock()

    def get_signing_serializer(self, app: Flask) -> URLSafeTimedSerializer | None:
        """The serializer, after loading (or creating) the signing key once."""
        with self._lock:
            if not app.secret_key:
                app.secret_key = signing_key(self.settings)
        return super().get_signing_serializer(app)


def cookie_config() -> dict[str, Any]:
    """Flask settings for the session cookie."""
    return {
        "SESSION_COOKIE_NAME": COOKIE,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Strict",
        "PERMANENT_SESSION_LIFETIME": LIFETIME,
    }


def csrf_token() -> str:
    """This session's CSRF token (made on first use)."""
    if "csrf" not in session:
        session["csrf"] = secrets.token_urlsafe(24)
    return str(session["csrf"])


def csrf_ok() -> bool:
    """Whether a form POST carries this session's CSRF token and, if the browser says, our origin."""
    origin = request.headers.get("Origin")
    if origin and origin != "null" and urlsplit(origin).netloc != request.host:
        return False
    sent = request.form.get("csrf", "")
    held = str(session.get("csrf", ""))
    return bool(held) and hmac.compare_digest(sent, held)


class LoginRefusedError(Exception):
    """A token the login form does not accept; the message is shown on the form."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def log_in(store: Store, token: str) -> str:
    """Start a session for ``token``; returns its name (``LoginRefusedError`` for unknown or under-scoped)."""
    token = token.strip()
    row = known_token(store, token_digest(token)) if token else None
    if row is None:
        raise LoginRefusedError(401, "That token is unknown or revoked.")
    if not grants(effective_scope(row.scopes), NEEDED):
        raise LoginRefusedError(403, f"That token lacks the {NEEDED!r} scope.")
    session.clear()
    session.permanent = True
    session["token"] = row.token_sha256
    session["csrf"] = secrets.token_urlsafe(24)  # a fresh one: no token chosen before login survives
    return str(row.name)


def viewer(store: Store) -> tuple[str, str] | None:
    """The logged-in token's name and scope, or None (no session, or the token was revoked)."""
    digest = session.get("token")
    if not digest:
        return None
    row = known_token(store, str(digest))
    scope = effective_scope(row.scopes) if row is not None else None
    if row is None or scope is None or not grants(scope, NEEDED):
        session.pop("token", None)
        return None
    return str(row.name), scope


def safe_next(target: str | None) -> str:
    """Where to go after login: a path on this site only (no ``//host`` or absolute URL)."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return "/"
    return target
