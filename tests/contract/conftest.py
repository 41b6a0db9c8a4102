"""The contract suite's platforms: every case in test_contract.py runs once per entry of PLATFORMS.

To add a platform (the Google Data Manager and Google Ads adapters):

1. write a harness class in ``tests/contract/platforms.py`` implementing ``Harness`` (build the
   real engine with ``shared.sync.wiring.assemble`` or the service's own ``build_service``,
   pointed at the Google sandbox; ``held`` lists the hashed emails the sandbox's list holds;
   ``uploads`` counts accepted ingest/add requests; ``break_credentials`` makes the sandbox
   refuse the token, ``repair_credentials`` switches to a valid one);
2. register a context manager that starts its sandbox in ``HARNESSES`` (``"google-dm"``,
   ``"google-ads"``);
3. add ``pytest.param("google-dm", marks=pytest.mark.integration)`` (and ``"google-ads"``) below.

Nothing in the cases changes: a platform that passes them honours the engine's contract.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.platforms import HARNESSES, Harness

PLATFORMS = [
    pytest.param("fake", id="fake"),
    pytest.param("meta", id="meta-sandbox", marks=pytest.mark.integration),
    pytest.param("google-dm", id="google-dm-sandbox", marks=pytest.mark.integration),
    pytest.param("google-ads", id="google-ads-sandbox", marks=pytest.mark.integration),
]


@pytest.fixture(params=PLATFORMS)
def harness(request: pytest.FixtureRequest) -> Iterator[Harness]:
    """One platform under test, fresh for each case."""
    with HARNESSES[request.param]() as running:
        yield running
