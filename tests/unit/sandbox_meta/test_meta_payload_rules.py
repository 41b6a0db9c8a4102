"""Payload validation: request-level errors (code 100) versus per-row invalid entries."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from services.sandbox_meta.domain import payload
from services.sandbox_meta.domain.errors import GraphError


def sha(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def parse(schema: Any, data: list[Any], **extra: Any) -> payload.Batch:
    return payload.parse_payload(json.dumps({"schema": schema, "data": data, **extra}))


@pytest.mark.parametrize(
    ("schema", "data", "valid", "invalid"),
    [
        ("EMAIL_SHA256", [sha("a@x.com"), sha("b@x.com")], 2, 0),
        ("EMAIL_SHA256", [sha("a@x.com").upper()], 1, 0),  # Meta accepts upper-case hex
        ("EMAIL_SHA256", ["a@x.com", sha("b@x.com")], 1, 1),  # unhashed email
        ("EMAIL_SHA256", ["", 42, None], 0, 3),
        ("PHONE_SHA256", [sha("15551234567"), "15551234567"], 1, 1),
        ("MOBILE_ADVERTISER_ID", ["6d92078a-8246-4ba4-ae5b-76104861e7dc", "nope"], 1, 1),
        (["EMAIL", "FN"], [[sha("a@x.com"), sha("ann")], [sha("b@x.com")]], 1, 1),  # arity
        (["EMAIL", "FN"], [[sha("a@x.com"), ""], ["", sha("bob")]], 2, 0),  # blanks allowed
        (["EMAIL", "FN"], [["", ""]], 0, 1),  # nothing identifies the row
        (["EXTERN_ID", "EMAIL"], [["crm-1", ""], ["crm-2", "raw@x.com"]], 1, 1),
        (["EMAIL", "DATA_PROCESSING_OPTIONS"], [[sha("a@x.com"), []], [sha("b@x.com"), ["X"]]], 1, 1),
    ],
)
def test_rows_are_validated_one_by_one(schema: Any, data: list[Any], valid: int, invalid: int) -> None:
    batch = parse(schema, data)
    assert (len(batch.rows), batch.invalid, batch.received) == (valid, invalid, len(data))
    assert len(batch.samples) <= invalid


@pytest.mark.parametrize(
    ("value", "ok"),
    [(44.5, True), (0, True), (140, True), (-1, False), ("44.5", False), (True, False), (None, False)],
)
def test_lookalike_value_must_be_a_non_negative_number(value: Any, ok: bool) -> None:
    batch = parse(["EMAIL", "LOOKALIKE_VALUE"], [[sha("a@x.com"), value]])
    assert (len(batch.rows) == 1) is ok
    if ok:
        assert batch.rows[0].value == float(value)


@pytest.mark.parametrize(
    ("raw", "subcode", "fragment"),
    [
        ("{not json", 1713098, "valid JSON"),
        (json.dumps({"schema": "EMAIL", "data": ["x"]}), None, "Invalid schema"),
        (json.dumps({"schema": ["EMAIL", "SHOE_SIZE"], "data": [["x", "y"]]}), None, "SHOE_SIZE"),
        (json.dumps({"schema": ["EMAIL", "EMAIL"], "data": [["x", "y"]]}), None, "Duplicate"),
        (json.dumps({"schema": ["LOOKALIKE_VALUE"], "data": [[1]]}), None, "identifying"),
        (json.dumps({"schema": "EMAIL_SHA256", "data": []}), None, "non-empty"),
        (json.dumps({"schema": "UID", "data": ["123"]}), None, "app_ids"),
        (json.dumps(["EMAIL_SHA256"]), None, "JSON object"),
        (None, None, "required"),
    ],
)
def test_request_level_problems_fail_the_whole_call_with_100(
    raw: str | None, subcode: int | None, fragment: str
) -> None:
    with pytest.raises(GraphError) as caught:
        payload.parse_payload(raw)
    assert caught.value.code == 100
    assert caught.value.subcode == subcode
    assert fragment in caught.value.message


def test_ten_thousand_rows_pass_and_one_more_is_rejected() -> None:
    rows = [sha(f"u{i}@x.com") for i in range(payload.MAX_ROWS)]
    assert len(parse("EMAIL_SHA256", rows).rows) == 10_000
    with pytest.raises(GraphError) as caught:
        parse("EMAIL_SHA256", [*rows, sha("one-more@x.com")])
    assert caught.value.code == 100
    assert "10001" in caught.value.message


def test_invalid_entry_samples_are_capped_at_one_hundred() -> None:
    batch = parse("EMAIL_SHA256", [f"user{i}@x.com" for i in range(250)])
    assert batch.invalid == 250
    assert len(batch.samples) == 100
    assert "user0@x.com" in batch.samples


def test_hashes_are_normalised_to_lower_case_identifiers() -> None:
    digest = sha("a@x.com")
    single = parse("EMAIL_SHA256", [digest.upper()]).rows[0]
    multi = parse(["EMAIL", "PHONE"], [[digest, sha("1555")]]).rows[0]
    assert single.identifiers == (f"EMAIL:{digest}",)
    assert f"EMAIL:{digest}" in multi.identifiers
    assert multi.fields == {"EMAIL": digest, "PHONE": sha("1555")}


def test_demographic_only_rows_are_identified_by_their_combination() -> None:
    row = parse(["FN", "LN", "ZIP"], [[sha("ann"), sha("lee"), sha("10001")]]).rows[0]
    assert len(row.identifiers) == 1
    assert row.identifiers[0].startswith("COMBO:")


@pytest.mark.parametrize(
    ("schema", "value_based", "adding", "error"),
    [
        (["EMAIL", "LOOKALIKE_VALUE"], True, True, None),
        (["EMAIL"], True, True, "Missing Customer Value"),
        (["EMAIL"], True, False, None),  # removals need no value
        (["EMAIL", "LOOKALIKE_VALUE"], False, True, "Not a Value-Based Audience"),
        (["EMAIL"], False, True, None),
    ],
)
def test_value_column_matches_the_audience_kind(
    schema: list[str], value_based: bool, adding: bool, error: str | None
) -> None:
    row = [sha("a@x.com"), 1.0][: len(schema)]
    batch = parse(schema, [row])
    if error is None:
        payload.check_value_column(batch, value_based=value_based, adding=adding)
        return
    with pytest.raises(GraphError) as caught:
        payload.check_value_column(batch, value_based=value_based, adding=adding)
    assert (caught.value.code, caught.value.user_title) == (100, error)


def test_shapes_name_the_data_sources_meta_reports() -> None:
    assert parse("EMAIL_SHA256", [sha("a")]).shape == "HASHES_OR_USER_IDS"
    assert parse(["EMAIL"], [[sha("a")]]).shape == "MULTI_HASHES"
