"""Which services a pipeline heartbeat's replies prove are consuming."""

from __future__ import annotations

import pytest

from shared.bus.heartbeat import missing


def _reply(*services: str) -> dict[str, object]:
    return {
        "ping": "p",
        "hops": [{"service": s, "topic": "t", "at": "2026-01-01T00:00:00+00:00"} for s in services],
    }


@pytest.mark.parametrize(
    ("replies", "expected"),
    [
        ([], ["ingestor", "scorer", "syncer-google", "syncer-meta"]),
        ([_reply("ingestor", "scorer", "syncer-meta")], ["syncer-google"]),
        ([_reply("ingestor", "scorer", "syncer-google")], ["syncer-meta"]),
        ([_reply("ingestor", "scorer", "syncer-meta"), _reply("ingestor", "scorer", "syncer-google")], []),
        # a last hop that answered without the ping passing the scorer proves nothing about the scorer
        ([_reply("ingestor", "syncer-meta"), _reply("ingestor", "syncer-google")], ["scorer"]),
        # a forwarder that is not a last hop does not count as an answer
        ([_reply("ingestor", "scorer")], ["syncer-google", "syncer-meta"]),
        ([{"ping": "p", "hops": []}], ["ingestor", "scorer", "syncer-google", "syncer-meta"]),
    ],
)
def test_missing_names_every_service_the_replies_did_not_prove(
    replies: list[dict[str, object]], expected: list[str]
) -> None:
    assert missing(replies) == expected
