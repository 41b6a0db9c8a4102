"""The command line: every documented command is there, and the scheduler keeps time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.cli.main import build_parser, main
from services.scheduler.schedule import next_slot


def test_version_prints_the_distribution_version(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["version"]) == 0
    assert capsys.readouterr().out.startswith("audiencesync 0.")


@pytest.mark.parametrize(
    "argv",
    [["broker"], ["db", "upgrade"], ["serve", "ingestor"], ["serve", "api", "--port", "1"], ["up"]],
)
def test_documented_commands_parse(argv: list[str]) -> None:
    assert callable(build_parser().parse_args(argv).func)


def test_unknown_service_is_refused() -> None:
    with pytest.raises(SystemExit):
        build_parser().parse_args(["serve", "nope"])


def test_nightly_refresh_is_the_next_two_am_utc() -> None:
    # The default REFRESH_CRON; services/scheduler has the cron and time-zone cases.
    assert next_slot("0 2 * * *", "UTC", datetime(2026, 1, 1, 1, 0, tzinfo=UTC)) == datetime(
        2026, 1, 1, 2, 0, tzinfo=UTC
    )
    assert next_slot("0 2 * * *", "UTC", datetime(2026, 1, 1, 2, 0, tzinfo=UTC)) == datetime(
        2026, 1, 2, 2, 0, tzinfo=UTC
    )
