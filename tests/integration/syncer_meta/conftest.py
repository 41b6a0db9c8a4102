"""A Meta sandbox, settings pointing the syncer's real SDK adapter at it, and seeded stores."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from services.sandbox_meta.config import SandboxConfig
from services.sandbox_meta.server import RunningSandbox, run_meta_sandbox
from services.syncer_meta.bootstrap import build_service
from services.syncer_meta.config import MetaSettings
from services.syncer_meta.service import MetaSyncService as SyncService
from shared.config import Settings
from shared.definitions import Definitions, parse_definitions
from shared.store.db import Store
from shared.sync.uploads import Progress

TOKEN = "syncer-token"
SPARE_TOKEN = "syncer-token-renewed"  # what an operator sets after the first one expired
SECRET = "syncer-app-secret"
ACCOUNT = "act_7007"

AUDIENCES: list[dict[str, Any]] = [
    {
        "key": "icp_seed",
        "select": {"label": "icp"},
        "destinations": {"meta": {"value_based": True}},
    },
    {
        "key": "retarget",
        "select": {"stage": "abandoned_checkout"},
        "destinations": {"meta": {}},
    },
    {
        "key": "negative_icp_exclusion",
        "select": {"label": "negative_icp"},
        "role": "exclusion",
        "destinations": {"meta": {}},
    },
]


def definitions(audiences: list[dict[str, Any]] | None = None) -> Definitions:
    """The audiences of these tests (or others), validated as the YAML file would be."""
    return parse_definitions({"audiences": audiences or AUDIENCES})


def sandbox_config(**changes: Any) -> SandboxConfig:
    """A sandbox accepting our token, app secret and ad account."""
    base: dict[str, Any] = {
        "access_tokens": (TOKEN, SPARE_TOKEN),
        "app_secret": SECRET,
        "ad_accounts": (ACCOUNT,),
    }
    return SandboxConfig(**{**base, **changes})


def settings_env(url: str, database_url: str, **extra: str) -> dict[str, str]:
    """The environment a syncer process needs to reach the sandbox (also used by subprocesses)."""
    return {
        "DATABASE_URL": database_url,
        "META_GRAPH_URL": url,
        "META_ACCOUNTS": ACCOUNT,
        "META_ACCESS_TOKEN": TOKEN,
        "META_APP_SECRET": SECRET,
        "META_MIN_AUDIENCE_SIZE": "0",
        "SHOP": "test-shop",
        **extra,
    }


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh in-memory Meta sandbox on a free port."""
    with run_meta_sandbox(sandbox_config()) as running:
        yield running


@pytest.fixture
def make_syncer(sandbox: RunningSandbox, store: Store) -> Iterator[Callable[..., SyncService]]:
    """Build the real syncer (facebook-business adapter) against the sandbox and ``store``."""
    built: list[SyncService] = []

    def make(
        audiences: list[dict[str, Any]] | None = None,
        *,
        dry_run: bool = False,
        on_batch: Callable[[Progress], None] | None = None,
        **env: str,
    ) -> SyncService:
        environ = settings_env(sandbox.url, store.url, **env)
        syncer = build_service(
            Settings.from_env(environ),
            store,
            meta=MetaSettings.from_env(environ),
            definitions=definitions(audiences),
            dry_run=dry_run,
            on_batch=on_batch,
        )
        built.append(syncer)
        return syncer

    yield make
    for syncer in built:
        syncer.close()


def audience_id(syncer: SyncService, key: str) -> str:
    """The Meta audience id the syncer remembers for an audience on our account."""
    (destination,) = syncer.destinations(key, ACCOUNT)
    record = syncer.syncs[ACCOUNT].runs.destination(destination.audience, ACCOUNT)
    assert record.platform_audience_id, f"{key} has no platform audience yet"
    return record.platform_audience_id


def sdk_audience(url: str, audience: str) -> Any:
    """A ``CustomAudience`` bound to the SDK aimed at the sandbox, to change it behind the syncer's back."""
    from facebook_business.adobjects.customaudience import CustomAudience
    from facebook_business.api import FacebookAdsApi

    api = FacebookAdsApi.init(app_id="1", app_secret=SECRET, access_token=TOKEN, crash_log=False)
    api._session.GRAPH = url
    return CustomAudience(audience, api=api)
