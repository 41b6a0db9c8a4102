"""The Google syncer wired to a sandbox through the official clients, over a seeded store."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.syncer_google.bootstrap import build_service
from services.syncer_google.config import GoogleSettings
from services.syncer_google.service import GoogleSyncService
from shared.config import Settings
from shared.definitions import Definitions, parse_definitions
from shared.store.db import Store

CUSTOMER = "1234567890"
AUDIENCES: list[dict[str, Any]] = [
    {"key": "icp_seed", "select": {"label": "icp"}, "destinations": {"google": {}}},
    {"key": "icp_ads", "select": {"label": "icp"}, "destinations": {"google": {"api": "google_ads"}}},
    {
        "key": "negative_icp_exclusion",
        "select": {"label": "negative_icp"},
        "role": "exclusion",
        "destinations": {"google": {}},
    },
]


def definitions(audiences: list[dict[str, Any]] | None = None) -> Definitions:
    """These tests' audiences, validated as the YAML file would be."""
    return parse_definitions({"audiences": audiences or AUDIENCES})


def google_settings(sandbox: Any, **changes: Any) -> GoogleSettings:
    """Settings aiming both official clients at the sandbox."""
    base: dict[str, Any] = {
        "customers": (CUSTOMER,),
        "access_token": "sandbox-token",
        "developer_token": "sandbox-dev-token",
        "datamanager_endpoint": sandbox.endpoint,
        "google_ads_endpoint": sandbox.endpoint,
        "ca_file": sandbox.ca_pem_path,
        "min_audience_size": 0,
        "max_attempts": 3,
    }
    return GoogleSettings(**{**base, **changes})


@pytest.fixture
def make_syncer(store: Store, google_sandbox: Any) -> Iterator[Callable[..., GoogleSyncService]]:
    """Build the Google syncer (closed at teardown) over ``store`` and the sandbox."""
    built: list[GoogleSyncService] = []

    def make(audiences: list[dict[str, Any]] | None = None, **changes: Any) -> GoogleSyncService:
        settings = Settings(database_url=store.url)
        syncer = build_service(
            settings,
            store,
            google=google_settings(google_sandbox, **changes),
            definitions=definitions(audiences),
        )
        built.append(syncer)
        return syncer

    yield make
    for syncer in built:
        syncer.close()
