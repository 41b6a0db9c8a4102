"""Audience creation, lookalike specs, statuses and the size range, as pure rules."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.sandbox_meta.domain import audience as rules
from services.sandbox_meta.domain import lookalike
from services.sandbox_meta.domain.audience import Audience
from services.sandbox_meta.domain.errors import GraphError


def seed(**changes: Any) -> Audience:
    fields: dict[str, Any] = {"id": "1", "account_id": "act_1", "name": "seed", "subtype": "CUSTOM"}
    return Audience(**{**fields, "time_created": 0, **changes})


@pytest.mark.parametrize(
    ("people", "lower", "upper"),
    [
        (0, 1000, 1000),
        (999, 1000, 1000),  # under the floor Meta does not reveal the size
        (1000, 1000, 1100),
        (5000, 4900, 5100),  # the reference page's own example
        (2000, 1900, 2100),
        (123_456, 120_000, 130_000),
    ],
)
def test_size_bounds_are_a_range_around_matched_people(people: int, lower: int, upper: int) -> None:
    assert rules.size_bounds(people) == (lower, upper)
    if people >= rules.SIZE_FLOOR:
        assert lower <= people <= upper


@pytest.mark.parametrize(
    ("spec", "ratio"),
    [
        ({"type": "similarity", "country": "US"}, 0.01),
        ({"type": "reach", "country": "US"}, 0.05),
        ({"type": "custom_ratio", "ratio": 0.2, "country": "GB"}, 0.2),
        ({"ratio": 0.03, "starting_ratio": 0.01, "country": "DE"}, 0.03),
        (
            {
                "type": "custom_ratio",
                "ratio": 0.1,
                "location_spec": {"geo_locations": {"countries": ["US", "CA"]}},
            },
            0.1,
        ),
    ],
)
def test_valid_lookalike_specs_are_accepted(spec: dict[str, Any], ratio: float) -> None:
    assert lookalike.parse_spec(json.dumps(spec))["ratio"] == ratio


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"type": "custom_ratio", "ratio": 0.25, "country": "US"}, "between"),
        ({"type": "custom_ratio", "ratio": 0.005, "country": "US"}, "between"),
        ({"type": "custom_ratio", "ratio": 0.015, "country": "US"}, "steps of 0.01"),
        ({"type": "custom_ratio", "ratio": "0.05", "country": "US"}, "must be a number"),  # v24 strict
        ({"type": "custom_ratio", "country": "US"}, "ratio is required"),
        ({"country": "US"}, "either"),
        ({"type": "lookalike", "ratio": 0.1, "country": "US"}, "type must be"),
        ({"ratio": 0.02, "starting_ratio": 0.02, "country": "US"}, "less than ratio"),
        ({"ratio": 0.02, "country": "usa"}, "alpha-2"),
        ({"ratio": 0.02}, "exactly one"),
        (
            {"ratio": 0.02, "country": "US", "location_spec": {"geo_locations": {"countries": ["US"]}}},
            "exactly one",
        ),
        ({"ratio": 0.02, "country": "US", "colour": "red"}, "unknown field"),
        ({"ratio": 0.02, "country": "US", "allow_international_seeds": "true"}, "boolean"),
        ({"ratio": 0.02, "location_spec": {"geo_locations": {}}}, "countries"),
    ],
)
def test_bad_lookalike_specs_are_rejected_with_100(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(GraphError) as caught:
        lookalike.parse_spec(json.dumps(raw))
    assert caught.value.code == 100
    assert fragment in caught.value.message


def test_lookalike_spec_that_is_not_json_is_1713098() -> None:
    with pytest.raises(GraphError) as caught:
        lookalike.parse_spec("{ratio: 0.1")
    assert (caught.value.code, caught.value.subcode) == (100, 1713098)


@pytest.mark.parametrize(
    ("audience", "spec_type", "matched", "code"),
    [
        (seed(), "similarity", 100, None),
        (seed(), "similarity", 99, 2654),  # "at least 100 members"
        (seed(flagged=True), "similarity", 500, 2654),
        (seed(is_value_based=True), "similarity", 500, 100),  # value-based seeds need custom_ratio
        (seed(is_value_based=True), "custom_ratio", 500, None),
        (seed(subtype="LOOKALIKE"), "similarity", 500, 100),
    ],
)
def test_seed_rules(audience: Audience, spec_type: str, matched: int, code: int | None) -> None:
    spec = {"type": spec_type, "ratio": 0.01, "country": "US"}
    if code is None:
        lookalike.check_seed(audience, spec, matched)
        return
    with pytest.raises(GraphError) as caught:
        lookalike.check_seed(audience, spec, matched)
    assert caught.value.code == code


def test_operation_status_precedence() -> None:
    a = seed()
    assert rules.operation_status(a, replacing=False, now=0)[0] == 200
    assert rules.operation_status(a, replacing=True, now=0)[0] == 414
    a.replace_error = True
    assert rules.operation_status(a, replacing=False, now=0)[0] == 415
    a.flagged = True
    assert rules.operation_status(a, replacing=True, now=0)[0] == 471


def test_lookalikes_report_minus_one_until_built() -> None:
    la = Audience(
        id="2",
        account_id="act_1",
        name="la",
        subtype="LOOKALIKE",
        time_created=0,
        ready_at=100,
        lookalike_spec={"ratio": 0.01, "country": "US"},
    )
    assert rules.approximate_people(la, 0, now=99) is None
    assert rules.operation_status(la, replacing=False, now=99)[0] == 441
    assert rules.approximate_people(la, 0, now=100) == 2_400_000


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"name": "a", "customer_file_source": "USER_PROVIDED_ONLY"}, None),
        ({"name": "a", "customer_file_source": "PARTNER_PROVIDED_ONLY", "is_value_based": "1"}, None),
        ({"customer_file_source": "USER_PROVIDED_ONLY"}, "name"),
        ({"name": "a"}, "customer_file_source"),
        ({"name": "a", "customer_file_source": "FRIENDS"}, "customer_file_source"),
        ({"name": "a", "customer_file_source": "USER_PROVIDED_ONLY", "is_value_based": "maybe"}, "boolean"),
        ({"name": "a", "customer_file_source": "USER_PROVIDED_ONLY", "audience_labels": '["VIP"]'}, "labels"),
    ],
)
def test_custom_audience_creation_parameters(params: dict[str, str], error: str | None) -> None:
    if error is None:
        assert rules.parse_custom(params)["name"] == "a"
        return
    with pytest.raises(GraphError) as caught:
        rules.parse_custom(params)
    assert caught.value.code == 100
    assert error in caught.value.message
