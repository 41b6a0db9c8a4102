"""The shared request budget: every replica spends one budget, windows reset, waits are bounded."""

from __future__ import annotations

import threading

import pytest

from services.syncer_google.adapters.quota import Budget, QuotaExhausted, SharedQuota
from shared.store.db import Store

pytestmark = pytest.mark.integration


class Clock:
    def __init__(self, at: float) -> None:
        self.at = at
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.at

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.at += seconds


def test_two_replicas_share_one_minute_window(store: Store) -> None:
    clock = Clock(1_000_000 * 60 + 5.0)
    budget = Budget(per_minute=5, per_day=100)
    a = SharedQuota(store, "project-1", budget, wall=clock, sleep=clock.sleep)
    second = Store(store.url)  # another replica: its own engine and connections
    b = SharedQuota(second, "project-1", budget, wall=clock, sleep=clock.sleep)
    granted = [q.try_take() == 0.0 for q in (a, b, a, b, a, b, a)]
    assert granted == [True] * 5 + [False] * 2
    assert a.try_take() == pytest.approx(55.0)  # until the next minute
    clock.at += 55.0
    assert b.try_take() == 0.0
    other = SharedQuota(store, "project-2", budget, wall=clock)
    assert other.try_take() == 0.0  # another project has its own budget
    second.dispose()


def test_the_day_budget_waits_for_midnight_utc(store: Store) -> None:
    clock = Clock(20_000 * 86_400 + 86_000.0)  # 400 s before midnight
    quota = SharedQuota(store, "dev-token", Budget(per_minute=0, per_day=2), wall=clock, sleep=clock.sleep)
    assert quota.try_take() == 0.0 and quota.try_take() == 0.0
    assert quota.try_take() == pytest.approx(400.0)
    with pytest.raises(QuotaExhausted):
        quota.take(max_wait=60)
    assert quota.take(max_wait=600) == pytest.approx(400.0)


def test_concurrent_takers_never_exceed_the_window(store: Store) -> None:
    clock = Clock(3_000_000 * 60 + 1.0)
    budget = Budget(per_minute=20, per_day=0)
    results: list[float] = []
    lock = threading.Lock()

    def worker() -> None:
        replica = Store(store.url)
        quota = SharedQuota(replica, "shared", budget, wall=clock)
        for _ in range(10):
            got = quota.try_take()
            with lock:
                results.append(got)
        replica.dispose()

    threads = [threading.Thread(target=worker) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for r in results if r == 0.0) == 20
