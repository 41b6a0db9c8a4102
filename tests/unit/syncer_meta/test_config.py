"""Meta settings: accounts with their own credentials and budgets, validated, never shown."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.syncer_meta.config import MetaSettings
from shared.config import SettingsError


def test_defaults_point_at_the_real_graph_api_with_no_account() -> None:
    s = MetaSettings.from_env({})
    assert (s.graph_url, s.api_version, s.accounts) == (
        "https://graph.facebook.com",
        "v26.0",
        (),
    )
    assert (s.batch_size, s.consent, s.max_remove_share) == (10_000, "marketing", 0.2)


def test_each_account_has_its_own_token_secret_and_budget_with_shared_fallbacks(tmp_path: Path) -> None:
    secret_file = tmp_path / "secret"
    secret_file.write_text("file-secret\n")
    s = MetaSettings.from_env(
        {
            "META_ACCOUNTS": "act_1, 2 ,act_1",
            "META_ACCESS_TOKEN": "shared-token",
            "META_ACCESS_TOKEN_ACT_2": "own-token",
            "META_APP_SECRET_ACT_1_FILE": str(secret_file),
            "META_REQUEST_BUDGET": "120",
            "META_REQUEST_BUDGET_ACT_2": "30",
            "META_GRAPH_URL": "http://127.0.0.1:8790/",
        }
    )
    first, second = s.accounts
    assert (first.account_id, first.access_token, first.app_secret, first.requests_per_minute) == (
        "act_1",
        "shared-token",
        "file-secret",
        120,
    )
    assert (second.account_id, second.access_token, second.app_secret, second.requests_per_minute) == (
        "act_2",
        "own-token",
        None,
        30,
    )
    assert s.graph_url == "http://127.0.0.1:8790"
    assert "shared-token" not in repr(s) and "own-token" not in repr(s) and "file-secret" not in repr(s)


def test_child_processes_get_the_same_meta_settings() -> None:
    s = MetaSettings.from_env({"META_ACCOUNTS": "act_9", "META_ACCESS_TOKEN": "t", "META_APP_SECRET": "x"})
    again = MetaSettings.from_env(s.child_environ())
    assert again.accounts == s.accounts
    assert again.accounts[0].app_secret == "x"


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"META_ACCOUNTS": "acct_1", "META_ACCESS_TOKEN": "t"}, "META_ACCOUNTS"),
        ({"META_ACCOUNTS": "act_1"}, "META_ACCESS_TOKEN_ACT_1"),
        ({"META_ACCOUNTS": "act_1", "META_ACCESS_TOKEN_FILE": "/nonexistent"}, "META_ACCESS_TOKEN_FILE"),
        ({"META_GRAPH_URL": "graph.facebook.com"}, "META_GRAPH_URL"),
        ({"META_API_VERSION": "26"}, "META_API_VERSION"),
        ({"META_BATCH_SIZE": "10001"}, "META_BATCH_SIZE"),
        ({"META_BATCH_SIZE": "many"}, "META_BATCH_SIZE"),
        ({"META_MAX_REMOVE_SHARE": "1.5"}, "META_MAX_REMOVE_SHARE"),
        ({"META_CONSENT": "maybe"}, "META_CONSENT"),
        ({"META_FLUSH_SECONDS": "-1"}, "META_FLUSH_SECONDS"),
        ({"META_SYNC_ON_START": "perhaps"}, "META_SYNC_ON_START"),
        (
            {"META_ACCOUNTS": "act_1", "META_ACCESS_TOKEN": "t", "META_REQUEST_BUDGET": "0"},
            "META_REQUEST_BUDGET",
        ),
    ],
)
def test_bad_meta_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        MetaSettings.from_env(env)
