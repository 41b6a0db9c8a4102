"""Audience definitions for the API: the effective set, and storing a new version of one.

Reading overlays the API's stored documents on the YAML file's (``shared.definitions.stored``);
writing stores the document in ``audiences`` (origin ``api``), appends it to
``audience_versions`` and audits it, in one transaction.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from shared.definitions import Definitions
from shared.definitions.audiences import AudienceDefinition
from shared.definitions.stored import API_ORIGIN, merge, stored_documents, validate_audience
from shared.store.audit import record
from shared.store.db import Store
from shared.store.models import Audience, AudienceVersion


def describe(audience: AudienceDefinition, origin: str, version: int) -> dict[str, Any]:
    """An audience as the API shows it."""
    platforms = [name for name, dest in (("meta", audience.meta), ("google", audience.google)) if dest]
    document = {k: v for k, v in dict(audience.raw).items() if k != "key"}
    return {
        "key": audience.key,
        "role": audience.role,
        "description": audience.description,
        "destinations": platforms,
        "origin": origin,
        "version": version,
        "definition": document,
    }


def effective(store: Store, base: Definitions) -> list[dict[str, Any]]:
    """Every audience in force (``base``: the YAML file's), file order first, then the API's own."""
    stored = stored_documents(store)
    definitions = merge(base, stored)
    versions = _versions(store)
    return [
        describe(a, API_ORIGIN if a.key in stored else "config", versions.get(a.key, 0))
        for a in definitions.audiences
    ]


def one(store: Store, base: Definitions, key: str) -> dict[str, Any] | None:
    """One audience in force, or None."""
    return next((a for a in effective(store, base) if a["key"] == key), None)


def _versions(store: Store) -> dict[str, int]:
    with store.session() as session:
        rows = session.execute(
            select(AudienceVersion.audience_key, func.max(AudienceVersion.version)).group_by(
                AudienceVersion.audience_key
            )
        ).all()
        return {key: int(version) for key, version in rows}


def put(store: Store, key: str, document: dict[str, Any], actor: str) -> dict[str, Any]:
    """Validate and store ``document`` as the next version of ``key`` (``InvalidAudience`` if bad)."""
    audience = validate_audience(key, document)
    stored = {k: v for k, v in document.items() if k != "key"}
    now = datetime.now(UTC)
    with store.transaction() as session:
        version = (
            session.scalar(
                select(func.max(AudienceVersion.version)).where(AudienceVersion.audience_key == key)
            )
            or 0
        ) + 1
        row = session.get(Audience, key)
        if row is None:
            session.add(
                Audience(
                    key=key,
                    role=audience.role,
                    definition=stored,
                    origin=API_ORIGIN,
                    created_at=now,
                    updated_at=now,
                )
            )
        else:
            row.role, row.definition, row.origin, row.updated_at = audience.role, stored, API_ORIGIN, now
        session.add(
            AudienceVersion(audience_key=key, version=version, definition=stored, actor=actor, created_at=now)
        )
        record(session, actor, "audience.defined", f"audience:{key}", {"version": version}, at=now)
    return describe(audience, API_ORIGIN, version)
