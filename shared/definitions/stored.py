"""Audience definitions stored through the API, laid over the YAML file's.

The YAML file (or the packaged default) gives the starting audiences; an audience written with
``PUT /audiences/{key}`` is stored in ``audiences`` with ``origin = 'api'`` (every version kept in
``audience_versions``) and wins over the file's audience of the same key, or adds a new one.
``load_effective`` is what a service that syncs or reports audiences should call; validation is
the YAML file's own (``load_audiences``), so the API accepts exactly what the file would.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml
from sqlalchemy import select

from shared.definitions import DEFAULT_FILE, Definitions, load_definitions, parse_definitions
from shared.definitions.audiences import AudienceConfigError, AudienceDefinition, load_audiences
from shared.store.db import Store
from shared.store.models import Audience

API_ORIGIN = "api"


class InvalidAudience(ValueError):  # noqa: N818 - a verdict, named like AudienceConfigError's callers read it
    """A definition the file would refuse; ``errors`` maps each bad field to its message."""

    def __init__(self, errors: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in errors))
        self.errors = errors


def validate_audience(key: str, document: Any) -> AudienceDefinition:
    """Validate one audience document for ``key`` (its ``key`` field may be left out)."""
    if not isinstance(document, dict):
        raise InvalidAudience([("body", "must be an object with select and destinations")])
    if "key" in document and document["key"] != key:
        raise InvalidAudience([("key", f"must be {key!r}, the key in the path, or left out")])
    try:
        (audience,) = load_audiences([{**document, "key": key}], path="")
    except AudienceConfigError as exc:
        raise InvalidAudience([_field(line) for line in str(exc).splitlines()]) from None
    return audience


def _field(line: str) -> tuple[str, str]:
    """``.0.select.label: message`` (load_audiences' path for item 0) to ``(select.label, message)``."""
    where, _, message = line.partition(": ")
    where = where.removeprefix(".0").strip(".").replace("._schema", "").replace("_schema", "")
    return (where or "body", message or line)


def merge(definitions: Definitions, stored: Mapping[str, Mapping[str, Any]]) -> Definitions:
    """The file's definitions with stored documents replacing or adding audiences by key."""
    audiences = {a.key: a for a in definitions.audiences}
    for key, document in stored.items():
        audiences[key] = validate_audience(key, dict(document))
    return Definitions(scoring=definitions.scoring, audiences=tuple(audiences.values()))


def stored_documents(store: Store) -> dict[str, dict[str, Any]]:
    """Every audience document stored through the API, by key."""
    with store.session() as session:
        rows = session.scalars(select(Audience).where(Audience.origin == API_ORIGIN)).all()
        return {row.key: dict(row.definition) for row in rows}


def load_effective(store: Store, path: Path | None = None) -> Definitions:
    """The definitions in force: the YAML file's, overlaid with the API's."""
    return merge(load_definitions(path), stored_documents(store))


def write_effective(store: Store, path: Path | None, out: Path) -> Path:
    """Write the definitions in force as one YAML file at ``out`` (for a command given a file).

    The file's own document with each stored audience replacing the item of the same key, or
    appended: a process that reads ``AUDIENCESYNC_CONFIG`` sees the API's versions without
    knowing they exist. Validated before it is written.
    """
    source = path or DEFAULT_FILE
    document = yaml.safe_load(source.read_text(encoding="utf-8")) or {}
    stored = stored_documents(store)
    items = [dict(item) for item in document.get("audiences") or []]
    keys = [item.get("key") for item in items]
    for key, body in stored.items():
        replacement = {"key": key, **body}
        if key in keys:
            items[keys.index(key)] = replacement
        else:
            items.append(replacement)
    document["audiences"] = items
    parse_definitions(document, source=str(out))
    out.parent.mkdir(parents=True, exist_ok=True)
    temporary = out.with_suffix(".tmp")
    temporary.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    temporary.replace(out)  # atomic: a command starting now reads the old file or the new, whole
    return out
