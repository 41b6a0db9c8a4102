"""``audiencesync sandbox google`` flags: the acceptance command parses, repeats accumulate, bad
values are named."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from services.sandbox_google.config import ConfigError
from services.sandbox_google.entrypoints.cli import add_arguments, config_from_args

ACCEPTANCE = [
    "--port",
    "8791",
    "--cert-dir",
    "/tmp/certs",
    "--access-token",
    "TOK",
    "--developer-token",
    "DEV",
    "--allowlisted-developer-token",
    "DEV2",
    "--customer",
    "1234567890",
    "--login-customer",
    "9876543210",
]


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    return parser.parse_args(argv)


def test_acceptance_command_builds_the_config() -> None:
    config = config_from_args(parse(ACCEPTANCE))
    assert config.port == 8791 and config.cert_dir == Path("/tmp/certs")
    assert config.access_tokens == ("TOK",)
    assert config.developer_tokens == ("DEV",) and config.allowlisted_developer_tokens == ("DEV2",)
    assert config.all_developer_tokens == {"DEV", "DEV2"}
    assert config.customers == ("1234567890",) and config.login_customers == ("9876543210",)


def test_repeated_flags_accumulate() -> None:
    extra = ["--customer", "111-111-1111", "--access-token", "TOK2", "--expired-token", "OLD"]
    config = config_from_args(parse([*ACCEPTANCE, *extra, "--concurrent-modifications", "2"]))
    assert config.customers == ("1234567890", "1111111111")
    assert config.access_tokens == ("TOK", "TOK2")
    assert config.expired_tokens == ("OLD",) and config.concurrent_modifications == 2


@pytest.mark.parametrize(
    ("flags", "named"),
    [(["--customer", "12"], "--customer"), (["--login-customer", "x"], "--login-customer"),
     (["--match-rate", "1.5"], "--match-rate"), (["--transient-error-rate", "-1"], "--transient-error-rate")],
)  # fmt: skip
def test_bad_values_name_their_flag(flags: list[str], named: str) -> None:
    with pytest.raises(ConfigError, match=named):
        config_from_args(parse([*ACCEPTANCE, *flags]))


def test_cert_dir_access_token_and_customer_are_required() -> None:
    with pytest.raises(SystemExit):
        parse(["--port", "1"])
