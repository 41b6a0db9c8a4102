"""A running Meta sandbox and the real facebook-business SDK pointed at it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from facebook_business.adobjects.adaccount import AdAccount
from facebook_business.adobjects.customaudience import CustomAudience
from facebook_business.api import FacebookAdsApi

from services.sandbox_meta.config import SandboxConfig
from services.sandbox_meta.server import RunningSandbox, run_meta_sandbox

TOKEN = "it-token"
READ_ONLY = "it-read-only"
SECRET = "it-app-secret"
ACCOUNT = "act_4242"
OTHER_ACCOUNT = "act_5151"  # known to the sandbox, but not ours to use in most tests


def sha(value: str) -> str:
    """SHA-256 hex of a normalised value, as the SDK sends it."""
    return hashlib.sha256(value.encode()).hexdigest()


def emails(n: int, prefix: str = "user") -> list[str]:
    """``n`` hashed emails."""
    return [sha(f"{prefix}{i}@example.com") for i in range(n)]


def config(**changes: Any) -> SandboxConfig:
    """The test sandbox's config with some fields changed."""
    base: dict[str, Any] = {
        "access_tokens": (TOKEN,),
        "read_only_tokens": (READ_ONLY,),
        "app_secret": SECRET,
        "ad_accounts": (ACCOUNT, OTHER_ACCOUNT),
    }
    return SandboxConfig(**{**base, **changes})


_OPEN_APIS: list[Any] = []


def make_api(url: str, *, token: str = TOKEN, secret: str | None = SECRET, version: str = "v26.0") -> Any:
    """The SDK configured exactly as AD_APIS.md 3.1 says, aimed at the sandbox."""
    api = FacebookAdsApi.init(
        app_id="1", app_secret=secret, access_token=token, api_version=version, crash_log=False
    )
    api._session.GRAPH = url
    _OPEN_APIS.append(api)
    return api


@pytest.fixture(autouse=True)
def _close_sdk_sessions() -> Iterator[None]:
    """Close the SDK's pooled connections: left to the GC they raise ResourceWarning (an error here)."""
    yield
    while _OPEN_APIS:
        _OPEN_APIS.pop()._session.requests.close()


def new_audience(account: AdAccount, *, value_based: bool = False, name: str = "buyers") -> CustomAudience:
    """Create a customer-file audience through the SDK and return it bound to the same API."""
    params: dict[str, Any] = {
        "name": name,
        "subtype": "CUSTOM",
        "description": "integration test",
        "customer_file_source": "PARTNER_PROVIDED_ONLY" if value_based else "USER_PROVIDED_ONLY",
    }
    if value_based:
        params["is_value_based"] = True
    created = account.create_custom_audience(params=params)
    return CustomAudience(created["id"], api=account.get_api())


@pytest.fixture
def sandbox() -> Iterator[RunningSandbox]:
    """A fresh in-memory sandbox on a free loopback port."""
    with run_meta_sandbox(config()) as running:
        yield running


@pytest.fixture
def api(sandbox: RunningSandbox) -> Any:
    """The SDK pointed at the sandbox, with token and app secret."""
    return make_api(sandbox.url)


@pytest.fixture
def account(api: Any) -> AdAccount:
    """Our ad account through the SDK."""
    return AdAccount(ACCOUNT, api=api)
