"""Quota windows, list life span and match-rate ranges, config validation."""

from __future__ import annotations

import pytest

from services.sandbox_google.config import ConfigError, GoogleSandboxConfig, customer_id
from services.sandbox_google.domain.lists import ListSize, life_span_error, match_range
from services.sandbox_google.domain.quotas import QuotaCounter, QuotaLimits, datamanager_buckets


def test_minute_quota_refuses_past_the_limit_until_the_first_call_is_a_minute_old() -> None:
    counter = QuotaCounter()
    buckets = datamanager_buckets(QuotaLimits(ingestion_per_minute=3), "IngestionService", mutate=True)
    now = 1_000_050.0  # ten seconds before a calendar minute ends: a sliding window still refuses
    assert [counter.take(buckets, now + i) for i in range(3)] == [None, None, None]
    full = counter.take(buckets, now + 20)
    assert full is not None and full.name == "IngestionMutateRequestsPerMinutePerProject"
    assert counter.seconds_to_reset(full, now + 20) == 40
    assert counter.take(buckets, now + 59) is not None
    assert counter.take(buckets, now + 60) is None  # the first call left the window


def test_costs_count_whole() -> None:
    from services.sandbox_google.domain.quotas import Bucket

    counter = QuotaCounter()
    bucket = (Bucket("ops", 10, 86_400),)
    assert counter.take(bucket, 0, cost=10) is None
    assert counter.take(bucket, 1, cost=1) is not None
    assert counter.used(bucket[0], 1) == 10


def test_reads_and_mutates_are_counted_separately() -> None:
    counter = QuotaCounter()
    limits = QuotaLimits(ingestion_per_minute=1)
    assert counter.take(datamanager_buckets(limits, "IngestionService", True), 0) is None
    assert counter.take(datamanager_buckets(limits, "IngestionService", False), 0) is None


def test_day_quota_names_the_day_limit() -> None:
    counter = QuotaCounter()
    buckets = datamanager_buckets(QuotaLimits(ingestion_per_day=2), "IngestionService", mutate=False)
    counter.take(buckets, 0)
    counter.take(buckets, 61)
    full = counter.take(buckets, 122)
    assert full is not None and full.name == "IngestionReadRequestsPerDayPerProject"


@pytest.mark.parametrize(("days", "error"), [(-1, "TOO_LOW"), (0, None), (540, None), (541, "TOO_HIGH")])
def test_membership_life_span_is_0_to_540(days: int, error: str | None) -> None:
    assert life_span_error(days) == error


@pytest.mark.parametrize(
    ("matched", "uploaded", "name"),
    [(0, 0, ""), (1, 10, "LESS_THAN_20"), (2, 10, "20_TO_30"), (30, 100, "20_TO_30"), (31, 100, "31_TO_40"),
     (90, 100, "81_TO_90"), (91, 100, "91_TO_100"), (10, 10, "91_TO_100")],
)  # fmt: skip
def test_match_range_buckets(matched: int, uploaded: int, name: str) -> None:
    assert match_range(matched, uploaded) == name


def test_match_rate_percentage() -> None:
    assert ListSize(0, 0).match_rate_percentage == 0
    assert ListSize(3, 2).match_rate_percentage == 66


def test_config_normalises_customer_ids_and_names_bad_flags() -> None:
    assert customer_id("123-456-7890") == "1234567890"
    with pytest.raises(ConfigError, match="--customer"):
        GoogleSandboxConfig(customers=("12",)).validated()
    with pytest.raises(ConfigError, match="--match-rate"):
        GoogleSandboxConfig(match_rate=2).validated()
    assert GoogleSandboxConfig(customers=("123-456-7890", "1234567890")).validated().customers == (
        "1234567890",
    )


@pytest.mark.parametrize(
    ("account", "login", "allowed"),
    [
        ("1", "", True),
        ("1", "1", True),
        ("1", "9", True),
        ("1", "2", False),
        ("3", "", False),
        ("3", "9", False),
    ],
)
def test_account_access_through_the_account_or_a_manager(account: str, login: str, allowed: bool) -> None:
    from services.sandbox_google.domain.accounts import may_access

    assert may_access({"1", "2"}, {"9"}, account, login) is allowed
