"""Alert signals from plain facts: one key per incident, thresholds from the settings."""

from __future__ import annotations

from collections.abc import Sequence

from services.scheduler.alerts import Destination, Facts, signals
from services.scheduler.config import AlertSettings

SETTINGS = AlertSettings(match_rate_drop=0.1, shrink_share=0.2, dead_letter_growth=10)


def _dest(
    runs: list[tuple[str, float | None, str | None]],
    sizes: Sequence[tuple[int | None, int | None]] = (),
    status: str = "active",
    n: int = 1,
) -> Destination:
    return Destination(n, "icp_seed", "meta", "act_1", status, runs, sizes)


def _keys(*destinations: Destination, letters: int = 0) -> list[str]:
    return sorted(s.key for s in signals(Facts(destinations, letters), SETTINGS))


def test_a_healthy_destination_raises_nothing() -> None:
    assert (
        _keys(_dest([("succeeded", 0.6, None), ("succeeded", 0.62, None)], [(200, 1000), (200, 1050)])) == []
    )


def test_a_failed_run_and_a_refused_token_are_separate_incidents() -> None:
    assert _keys(_dest([("unavailable", None, "503s")])) == ["run_failed:1"]
    assert _keys(_dest([("auth_error", None, None)]), _dest([("permission_error", None, None)], n=2)) == [
        "token:meta:act_1"  # one per account, however many audiences it holds
    ]
    assert _keys(_dest([("refused", None, "guardrail")]), _dest([("busy", None, None)], n=2)) == []


def test_match_rate_drop_and_shrinking_compare_with_the_past() -> None:
    assert _keys(_dest([("succeeded", 0.45, None), ("succeeded", 0.60, None)])) == ["match_drop:1"]
    assert _keys(_dest([("succeeded", 0.55, None), ("succeeded", 0.60, None)])) == []
    assert _keys(_dest([("succeeded", None, None)], [(200, 700), (200, 900), (200, 1000)])) == ["shrink:1"]
    assert _keys(_dest([("succeeded", None, None)], [(200, 850), (200, 1000)])) == []


def test_a_flagged_meta_audience_and_growing_dead_letters() -> None:
    assert _keys(_dest([("succeeded", None, None)], [(471, 1000)])) == ["flagged:1"]
    assert _keys(_dest([], status="flagged")) == ["flagged:1"]
    assert _keys(letters=9) == [] and _keys(letters=10) == ["dead_letters"]
