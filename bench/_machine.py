"""The machine a benchmark ran on, with two fixed reference workloads timed on one core.

The same code measured 56-58 s and 93 s for the full rescore on two machines of the same kind
(two cores, a day apart): a figure means little without the machine's own speed beside it.
The references are fixed work, so their times compare machines (and moments: a busy neighbour
shows up here too); divide a benchmark's figure by the reference ratio to compare across runs.
"""

from __future__ import annotations

import os
import platform
import sqlite3
import time

REFERENCE_ADDITIONS = 10_000_000
REFERENCE_ROWS = 1_000_000


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            for line in handle:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _python_loop() -> float:
    started = time.perf_counter()
    total = 0
    for i in range(REFERENCE_ADDITIONS):
        total += i
    if total != REFERENCE_ADDITIONS * (REFERENCE_ADDITIONS - 1) // 2:
        raise RuntimeError("the reference loop added up wrong")
    return time.perf_counter() - started


def _sqlite_group_by() -> float:
    """Roughly what the rescore's orders pass does per row: sort by key, then aggregate."""
    db = sqlite3.connect(":memory:")
    try:
        started = time.perf_counter()
        db.execute(
            "CREATE TABLE t AS WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n "
            "WHERE i < ?) SELECT (i * 7919) % 200000 AS k, i * 0.25 AS v FROM n",
            (REFERENCE_ROWS - 1,),
        )
        db.execute("SELECT k, COUNT(*), SUM(v), MAX(v) FROM t GROUP BY k").fetchall()
        return time.perf_counter() - started
    finally:
        db.close()


def describe() -> str:
    """One line: CPU model, the CPUs this process may use, load, and the reference times."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    load = "{:.1f} {:.1f} {:.1f}".format(*os.getloadavg())
    return (
        f"machine: {_cpu_model()}, {usable} CPUs usable, load {load}; reference (one core): "
        f"{REFERENCE_ADDITIONS // 1_000_000} M Python additions {_python_loop():.2f} s, "
        f"SQLite {REFERENCE_ROWS // 1_000_000} M rows generated, sorted and grouped "
        f"{_sqlite_group_by():.2f} s"
    )
