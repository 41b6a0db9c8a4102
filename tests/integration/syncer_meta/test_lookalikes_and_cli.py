"""Lookalikes from a value-based seed, and the ``sync meta`` / ``sync status`` commands."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from services.cli.main import main
from services.sandbox_meta.server import RunningSandbox
from shared.store.db import Store
from shared.store.models import AudienceSnapshot, DestinationAudience
from shared.sync.outcome import SyncOptions
from tests.integration.syncer_meta.conftest import AUDIENCES, audience_id, settings_env
from tests.integration.syncer_meta.seed import Person, seed

pytestmark = pytest.mark.integration

SEED_WITH_LOOKALIKES = [
    {
        "key": "icp_seed",
        "select": {"label": "icp"},
        "destinations": {
            "meta": {"value_based": True, "lookalike": {"countries": ["US", "DE"], "ratio": 0.02}}
        },
    }
]


def test_a_value_based_seed_gets_its_lookalikes_once_it_is_big_enough(
    sandbox: RunningSandbox, store: Store, make_syncer
) -> None:
    seed(store, [Person(i, value=Decimal(i)) for i in range(99)])
    syncer = make_syncer(SEED_WITH_LOOKALIKES, META_MIN_AUDIENCE_SIZE="100")
    (small,) = syncer.sync(SyncOptions())
    assert "at least 100" in small.feedback["lookalikes"]["US"]
    assert [a.subtype for a in sandbox.state.audiences()] == ["CUSTOM"]

    seed(store, [Person(99, value=Decimal(5))])
    (grown,) = syncer.sync(SyncOptions())

    assert grown.status == "succeeded" and "lookalikes" not in grown.feedback
    lookalikes = [a for a in sandbox.state.audiences() if a.subtype == "LOOKALIKE"]
    assert {a.lookalike_spec["country"] for a in lookalikes} == {"US", "DE"}
    assert {a.origin_audience_id for a in lookalikes} == {audience_id(syncer, "icp_seed")}
    assert all(
        a.lookalike_spec["type"] == "custom_ratio" and a.lookalike_spec["ratio"] == 0.02 for a in lookalikes
    )
    with store.session() as session:
        rows = session.scalars(
            select(DestinationAudience).where(DestinationAudience.kind == "lookalike")
        ).all()
    assert {(r.variant, r.platform_audience_id) for r in rows} == {
        (a.lookalike_spec["country"], a.id) for a in lookalikes
    }
    calls = sandbox.calls.total
    syncer.sync(SyncOptions())
    assert sandbox.calls.total == calls  # nothing changed: no call, no second lookalike


def test_the_commands_print_the_plan_the_runs_and_their_status(
    sandbox: RunningSandbox, store: Store, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    config = tmp_path / "audiences.yaml"
    config.write_text(yaml.safe_dump({"audiences": AUDIENCES}))
    for name, value in settings_env(sandbox.url, store.url, AUDIENCESYNC_CONFIG=str(config)).items():
        monkeypatch.setenv(name, value)
    seed(store, [Person(i) for i in range(12)] + [Person(12, label="negative_icp")])

    assert main(["sync", "meta", "--dry-run", "--json"]) == 0
    planned = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert {p["audience"]: p["plan"]["new"] for p in planned} == {
        "negative_icp_exclusion": 1,
        "icp_seed": 12,
        "retarget": 0,
    }
    assert sandbox.calls.total == 0

    assert main(["sync", "meta", "--audience", "icp_seed"]) == 0
    out = capsys.readouterr().out
    assert "icp_seed" in out and "succeeded" in out and "1,000–1,000" in out

    assert main(["sync", "meta", "--audience", "nope"]) == 2
    assert "no audience 'nope'" in capsys.readouterr().err

    assert main(["sync", "status", "--json"]) == 0
    runs = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(r["audience_key"], r["mode"], r["status"]) for r in runs][:2] == [
        ("icp_seed", "delta", "succeeded"),
        ("retarget", "dry_run", "dry_run"),
    ]
    assert runs[0]["added"] == 12
    with store.session() as session:
        assert session.scalars(select(AudienceSnapshot)).first() is not None
