"""The alert rules, table-driven: which incident keys hold for plain facts and thresholds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from services.alerts.config import AlertSettings, TokenExpiry, parse_token_expiry
from services.alerts.domain.rules import Destination, Facts, Run, Snapshot, conditions
from shared.config import SettingsError

NOW = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)
SETTINGS = AlertSettings(match_rate_drop=0.10, shrink_share=0.20, dead_letter_growth=10)


def snap(size: int | None = None, rate: float | None = None, op: int | None = 200) -> Snapshot:
    return Snapshot(NOW, size, rate, op)


def dest(runs: tuple[str, ...] = ("succeeded",), snaps: tuple[Snapshot, ...] = (), **kw: str) -> Destination:
    base = {"audience": "icp_seed", "platform": "meta", "account": "act_1"}
    return Destination(**{**base, **kw}, runs=[Run(s, "why") for s in runs], snapshots=snaps)


def keys(*destinations: Destination, letters: dict[str, int] | None = None, **settings: object) -> list[str]:
    chosen = AlertSettings(**{**SETTINGS.__dict__, **settings})
    return sorted(c.key for c in conditions(Facts(NOW, destinations, letters), chosen))


@pytest.mark.parametrize(
    ("runs", "expected"),
    [
        (("succeeded",), []),
        (("dry_run", "succeeded"), []),
        (("refused",), []),  # a guardrail hold is a decision, not a failure
        (("interrupted",), []),  # resumes on the next sync by itself
        (("unavailable",), ["run_failed:meta:act_1:icp_seed"]),
        (("rejected",), ["run_failed:meta:act_1:icp_seed"]),
        (("throttled",), ["run_failed:meta:act_1:icp_seed"]),
        (("permission_error",), ["run_failed:meta:act_1:icp_seed"]),
        (("running", "dry_run", "unavailable"), ["run_failed:meta:act_1:icp_seed"]),  # newest decisive
        (("succeeded", "unavailable"), []),  # the failure cleared
        (("auth_error",), ["token_failed:meta:act_1"]),
        (("flagged",), ["flagged:meta:act_1:icp_seed"]),
        ((), []),
    ],
)
def test_a_failed_run_opens_by_its_latest_decisive_status(runs: tuple[str, ...], expected: list[str]) -> None:
    assert keys(dest(runs)) == expected


def test_a_refused_token_is_one_incident_per_account_however_many_audiences() -> None:
    found = keys(
        dest(("auth_error",)),
        dest(("auth_error",), audience="exclusion"),
        dest(("auth_error",), platform="google", account="123"),
    )
    assert found == ["token_failed:google:123", "token_failed:meta:act_1"]


@pytest.mark.parametrize(
    ("rates", "threshold", "expected"),
    [
        ((0.45, 0.60), 0.10, True),  # newest first: 60% -> 45%
        ((0.55, 0.60), 0.10, False),
        ((0.50, 0.60), 0.10, True),  # exactly the threshold
        ((0.70, 0.60), 0.10, False),  # a rise
        ((0.45,), 0.10, False),  # nothing to compare with
        ((0.45, None, 0.60), 0.10, True),  # a snapshot without a rate is skipped
        ((0.58, 0.60), 0.01, True),
    ],
)
def test_match_rate_drop_between_snapshots(
    rates: tuple[float | None, ...], threshold: float, expected: bool
) -> None:
    found = keys(dest(snaps=tuple(snap(rate=r) for r in rates)), match_rate_drop=threshold)
    assert found == (["match_rate_drop:meta:act_1:icp_seed"] if expected else [])


@pytest.mark.parametrize(
    ("sizes", "share", "expected"),
    [
        ((700, 1000), 0.20, True),
        ((800, 1000), 0.20, True),  # exactly the share
        ((850, 1000), 0.20, False),
        ((1200, 1000), 0.20, False),
        ((0, 1000), 0.20, True),
        ((0, 0), 0.20, False),  # nothing to lose
        ((500,), 0.20, False),
        ((950, 1000), 0.05, True),
    ],
)
def test_an_audience_shrinking_past_the_share(sizes: tuple[int, ...], share: float, expected: bool) -> None:
    found = keys(dest(snaps=tuple(snap(size=s) for s in sizes)), shrink_share=share)
    assert found == (["shrink:meta:act_1:icp_seed"] if expected else [])


@pytest.mark.parametrize(
    ("status", "operation", "expected"),
    [
        ("active", 200, False),
        ("active", 471, True),  # Meta's integrity restriction
        ("active", 441, False),  # a lookalike building is not a flag
        ("flagged", 200, True),
        ("flagged", None, True),
    ],
)
def test_a_flagged_meta_audience(status: str, operation: int | None, expected: bool) -> None:
    found = keys(dest(snaps=(snap(op=operation),), status=status))
    assert found == (["flagged:meta:act_1:icp_seed"] if expected else [])


def test_lookalikes_and_variants_have_their_own_incident_keys() -> None:
    found = keys(dest(("unavailable",)), dest(("unavailable",), kind="lookalike", variant="GB"))
    assert found == ["run_failed:meta:act_1:icp_seed", "run_failed:meta:act_1:icp_seed:lookalike:GB"]


@pytest.mark.parametrize(
    ("letters", "expected"),
    [
        ({}, []),
        ({"ingestor": 9}, []),
        ({"ingestor": 10}, ["dead_letters:ingestor"]),
        (
            {"ingestor": 50, "scorer": 3, "syncer-meta": 12},
            ["dead_letters:ingestor", "dead_letters:syncer-meta"],
        ),
    ],
)
def test_growing_dead_letters_per_consumer(letters: dict[str, int], expected: list[str]) -> None:
    assert keys(letters=letters) == expected


@pytest.mark.parametrize(
    ("expires_in", "expected"),
    [
        (timedelta(days=30), []),
        (timedelta(days=7), ["token_expiring:meta:act_1"]),
        (timedelta(hours=1), ["token_expiring:meta:act_1"]),
        (timedelta(days=-1), ["token_expiring:meta:act_1"]),  # already expired: still open
    ],
)
def test_a_token_about_to_expire(expires_in: timedelta, expected: list[str]) -> None:
    token = TokenExpiry("meta", "act_1", NOW + expires_in)
    assert keys(token_expiry=(token,), token_warn_days=7.0) == expected


def test_token_expiry_setting_is_parsed_and_errors_name_the_variable() -> None:
    parsed = parse_token_expiry("meta:act_1=2027-01-31, google=2027-03-01T12:00+01:00")
    assert parsed == (
        TokenExpiry("meta", "act_1", datetime(2027, 1, 31, tzinfo=UTC)),
        TokenExpiry("google", None, datetime(2027, 3, 1, 11, tzinfo=UTC)),
    )
    for bad in ("tiktok=2027-01-01", "meta:act_1", "meta=31/01/2027"):
        with pytest.raises(SettingsError, match="ALERT_TOKEN_EXPIRES"):
            parse_token_expiry(bad)


def test_settings_read_thresholds_and_keep_the_webhook_out_of_repr() -> None:
    env = {"ALERT_WEBHOOK_URL": "https://hooks.example/T000/B000/secret", "ALERT_SHRINK_SHARE": "0.5"}
    settings = AlertSettings.from_env(env)
    assert settings.shrink_share == 0.5 and "secret" not in repr(settings)
    with pytest.raises(SettingsError, match="ALERT_MATCH_RATE_DROP"):
        AlertSettings.from_env({"ALERT_MATCH_RATE_DROP": "2"})
    with pytest.raises(SettingsError, match="ALERT_WEBHOOK_URL") as caught:
        AlertSettings.from_env({"ALERT_WEBHOOK_URL": "ftp://secret-place"})
    assert "secret-place" not in str(caught.value)


@pytest.mark.parametrize(
    ("sizes", "rates", "min_size", "expected"),
    [
        ((3, 5), (None, None), 100, []),  # a handful of people: -40 % is one person leaving
        ((3, 5), (None, None), 0, ["shrink:meta:act_1:icp_seed"]),
        ((60, 100), (None, None), 100, ["shrink:meta:act_1:icp_seed"]),  # judged by the older size
        ((50, 50), (0.4, 0.9), 100, []),
        ((500, 500), (0.4, 0.9), 100, ["match_rate_drop:meta:act_1:icp_seed"]),
    ],
)
def test_small_audiences_are_not_judged_on_shrink_or_match_rate(
    sizes: tuple[int, int], rates: tuple[float | None, float | None], min_size: int, expected: list[str]
) -> None:
    snaps = tuple(snap(size=s, rate=r) for s, r in zip(sizes, rates, strict=True))
    assert keys(dest(snaps=snaps), min_size=min_size) == expected
