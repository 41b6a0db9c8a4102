"""What a view needs from the request's app: the store, settings, the caller, the definitions."""

from __future__ import annotations

from flask import current_app, g

from shared.config import Settings
from shared.definitions import Definitions
from shared.definitions.stored import load_effective
from shared.store.db import Store


def store() -> Store:
    """The database of this app."""
    found: Store = current_app.extensions["audiencesync"].store
    return found


def settings() -> Settings:
    """This app's settings."""
    found: Settings = current_app.config["SETTINGS"]
    return found


def actor() -> str:
    """The name of the token that made this request (the audit log's ``actor``)."""
    return str(g.get("actor") or "anonymous")


def definitions() -> Definitions:
    """The definitions in force: the YAML file's overlaid with the API's stored ones."""
    return load_effective(store(), settings().config_file)
