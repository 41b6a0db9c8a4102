"""What a view needs from the request's app: the store, settings, the caller, the definitions."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import TypeVar

from flask import current_app, g

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
