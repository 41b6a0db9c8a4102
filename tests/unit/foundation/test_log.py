"""The PII guard keeps raw emails and phone numbers out of log lines."""

from __future__ import annotations

import json

import pytest

from shared.log import configure_logging, get_logger, redact

HASH = "a" * 64


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("customer jane.doe+x@example.co.uk failed", "customer [redacted-email] failed"),
        ("call +1 (415) 555-2671 now", "call [redacted-phone] now"),
        ("tel 020 7946 0958", "tel [redacted-phone]"),
        ("+4915123456789", "[redacted-phone]"),
        (f"hash {HASH}", f"hash {HASH}"),
        ("at 2026-11-22T20:18:45.665045Z", "at 2026-11-22T20:18:45.665045Z"),
        ("offset 12345 partition 3", "offset 12345 partition 3"),
        ("order 1234567890123456789012", "order 1234567890123456789012"),
    ],
)
def test_redact_replaces_contact_data_and_keeps_hashes_and_ids(text: str, expected: str) -> None:
    assert redact(text) == expected


def test_json_log_lines_carry_no_raw_email_or_phone(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging(fmt="json", level="INFO")
    get_logger("t").info("rejected", email="bob@example.com", detail={"phone": "+44 20 7946 0958"})
    line = json.loads(capsys.readouterr().err.strip().splitlines()[-1])
    assert line["email"] == "[redacted-email]"
    assert line["detail"]["phone"] == "[redacted-phone]"
    assert "example.com" not in json.dumps(line)


def test_stdlib_loggers_are_guarded_too(capsys: pytest.CaptureFixture[str]) -> None:
    import logging

    configure_logging(fmt="json", level="INFO")
    logging.getLogger("facebook_business").warning("bad row for alice@example.org")
    assert "alice@example.org" not in capsys.readouterr().err


def test_an_ad_account_id_stays_readable_but_the_same_digits_elsewhere_do_not() -> None:
    from shared.log import pii_guard

    event = pii_guard(
        None, "info", {"account": "1234567890", "note": "call 1234567890", "account_id": "+14155550100"}
    )
    assert event["account"] == "1234567890"  # a Google Ads customer id from configuration
    assert event["note"] == "call [redacted-phone]"
    assert event["account_id"] == "[redacted-phone]"  # not all digits: the guard still applies
