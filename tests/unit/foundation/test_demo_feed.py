"""The ``make run`` demo's shop: split between bulk import and webhooks, and the secret it signs with."""

from __future__ import annotations

import json
import stat
from datetime import date, datetime, timedelta
from pathlib import Path

import pytest

from services.cli.demo_feed import RECENT_DAYS, generate_shop, with_webhook_secret
from services.cli.main import main
from shared.config import Settings

AS_OF = date(2026, 12, 5)


def _created(path: Path) -> list[date]:
    lines = path.read_text(encoding="utf-8").splitlines()
    return [datetime.fromisoformat(json.loads(line)["created_at"]).date() for line in lines]


def test_recent_orders_go_to_webhooks_and_older_ones_to_the_import(tmp_path: Path) -> None:
    shop = generate_shop(tmp_path, customers=60, as_of=AS_OF)
    since = AS_OF - timedelta(days=RECENT_DAYS)
    recent, history = _created(shop.recent), _created(shop.history)
    assert recent and history
    assert all(day >= since for day in recent)
    assert all(day < since for day in history)
    truth_orders = sum(int(row.split(",")[-1]) for row in shop.truth.read_text().splitlines()[1:])
    assert len(recent) + len(history) >= truth_orders  # every order is in one half (test orders on top)
    assert not (tmp_path / "shop.jsonl").exists()
    assert shop.checkouts.exists() and shop.tickets.exists() and shop.rates.exists()


def test_the_demo_secret_is_made_once_owner_only_and_a_configured_one_wins(tmp_path: Path) -> None:
    settings = Settings.from_env({"AUDIENCESYNC_VAR_DIR": str(tmp_path)})
    first = with_webhook_secret(settings).shopify_webhook_secret
    again = with_webhook_secret(settings).shopify_webhook_secret
    assert first and first == again
    secret_file = tmp_path / "demo" / "shopify-webhook-secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    configured = Settings.from_env({"AUDIENCESYNC_VAR_DIR": str(tmp_path), "SHOPIFY_WEBHOOK_SECRET": "mine"})
    assert with_webhook_secret(configured).shopify_webhook_secret == "mine"


@pytest.mark.parametrize("argv", [["up", "--once"], ["up", "--customers", "10"]])
def test_demo_options_without_demo_are_refused(argv: list[str], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    assert "--demo" in capsys.readouterr().err
