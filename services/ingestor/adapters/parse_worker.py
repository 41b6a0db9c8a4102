"""The parse worker: one process beside the ingestor that parses and hashes the next
transaction's records while the ingestor writes this one.

Parsing, validating and hashing a generic import row cost about as much CPU as writing it, and
threads cannot share that work (the GIL), so one consumer used one of the machine's cores. The
worker is started on the first batch big enough to be worth it and lives as long as its
process; it exits when that process dies, even by SIGKILL (it watches its parent). A worker
that cannot be started or dies mid-batch costs nothing but speed: the batch is parsed inline.
"""

from __future__ import annotations

import multiprocessing
import os
import signal
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from multiprocessing.connection import wait
from pathlib import Path

from services.ingestor.domain import Rates
from services.ingestor.parsing import Parsed, parse_batch
from shared.config import Settings, env_bool
from shared.log import configure_logging, get_logger
from shared.messages import RawReceived
from shared.runtime import tune_gc_for_batches

log = get_logger(__name__)

MIN_RECORDS = 400  # fewer records are parsed inline: the hop costs more than it saves

Pending = Callable[[], Parsed]  # the parsed batch, waiting for it if need be


def _start_worker() -> None:
    """In the worker: log as the ingestor does (its environment is inherited), leave Ctrl-C to
    the ingestor (which stops it; no traceback of its own), and exit as soon as the process that
    started it is gone."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    tune_gc_for_batches()
    settings = Settings.from_env()
    configure_logging(fmt=settings.log_format, level=settings.log_level, service="ingestor")
    parent = multiprocessing.parent_process()
    if parent is None:
        return

    def watch() -> None:
        wait([parent.sentinel])
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


class ParseWorker:
    """Submits batches of at least ``min_records`` records to the one worker process (None:
    never, every batch is parsed inline); a batch it cannot take is parsed inline."""

    def __init__(self, min_records: int | None = MIN_RECORDS) -> None:
        self.min_records = min_records
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def submit(self, raws: Sequence[RawReceived | None], rates: Rates) -> Pending:
        """Start parsing ``raws``; call the result to get them parsed."""

        def inline() -> Parsed:
            return parse_batch(raws, rates)

        if self.min_records is None or sum(raw is not None for raw in raws) < self.min_records:
            return inline
        future = self._submitted(raws, rates)
        if future is None:
            return inline

        def result() -> Parsed:
            try:
                return future.result()
            except Exception as exc:  # the worker died or could not send it back
                self._lost(exc)
                return inline()

        return result

    def _submitted(self, raws: Sequence[RawReceived | None], rates: Rates) -> Future[Parsed] | None:
        """The batch handed to the worker, a new one if the last died; None: no worker to be had."""
        for _ in range(2):
            try:
                return self._started().submit(parse_batch, raws, rates)
            except Exception as exc:  # a broken or unstartable pool
                self._lost(exc)
        return None

    def _started(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                context = multiprocessing.get_context("spawn")  # no fork of a threaded process
                self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker)
            return self._pool

    def _lost(self, exc: BaseException) -> None:
        log.warning("parse_worker.lost", error=type(exc).__name__, detail=str(exc)[:200])
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)


WORKER = ParseWorker()  # one per process: every handler in it shares the worker
INLINE = ParseWorker(None)


def usable_cpus(cgroup: Path = Path("/sys/fs/cgroup")) -> float:
    """CPUs this process may use: its CPU affinity, capped by a cgroup CPU quota (a container's
    CPU limit, cgroup v2 ``cpu.max`` or v1 ``cpu.cfs_quota_us``)."""
    cpus = float(len(os.sched_getaffinity(0)))
    try:
        quota, period = (cgroup / "cpu.max").read_text().split()[:2]
    except (OSError, ValueError):
        try:
            quota = (cgroup / "cpu" / "cpu.cfs_quota_us").read_text().strip()
            period = (cgroup / "cpu" / "cpu.cfs_period_us").read_text().strip()
        except OSError:
            return cpus
    if quota in {"max", "-1"}:
        return cpus
    try:
        return min(cpus, int(quota) / int(period))
    except (ValueError, ZeroDivisionError):
        return cpus


def chosen(environ: Mapping[str, str]) -> ParseWorker:
    """``INGEST_PARSE_WORKER``: ``auto`` (default) uses the worker when the process may use two
    CPUs or more; on one the worker would only add the pickling (~30 % more CPU for the same
    records). ``1`` or ``0`` decide. Raises ``SettingsError`` for anything else."""
    if environ.get("INGEST_PARSE_WORKER", "auto").lower() in {"", "auto"}:
        return WORKER if usable_cpus() >= 2 else INLINE
    return WORKER if env_bool(environ, "INGEST_PARSE_WORKER", True) else INLINE
