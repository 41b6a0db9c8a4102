"""A small time-to-live cache for answers that many clients poll (sync status, audience health).

Dashboards and scripts poll ``GET /syncs/{id}`` and ``/audiences/{key}/health`` every second or
so; the answer changes only when a batch or a run is recorded. Keeping each answer for ``ttl``
seconds (1 by default) turns hundreds of identical requests a second into one set of queries,
at the price of an answer up to ``ttl`` old. Entries are per process and bounded in number.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any


class TtlCache:
    """``get(key, compute)``: the cached value while younger than ``ttl``, else ``compute()``'s."""

    def __init__(self, ttl: float, *, size: int = 4096, clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl, self.size, self.clock = ttl, size, clock
        self._items: OrderedDict[Hashable, tuple[float, Any]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        """The value for ``key``; computed outside the lock (two racing misses both compute)."""
        now = self.clock()
        with self._lock:
            found = self._items.get(key)
            if found is not None and now - found[0] < self.ttl:
                return found[1]
        value = compute()
        with self._lock:
            self._items[key] = (now, value)
            self._items.move_to_end(key)
            while len(self._items) > self.size:
                self._items.popitem(last=False)
        return value

    def clear(self) -> None:
        """Forget everything (after a change this process made itself)."""
        with self._lock:
            self._items.clear()
