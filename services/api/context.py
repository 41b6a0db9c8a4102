"""What a view needs from the request's app: the store, settings, the caller, the definitions."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any, TypeVar

import marshmallow as ma
from flask import Response, current_app, g

from shared.config import Settings
from shared.definitions import DEFAULT_FILE, Definitions, load_definitions
from shared.definitions.stored import merge, stored_documents
from shared.store.db import Store

_CACHE = "audiencesync.file_definitions"
T = TypeVar("T")


def store() -> Store:
    """The database of this app."""
    found: Store = current_app.extensions["audiencesync"].store
    return found


def cached(key: Hashable, compute: Callable[[], T]) -> T:
    """``compute()``'s answer, shared for a second by every request asking the same (``cache.py``)."""
    found: T = current_app.extensions["audiencesync"].answers.get(key, compute)
    return found


def cached_json(key: Hashable, compute: Callable[[], Any], schema: ma.Schema) -> Response | None:
    """``compute()``'s answer dumped by ``schema`` and rendered once per second (None: not found).

    Serializing a health answer (60 snapshots) cost more than reading it; polled answers are
    kept rendered. The view's ``@blp.response`` still documents the schema.
    """

    def render() -> bytes | None:
        data = compute()
        return None if data is None else current_app.json.dumps(schema.dump(data)).encode()

    body = cached(key, render)
    return None if body is None else Response(body, mimetype="application/json")


def settings() -> Settings:
    """This app's settings."""
    found: Settings = current_app.config["SETTINGS"]
    return found


def actor() -> str:
    """The name of the token that made this request (the audit log's ``actor``)."""
    return str(g.get("actor") or "anonymous")


def file_definitions() -> Definitions:
    """The YAML file's definitions, parsed once and again only when the file changes.

    Parsing and validating the file takes ~10 ms: per request it capped ``/audiences/{key}/health``
    near 100 requests a second.
    """
    path = settings().config_file or DEFAULT_FILE
    stamp = path.stat().st_mtime_ns
    cached = current_app.extensions.get(_CACHE)
    if cached is None or cached[0] != (path, stamp):
        cached = ((path, stamp), load_definitions(path))
        current_app.extensions[_CACHE] = cached
    found: Definitions = cached[1]
    return found


def definitions() -> Definitions:
    """The definitions in force: the YAML file's overlaid with the API's stored ones."""
    return merge(file_definitions(), stored_documents(store()))
