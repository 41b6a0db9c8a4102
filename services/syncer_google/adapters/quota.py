"""One request budget per Google Cloud project (or developer token), shared in the database.

Google counts quota per project (Data Manager: 300 requests a minute, 100,000 a day) or per
developer token (Google Ads API operations a day), not per process: every list and every
syncer replica spends the same budget. Each call first takes one request from the budget with a
single conditional UPDATE, atomic on SQLite and PostgreSQL alike, so two replicas can never
both take the last request of a window. When the window is spent the caller waits for the next
one instead of sending a request Google would answer with RESOURCE_EXHAUSTED.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, case, select, update

from shared.store.db import Store
from shared.store.dialect import insert
from shared.store.models import ApiQuota

MINUTE = 60
DAY = 86_400


@dataclass(frozen=True)
class Budget:
    """The limits of one scope; 0 means no limit of that kind."""

    per_minute: int
    per_day: int


class QuotaExhausted(Exception):  # noqa: N818 - names the state, like Google's RESOURCE_EXHAUSTED
    """The budget stays spent for longer than the caller may wait."""

    def __init__(self, scope: str, wait: float) -> None:
        super().__init__(f"request budget {scope!r} spent; next request in {wait:.0f} s")
        self.wait = wait


class SharedQuota:
    """Takes requests from the budget of one scope; ``wall`` is epoch seconds (injectable)."""

    def __init__(
        self,
        store: Store,
        scope: str,
        budget: Budget,
        *,
        wall: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.store = store
        self.scope = scope
        self.budget = budget
        self.wall = wall
        self.sleep = sleep

    def try_take(self) -> float:
        """Take one request: 0.0 when granted, else the seconds until a window opens."""
        now = self.wall()
        minute, day = int(now // MINUTE), int(now // DAY)
        per_minute = self.budget.per_minute or 2**31 - 1
        per_day = self.budget.per_day or 2**31 - 1
        table = cast(Table, ApiQuota.__table__)
        with self.store.transaction() as session:
            session.execute(
                insert(session, table)
                .values(scope=self.scope, minute_start=minute, minute_used=0, day_start=day, day_used=0)
                .on_conflict_do_nothing(index_elements=["scope"])
            )
            taken = session.execute(
                update(table)
                .where(
                    table.c.scope == self.scope,
                    (table.c.minute_start != minute) | (table.c.minute_used < per_minute),
                    (table.c.day_start != day) | (table.c.day_used < per_day),
                )
                .values(
                    minute_used=case((table.c.minute_start == minute, table.c.minute_used + 1), else_=1),
                    minute_start=minute,
                    day_used=case((table.c.day_start == day, table.c.day_used + 1), else_=1),
                    day_start=day,
                )
            ).rowcount  # type: ignore[attr-defined]
            if taken:
                return 0.0
            row = session.execute(
                select(table.c.day_start, table.c.day_used).where(table.c.scope == self.scope)
            ).one()
        if row.day_start == day and row.day_used >= per_day:
            return (day + 1) * DAY - now
        return (minute + 1) * MINUTE - now

    def take(self, max_wait: float) -> float:
        """Take one request, waiting for the next window if needed; returns the seconds waited."""
        waited = 0.0
        while True:
            wait = self.try_take()
            if wait <= 0:
                return waited
            if waited + wait > max_wait:
                raise QuotaExhausted(self.scope, wait)
            self.sleep(wait)
            waited += wait
