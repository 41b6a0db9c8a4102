"""Alerts through the real database and a real local HTTP receiver: one post per incident."""

from __future__ import annotations

import socket
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from services.alerts.check import check_alerts, run_check
from services.alerts.config import AlertSettings
from shared.config import Settings
from shared.store.db import Store
from shared.store.models import (
    AlertIncident,
    Audience,
    AudienceSnapshot,
    DeadLetterRecord,
    DestinationAudience,
    SyncRun,
)
from tests.integration.alerts.receiver import receiving

pytestmark = pytest.mark.integration

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
MINUTE = timedelta(minutes=1)
SECOND = timedelta(seconds=1)


def _destination(store: Store, audience: str = "icp_seed", platform: str = "meta") -> int:
    with store.transaction() as session:
        if session.get(Audience, audience) is None:
            session.add(
                Audience(
                    key=audience, role="include", definition={}, origin="config", created_at=T0, updated_at=T0
                )
            )
        row = DestinationAudience(
            audience_key=audience,
            platform=platform,
            account_id="act_1" if platform == "meta" else "1234567890",
            kind="custom" if platform == "meta" else "user_list",
            variant="",
            platform_audience_id="42",
            status="active",
            created_at=T0,
        )
        session.add(row)
        session.flush()
        return row.id


def _run(store: Store, destination: int, status: str, at: datetime, desired: int = 1000) -> None:
    with store.transaction() as session:
        session.add(
            SyncRun(
                destination_audience_id=destination,
                mode="incremental",
                status=status,
                started_at=at,
                finished_at=at,
                desired=desired,
                message=None if status == "succeeded" else "HTTP 503 from the platform, 6 attempts",
            )
        )


def _snapshot(store: Store, destination: int, at: datetime, size: int, **details: object) -> None:
    with store.transaction() as session:
        session.add(
            AudienceSnapshot(
                destination_audience_id=destination,
                at=at,
                size_lower=size,
                size_upper=size,
                operation_status=details.pop("operation_status", 200),
                details=details or None,
            )
        )


def _alerts(url: str | None, **kw: object) -> AlertSettings:
    return AlertSettings(webhook_url=url, **{"timeout_seconds": 2.0, **kw})  # type: ignore[arg-type]


def _texts(bodies: list[dict[str, object]]) -> list[str]:
    return [str(body["text"]) for body in bodies]


def test_one_post_per_incident_none_while_open_and_a_resolved_post_when_it_clears(store: Store) -> None:
    meta = _destination(store)
    _run(store, meta, "unavailable", T0 - MINUTE)
    settings = Settings(database_url=store.url, shop="shop-a")
    with receiving() as receiver:
        alerts = _alerts(receiver.url)
        for minute in range(3):  # the scheduler's minute checks while the failure lasts
            assert check_alerts(store, settings, T0 + minute * MINUTE, alerts=alerts) is not None
            assert check_alerts(store, settings, T0 + minute * MINUTE + 5 * SECOND, alerts=alerts) is None
        assert len(receiver.posts) == 1
        (opened,) = _texts(receiver.accepted)
        assert "icp_seed on meta act_1 failed (unavailable)" in opened and "shop-a" in opened
        assert [b["type"] for b in receiver.accepted[0]["blocks"]] == ["section", "context"]

        _run(store, meta, "succeeded", T0 + 3 * MINUTE)
        for minute in range(4, 7):
            check_alerts(store, settings, T0 + minute * MINUTE, alerts=alerts)
        assert len(receiver.posts) == 2
        assert (
            "Resolved" in _texts(receiver.accepted)[1]
            and "failed (unavailable)" in _texts(receiver.accepted)[1]
        )

        _run(store, meta, "rejected", T0 + 7 * MINUTE)  # the same destination failing again: a new incident
        check_alerts(store, settings, T0 + 8 * MINUTE, alerts=alerts)
        assert len(receiver.posts) == 3 and "failed (rejected)" in _texts(receiver.accepted)[2]
    with store.session() as session:
        rows = session.scalars(select(AlertIncident).order_by(AlertIncident.id)).all()
        resolved = [(r.key, r.resolved_at is not None, r.resolved_notified_at is not None) for r in rows]
    assert resolved == [
        ("run_failed:meta:act_1:icp_seed", True, True),
        ("run_failed:meta:act_1:icp_seed", False, False),
    ]


def test_a_receiver_answering_500_then_200_gets_the_alert_exactly_once(store: Store) -> None:
    meta = _destination(store)
    _snapshot(store, meta, T0 - 2 * MINUTE, 10_000)
    _snapshot(store, meta, T0 - MINUTE, 6_000)  # -40 %
    with receiving([500, 200]) as receiver:
        alerts = _alerts(receiver.url)
        first = run_check(store, alerts, T0)
        assert first.failed == [("shrink:meta:act_1:icp_seed", "HTTP 500")] and first.posts == []
        second = run_check(store, alerts, T0 + MINUTE)  # the next check retries (backoff 30 s)
        assert [key for key, _, _ in second.posts] == ["shrink:meta:act_1:icp_seed"]
        for minute in range(2, 5):
            run_check(store, alerts, T0 + minute * MINUTE)
        assert [status for status, _ in receiver.posts] == [500, 200]
        (text,) = _texts(receiver.accepted)
        assert "shrank on the platform from 10,000 to 6,000 (-40%)" in text


