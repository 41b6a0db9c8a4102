"""Settings are validated once and errors name the variable."""

from __future__ import annotations

from pathlib import Path

import pytest

from shared.config import Settings, SettingsError


def test_defaults_give_the_embedded_mode() -> None:
    s = Settings.from_env({})
    assert s.database_url == "sqlite:///var/audiencesync.db"
    assert s.kafka_bootstrap is None
    assert s.base_currency == "USD"
    assert s.kafka_session_timeout_ms == 10_000


@pytest.mark.parametrize(
    ("env", "names"),
    [
        ({"KAFKA_PARTITIONS": "many"}, "KAFKA_PARTITIONS"),
        ({"KAFKA_PARTITIONS": "0"}, "KAFKA_PARTITIONS"),
        ({"KAFKA_SESSION_TIMEOUT_MS": "1000"}, "KAFKA_SESSION_TIMEOUT_MS"),
        ({"KAFKA_SESSION_TIMEOUT_MS": "10s"}, "KAFKA_SESSION_TIMEOUT_MS"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT"),
        ({"BASE_CURRENCY": "dollars"}, "BASE_CURRENCY"),
        ({"CI": "maybe"}, "CI"),
        ({"SHOPIFY_WEBHOOK_SECRET_FILE": "/nonexistent/secret"}, "SHOPIFY_WEBHOOK_SECRET_FILE"),
    ],
)
def test_bad_values_name_the_variable(env: dict[str, str], names: str) -> None:
    with pytest.raises(SettingsError, match=names):
        Settings.from_env(env)


def test_secrets_come_from_files_and_stay_out_of_repr(tmp_path: Path) -> None:
    secret = tmp_path / "s"
    secret.write_text("hush-123\n")
    s = Settings.from_env({"SHOPIFY_WEBHOOK_SECRET_FILE": str(secret)})
    assert s.shopify_webhook_secret == "hush-123"
    assert "hush-123" not in repr(s)


def test_database_url_comes_from_a_secret_file(tmp_path: Path) -> None:
    url = tmp_path / "database_url"
    url.write_text("postgresql://audiencesync:pw@postgres:5432/audiencesync\n")
    s = Settings.from_env({"DATABASE_URL_FILE": str(url), "DATABASE_URL": "sqlite:///ignored.db"})
    assert s.database_url == "postgresql://audiencesync:pw@postgres:5432/audiencesync"
