"""``audiencesync sandbox meta`` flags become a validated ``SandboxConfig``."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from services.sandbox_meta.config import AccountPolicy, ConfigError
from services.sandbox_meta.entrypoints.cli import add_arguments, config_from_args
from services.sandbox_meta.runtime import route_of


def parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_flags_seed_tokens_accounts_and_faults(tmp_path: Path) -> None:
    secret = tmp_path / "secret"
    secret.write_text("s3cret\n")
    config = config_from_args(
        parse(
            "--access-token",
            "a",
            "--access-token",
            "b",
            "--app-secret-file",
            str(secret),
            "--ad-account",
            "12",
            "--ad-account",
            "act_34",
            "--state",
            str(tmp_path / "s.db"),
            "--transient-error-rate",
            "0.2",
            "--fault-seed",
            "9",
            "--expired-token",
            "old",
            "--throttle",
            "60",
            "--throttle",
            "30:613:act_34",
            "--decline-tos",
            "12",
            "--unlinked-account",
            "act_12",
            "--decline-value-based-tos",
            "act_34",
        )
    )
    assert config.access_tokens == ("a", "b") and config.app_secret == "s3cret"
    assert config.ad_accounts == ("act_12", "act_34")
    assert config.state_path == tmp_path / "s.db"
    assert (config.transient_error_rate, config.fault_seed) == (0.2, 9)
    assert config.expired_tokens == ("old",)
    assert config.throttle_windows == ((60, 80003, None), (30, 613, "act_34"))
    assert config.policies == {
        "act_12": AccountPolicy(tos_accepted=False, business_linked=False),
        "act_34": AccountPolicy(value_based_tos_accepted=False),
    }


def test_defaults_give_a_usable_demo_sandbox() -> None:
    config = config_from_args(parse())
    assert config.access_tokens == ("sandbox-token",) and config.ad_accounts == ("act_1000",)
    assert config.state_path is None and config.app_secret is None


@pytest.mark.parametrize(
    ("argv", "names"),
    [
        (("--ad-account", "acct-7"), "act_<digits>"),
        (("--match-rate", "1.5"), "match_rate"),
        (("--transient-error-rate", "-0.1"), "transient_error_rate"),
        (("--throttle", "soon"), "--throttle"),
        (("--throttle", "60:999"), "throttle_windows"),
        (("--budget-points", "0"), "budget_points"),
        (("--known-hashes", "/nonexistent/hashes.txt"), "--known-hashes"),
    ],
)
def test_bad_flags_name_the_setting(argv: tuple[str, ...], names: str) -> None:
    with pytest.raises(ConfigError, match=names):
        config_from_args(parse(*argv))


@pytest.mark.parametrize(
    ("call", "route"),
    [
        ("POST /v26.0/123/users/", "POST /{audience_id}/users"),
        ("get /v26.0/act_12/customaudiences?limit=2", "GET /act_{id}/customaudiences"),
        ("DELETE /123", "DELETE /{audience_id}"),
    ],
)
def test_concrete_paths_map_to_call_log_routes(call: str, route: str) -> None:
    assert route_of(call) == route