def test_a_receiver_down_for_a_while_is_retried_with_backoff(store: Store) -> None:
    _run(store, _destination(store), "auth_error", T0 - MINUTE)
    with receiving([503] * 3 + [200]) as receiver:
        alerts = _alerts(receiver.url)
        tried = []
        for minute in range(12):
            before = len(receiver.posts)
            run_check(store, alerts, T0 + minute * MINUTE)
            if len(receiver.posts) > before:
                tried.append(minute)
        # Waits of 30 s, 60 s, 120 s after the failures: checks at minutes 0, 1, 2, then 4.
        assert [status for status, _ in receiver.posts] == [503, 503, 503, 200]
        assert tried == [0, 1, 2, 4]
        assert "token of act_1 is refused" in _texts(receiver.accepted)[0]


def test_a_failing_receiver_never_raises_to_the_caller_and_the_url_is_never_logged(
    store: Store, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _run(store, _destination(store), "unavailable", T0 - MINUTE)
    with socket.socket() as unused:  # a port nobody listens on: connection refused
        unused.bind(("127.0.0.1", 0))
        port = unused.getsockname()[1]
    url = f"http://127.0.0.1:{port}/services/T000/B000/secret-part"
    settings = Settings(database_url=store.url)
    report = check_alerts(store, settings, T0, alerts=_alerts(url))
    assert report is not None and report.failed and report.error is None
    assert "secret-part" not in str(report.failed)
    with socket.socket() as silent:  # accepts connections and never answers
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        hanging = f"http://127.0.0.1:{silent.getsockname()[1]}/services/T000/B000/secret-part"
        report = check_alerts(store, settings, T0 + 5 * MINUTE, alerts=_alerts(hanging, timeout_seconds=0.3))
        assert (
            report is not None
            and report.failed
            and report.failed[0][1].startswith(("no answer", "unreachable"))
        )
    broken = Store(f"sqlite:///{tmp_path / 'no-such-dir' / 'x.db'}")  # never migrated: no tables
    assert check_alerts(broken, settings, T0, alerts=_alerts(url)).error  # type: ignore[union-attr]
    broken.dispose()
    captured = capsys.readouterr()
    assert "secret-part" not in captured.out + captured.err


def test_match_rate_drop_flag_and_dead_letters_open_their_own_incidents(store: Store) -> None:
    google = _destination(store, platform="google")
    _snapshot(store, google, T0 - 2 * MINUTE, 5_000, match_rate=62)
    _snapshot(store, google, T0 - MINUTE, 5_000, match_rate=41)
    meta = _destination(store, audience="retarget")
    _snapshot(store, meta, T0 - MINUTE, 3_000, operation_status=471)
    estimated = _destination(store, audience="lapsed")  # Meta: matched / desired from size bounds
    _run(store, estimated, "succeeded", T0 - 3 * MINUTE, desired=10_000)
    _snapshot(store, estimated, T0 - 2 * MINUTE, 6_000)
    _snapshot(store, estimated, T0 - MINUTE, 4_500)
    with store.transaction() as session:
        for offset in range(12):
            session.add(
                DeadLetterRecord(
                    consumer="ingestor", topic="orders.raw", partition=0, offset=offset,
                    reason="invalid", message_id=f"m{offset}", created_at=T0 - MINUTE,
                )
            )  # fmt: skip
    with receiving() as receiver:
        report = run_check(store, _alerts(receiver.url), T0)
    assert sorted(c.key for c in report.opened) == [
        "dead_letters:ingestor",
        "flagged:meta:act_1:retarget",
        "match_rate_drop:google:1234567890:icp_seed",
        "match_rate_drop:meta:act_1:lapsed",
        "shrink:meta:act_1:lapsed",
    ]
    texts = " | ".join(_texts(receiver.accepted))
    assert "dropped from 62% to 41%" in texts and "operation_status 471" in texts
    assert "Match rate of lapsed on meta act_1 dropped from 60% to 45%" in texts
    assert "12 messages dead-lettered by ingestor" in texts


def test_two_replicas_checking_the_same_minute_post_once(store: Store) -> None:
    _run(store, _destination(store), "rejected", T0 - MINUTE)
    other = Store(store.url)
    try:
        with receiving() as receiver:
            alerts = _alerts(receiver.url)
            run_check(store, alerts, T0)
            run_check(other, alerts, T0)
            run_check(other, alerts, T0 + MINUTE)
        assert len(receiver.posts) == 1
    finally:
        other.dispose()


def test_dry_run_prints_what_would_be_sent_and_changes_nothing(store: Store) -> None:
    _run(store, _destination(store), "unavailable", T0 - MINUTE)
    with receiving() as receiver:
        report = run_check(store, _alerts(receiver.url), T0, dry_run=True)
        assert [key for key, _, _ in report.posts] == ["run_failed:meta:act_1:icp_seed"]
        assert receiver.posts == []
    with store.session() as session:
        assert session.scalars(select(AlertIncident)).all() == []


def test_the_alerts_commands(
    store: Store, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from services.cli.main import main

    _run(store, _destination(store), "unavailable", datetime.now(UTC) - MINUTE)
    monkeypatch.setenv("DATABASE_URL", store.url)
    monkeypatch.delenv("ALERT_WEBHOOK_URL", raising=False)
    assert main(["alerts", "test"]) == 2
    with receiving([200, 500]) as receiver:
        monkeypatch.setenv("ALERT_WEBHOOK_URL", receiver.url)
        assert main(["alerts", "check", "--dry-run"]) == 0
        out = capsys.readouterr().out
        assert "would open    run_failed:meta:act_1:icp_seed" in out and "would post (opened" in out
        assert receiver.posts == []
        assert main(["alerts", "test"]) == 0
        assert main(["alerts", "test"]) == 1
        assert "not delivered: HTTP 500" in capsys.readouterr().out
        assert "Test alert" in _texts(receiver.accepted)[0]
    assert "secret-part" not in capsys.readouterr().out
