"""Runs the benchmarks: ``python -m bench [name ...]`` (all when none are named)."""

from __future__ import annotations

import importlib
import pkgutil
import sys
import time

import bench
from bench._machine import describe


def main(argv: list[str]) -> int:
    """Run each named benchmark module's ``main()`` (all modules when none are named)."""
    names = argv or sorted(m.name for m in pkgutil.iter_modules(bench.__path__) if not m.name.startswith("_"))
    print(describe(), flush=True)
    for name in names:
        print(f"\n=== bench: {name} ===", flush=True)
        started = time.perf_counter()
        importlib.import_module(f"bench.{name}").main()
        print(f"=== {name}: {time.perf_counter() - started:.1f}s ===", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
