"""Pure parts of the API: field paths in problems, token buckets, scopes, identifier-quality shares."""

from __future__ import annotations

import pytest

from services.api.adapters.quality import Member, UploadRules, summarize
from services.api.auth import effective_scope, grants
from services.api.cache import TtlCache
from services.api.errors import field_errors, problem
from services.api.ratelimit import RateLimiter
from shared.config import SettingsError


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        ({"json": {"mode": ["Must be one of: delta."]}}, [("mode", "Must be one of: delta.")]),
        (
            {"query": {"limit": ["Too big."], "since": ["Not a date."]}},
            [("limit", "Too big."), ("since", "Not a date.")],
        ),
        ({"json": {"destinations": {"0": ["Bad."]}}}, [("destinations.0", "Bad.")]),
        ({"json": {"_schema": ["Invalid input type."]}}, [("body", "Invalid input type.")]),
    ],
)
def test_validation_messages_become_dotted_field_names(
    messages: object, expected: list[tuple[str, str]]
) -> None:
    assert [(e["field"], e["message"]) for e in field_errors(messages)] == expected


def test_a_problem_has_the_rfc_7807_members_and_its_code() -> None:
    body = problem(409, "already_syncing", "busy", running_id=3)
    assert body == {
        "type": "/docs#problem-already_syncing",
        "title": "Conflict",
        "status": 409,
        "detail": "busy",
        "code": "already_syncing",
        "running_id": 3,
    }


def test_a_token_bucket_allows_its_burst_then_its_rate() -> None:
    now = [0.0]
    limiter = RateLimiter(rate=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.take("a") for _ in range(4)] == [0, 0, 0, 1]
    assert limiter.take("b") == 0  # its own bucket
    now[0] = 0.5  # one request refilled
    assert limiter.take("a") == 0 and limiter.take("a") == 1
    assert RateLimiter(rate=0, burst=1).take("a") == 0  # disabled


@pytest.mark.parametrize(
    ("stored", "needed", "allowed"),
    [(["read"], "read", True), (["read"], "operate", False), (["operate"], "read", True),
     (["admin"], "admin", True), (["*"], "admin", True), ([], "read", False)],
)  # fmt: skip
def test_scopes_include_the_ones_before_them(stored: list[str], needed: str, allowed: bool) -> None:
    assert grants(effective_scope(stored), needed) is allowed


def _member(
    country: str | None,
    fields: set[str],
    *,
    meta: bool = True,
    google: bool | None = False,  # both ad signals; None: never stated
    dup: bool = False,
) -> Member:
    return Member(country, frozenset(fields), meta, False, google, google, dup)


def test_quality_shares_per_country_largest_first() -> None:
    rows = summarize(
        [
            _member("DE", {"EMAIL"}),
            _member("US", {"EMAIL", "PHONE", "FN", "LN", "ZIP", "COUNTRY"}, google=True),
            _member("US", {"PHONE"}, meta=False, dup=True),
            _member(None, set()),
        ]
    )
    assert [(r["country"], r["customers"]) for r in rows] == [("US", 2), (None, 1), ("DE", 1)]
    us = rows[0]
    assert (us["valid_email"], us["valid_phone"], us["complete_address"], us["duplicates"]) == (
        0.5,
        1.0,
        0.5,
        0.5,
    )
    assert us["consent"] == {"meta": 0.5, "google": 0.5}


def test_quality_consent_is_who_each_syncer_may_upload() -> None:
    """Email consent and no ad signals: in the US Google takes them by default, in Germany not."""
    marketing_only = [_member("US", {"EMAIL"}, google=None), _member("DE", {"EMAIL"}, google=None)]
    default = UploadRules.from_env({}, "include")
    rows = {r["country"]: r["consent"] for r in summarize(marketing_only, default)}
    assert rows == {"US": {"meta": 1.0, "google": 1.0}, "DE": {"meta": 1.0, "google": 0.0}}
    strict = UploadRules.from_env({"GOOGLE_CONSENT_ELSEWHERE": "ad"}, "include")
    google = {r["country"]: r["consent"]["google"] for r in summarize(marketing_only, strict)}
    assert google == {"US": 0.0, "DE": 0.0}
    # A suppression list takes customers without marketing consent on Meta (META_CONSENT=marketing),
    # not under strict; Google applies one rule to every list. An ad signal denied: never on Google.
    silent = [_member("US", {"EMAIL"}, meta=False, google=None)]
    exclusion = UploadRules.from_env({}, "exclusion")
    assert summarize(silent, exclusion)[0]["consent"] == {"meta": 1.0, "google": 0.0}
    strict_meta = UploadRules.from_env({"META_CONSENT": "strict"}, "exclusion")
    assert summarize(silent, strict_meta)[0]["consent"]["meta"] == 0.0
    assert summarize([_member("US", {"EMAIL"}, google=False)], default)[0]["consent"]["google"] == 0.0
    with pytest.raises(SettingsError, match="META_CONSENT: expected one of marketing, strict, any"):
        UploadRules.from_env({"META_CONSENT": "loose"})
    with pytest.raises(SettingsError, match="GOOGLE_CONSENT_ELSEWHERE"):
        UploadRules.from_env({"GOOGLE_CONSENT_ELSEWHERE": "anywhere"})


def test_an_answer_is_kept_for_its_ttl_then_computed_again() -> None:
    now, calls = [0.0], []
    cache = TtlCache(1.0, size=2, clock=lambda: now[0])

    def compute(value: str) -> str:
        calls.append(value)
        return value

    assert cache.get("a", lambda: compute("a1")) == "a1"
    now[0] = 0.9
    assert cache.get("a", lambda: compute("a2")) == "a1"
    now[0] = 1.0
    assert cache.get("a", lambda: compute("a3")) == "a3"
    cache.get("b", lambda: compute("b1"))
    cache.get("c", lambda: compute("c1"))  # over size: the oldest entry goes
    assert cache.get("a", lambda: compute("a4")) == "a4"
    assert calls == ["a1", "a3", "b1", "c1", "a4"]
