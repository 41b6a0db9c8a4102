"""Google Ads API rules as pure functions: Add request checks and the GAQL subset."""

from __future__ import annotations

import hashlib

import pytest

from services.sandbox_google.domain import gaql
from services.sandbox_google.domain.googleads import AdsIdentifier, OperationIn, check_add, size_range

HEX = hashlib.sha256(b"a@example.com").hexdigest()


def create(*idents: AdsIdentifier, consent: bool = False) -> OperationIn:
    return OperationIn("create", idents, has_consent=consent)


EMAIL = AdsIdentifier("email", HEX)


def names(errors: list) -> list[str]:  # type: ignore[type-arg]
    return [e.name for e in errors]


@pytest.mark.parametrize(
    ("ops", "job_kind", "job_has_ops", "reason"),
    [
        ([create(EMAIL), OperationIn("remove", (EMAIL,))], None, False, "CONFLICTING_OPERATION"),
        ([OperationIn("remove", (EMAIL,))], "create", True, "CONFLICTING_OPERATION"),
        ([create(EMAIL), OperationIn("remove_all")], None, False, "INVALID_OPERATION_ORDER"),
        ([OperationIn("remove_all")], "create", True, "INVALID_OPERATION_ORDER"),
        ([create(*(EMAIL,) * 20)] * 5_001, None, False, "TOO_MANY_USER_IDENTIFIERS"),
        ([], None, False, "REQUIRED_NONEMPTY_LIST"),
    ],
)
def test_request_level_rules(
    ops: list[OperationIn], job_kind: str | None, job_has_ops: bool, reason: str
) -> None:
    assert reason in names(check_add(ops, job_kind, job_has_ops, "CONTACT_INFO").request_errors)


def test_remove_all_then_creates_is_the_replace_pattern() -> None:
    checked = check_add([OperationIn("remove_all"), create(EMAIL)], None, False, "CONTACT_INFO")
    assert checked.request_errors == [] and checked.operation_errors == []
    assert [s.kind for s in checked.staged] == ["remove_all", "create"]


@pytest.mark.parametrize(
    ("op", "reason"),
    [
        (create(*(EMAIL,) * 21), "TOO_MANY_USER_IDENTIFIERS"),
        (create(), "MISSING_USER_IDENTIFIER"),
        (create(AdsIdentifier("email", "x" * 64)), "INVALID_SHA256_FORMAT"),
        (create(AdsIdentifier("phone", HEX[:-1])), "INVALID_SHA256_FORMAT"),
        (create(AdsIdentifier("mobile", "abc")), "INCOMPATIBLE_UPLOAD_KEY_TYPE"),
        (create(EMAIL, consent=True), "OPERATION_LEVEL_CONSENT_PROVIDED"),
        (create(AdsIdentifier("address", parts=(HEX, HEX, "USA", "94043"))), "INVALID_COUNTRY_CODE"),
    ],
)
def test_operation_level_rules(op: OperationIn, reason: str) -> None:
    checked = check_add([create(EMAIL), op], None, False, "CONTACT_INFO")
    assert checked.request_errors == []
    assert names(checked.operation_errors)[0] == reason
    assert checked.operation_errors[0].location[0] == ("operations", 1)
    assert [s.index for s in checked.staged] == [0]  # the good operation is kept for partial failure


def test_twenty_identifiers_and_100k_per_request_are_allowed() -> None:
    checked = check_add([create(*(EMAIL,) * 20)] * 5_000, None, False, "CONTACT_INFO")
    assert checked.request_errors == [] and checked.operation_errors == []


def test_uppercase_hex_is_the_same_member() -> None:
    checked = check_add([create(AdsIdentifier("email", HEX.upper()))], None, False, "CONTACT_INFO")
    assert checked.staged[0].key == f"email:{HEX}"


def test_size_ranges() -> None:
    assert size_range(0) == "LESS_THAN_FIVE_HUNDRED"
    assert size_range(999) == "LESS_THAN_ONE_THOUSAND"
    assert size_range(1_000) == "ONE_THOUSAND_TO_TEN_THOUSAND"
    assert size_range(60_000_000) == "OVER_FIFTY_MILLION"


def test_gaql_the_syncer_queries_parse() -> None:
    query = gaql.parse(
        "SELECT offline_user_data_job.resource_name, offline_user_data_job.status "
        "FROM offline_user_data_job "
        "WHERE offline_user_data_job.resource_name = 'customers/1/offlineUserDataJobs/2'"
    )
    assert query.resource == "offline_user_data_job"
    assert query.fields == ("resource_name", "status")
    assert query.filters == (("resource_name", ("customers/1/offlineUserDataJobs/2",)),)
    listed = gaql.parse(
        "select user_list.id from user_list where user_list.id IN (1, 2) and user_list.name = 'x' limit 5"
    )
    assert listed.filters == (("id", ("1", "2")), ("name", ("x",))) and listed.limit == 5
    latest = gaql.parse(
        "SELECT offline_user_data_job.id FROM offline_user_data_job "
        "WHERE offline_user_data_job.customer_match_user_list_metadata.user_list = 'customers/1/userLists/2' "
        "ORDER BY offline_user_data_job.id DESC LIMIT 1"
    )
    assert latest.order == (("id", True),) and latest.limit == 1


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("SELECT campaign.id FROM campaign", "BAD_RESOURCE_TYPE_IN_FROM_CLAUSE"),
        ("SELECT user_list.nope FROM user_list", "UNRECOGNIZED_FIELD"),
        ("SELECT campaign.id FROM user_list", "PROHIBITED_RESOURCE_TYPE_IN_SELECT_CLAUSE"),
        ("SELECT user_list.id FROM user_list WHERE user_list.size_for_display > 5", "BAD_OPERATOR"),
        (
            "SELECT user_list.id FROM user_list WHERE user_list.description = 'x'",
            "PROHIBITED_FIELD_IN_WHERE_CLAUSE",
        ),
        ("user_list.id FROM user_list", "EXPECTED_SELECT"),
        ("SELECT user_list.id FROM user_list ORDER BY user_list.id SIDEWAYS", "UNEXPECTED_INPUT"),
        (
            "SELECT user_list.id FROM user_list ORDER BY user_list.size_for_display",
            "PROHIBITED_FIELD_IN_ORDER_BY_CLAUSE",
        ),
        ("SELECT user_list.id FROM user_list GROUP BY user_list.id", "UNEXPECTED_INPUT"),
    ],
)
def test_gaql_outside_the_subset_is_refused(text: str, reason: str) -> None:
    with pytest.raises(gaql.QueryRefused) as refused:
        gaql.parse(text)
    assert refused.value.name == reason
