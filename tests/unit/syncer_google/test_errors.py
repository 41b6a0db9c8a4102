"""Google failures classified by status and reason, with advice an operator can act on."""

from __future__ import annotations

import pytest

from services.syncer_google.domain.errors import GoogleFailure, GoogleKind, operator_message


@pytest.mark.parametrize(
    ("code", "reasons", "kind"),
    [
        ("UNAVAILABLE", (), GoogleKind.TRANSIENT),
        ("DEADLINE_EXCEEDED", (), GoogleKind.TRANSIENT),
        ("INTERNAL", ("internal_error:TRANSIENT_ERROR",), GoogleKind.TRANSIENT),
        ("RESOURCE_EXHAUSTED", ("RESOURCE_EXHAUSTED",), GoogleKind.THROTTLED),
        ("RESOURCE_EXHAUSTED", ("quota_error:RESOURCE_TEMPORARILY_EXHAUSTED",), GoogleKind.THROTTLED),
        ("ABORTED", ("database_error:CONCURRENT_MODIFICATION",), GoogleKind.BUSY),
        ("UNAUTHENTICATED", ("authentication_error:OAUTH_TOKEN_EXPIRED",), GoogleKind.AUTH),
        ("UNAUTHENTICATED", (), GoogleKind.AUTH),
        (
            "PERMISSION_DENIED",
            ("not_allowlisted_error:CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",),
            GoogleKind.NOT_ALLOWLISTED,
        ),
        ("PERMISSION_DENIED", ("authorization_error:USER_PERMISSION_DENIED",), GoogleKind.PERMISSION),
        (
            "INVALID_ARGUMENT",
            ("offline_user_data_job_error:CUSTOMER_NOT_ACCEPTED_CUSTOMER_DATA_TERMS",),
            GoogleKind.PERMISSION,
        ),
        ("INVALID_ARGUMENT", ("database_error:REQUEST_TOO_LARGE",), GoogleKind.TOO_LARGE),
        ("INVALID_ARGUMENT", ("offline_user_data_job_error:INVALID_SHA256_FORMAT",), GoogleKind.REJECTED),
        ("NOT_FOUND", (), GoogleKind.REJECTED),
    ],
)
def test_classification(code: str, reasons: tuple[str, ...], kind: GoogleKind) -> None:
    assert GoogleFailure(code, reasons).kind is kind


def test_not_allowlisted_advice_names_the_data_manager_switch() -> None:
    failure = GoogleFailure(
        "PERMISSION_DENIED", ("not_allowlisted_error:CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE",)
    )
    message = operator_message(failure, api="google_ads", account="1234567890")
    assert "api: datamanager" in message
