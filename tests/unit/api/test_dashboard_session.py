"""The dashboard's signing key and where login may send the user next."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from services.api.dashboard.session import KEY_FILE, safe_next, signing_key
from shared.config import Settings


def test_key_is_made_once_owner_only_and_kept(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path / "var")
    first = signing_key(settings)
    assert len(first) >= 32 and signing_key(settings) == first
    assert stat.S_IMODE((tmp_path / "var" / KEY_FILE).stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "var").iterdir()] == [KEY_FILE]  # no draft left behind


def test_dashboard_secret_wins_over_the_file(tmp_path: Path) -> None:
    settings = Settings(var_dir=tmp_path, dashboard_secret="from-the-environment")
    assert signing_key(settings) == "from-the-environment"
    assert not (tmp_path / KEY_FILE).exists()


@pytest.mark.parametrize(
    ("asked", "sent_to"),
    [
        ("/dashboard/report", "/dashboard/report"),
        ("/?x=1", "/?x=1"),
        (None, "/"),
        ("", "/"),
        ("//evil.example/", "/"),
        ("https://evil.example/", "/"),
        ("/\\evil.example", "/"),
    ],
)
def test_next_stays_on_this_site(asked: str | None, sent_to: str) -> None:
    assert safe_next(asked) == sent_to
