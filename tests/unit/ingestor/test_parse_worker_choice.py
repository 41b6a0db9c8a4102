"""Whether the ingestor parses in a worker process: ``INGEST_PARSE_WORKER`` and the CPUs it may use."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from services.ingestor.adapters.parse_worker import INLINE, WORKER, chosen, usable_cpus
from shared.config import SettingsError


def test_a_container_cpu_limit_caps_the_usable_cpus(tmp_path: Path) -> None:
    affinity = len(os.sched_getaffinity(0))
    (tmp_path / "cpu.max").write_text("150000 100000\n")
    assert usable_cpus(tmp_path) == min(affinity, 1.5)
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert usable_cpus(tmp_path) == affinity
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("50000\n")
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert usable_cpus(tmp_path) == 0.5
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert usable_cpus(tmp_path) == affinity
    assert usable_cpus(tmp_path / "absent") == affinity


def test_the_setting_decides_and_auto_follows_the_cpus() -> None:
    assert chosen({"INGEST_PARSE_WORKER": "0"}) is INLINE
    assert chosen({"INGEST_PARSE_WORKER": "true"}) is WORKER
    assert chosen({}) is (WORKER if usable_cpus() >= 2 else INLINE)
    assert chosen({"INGEST_PARSE_WORKER": "AUTO"}) is chosen({})
    with pytest.raises(SettingsError, match="INGEST_PARSE_WORKER"):
        chosen({"INGEST_PARSE_WORKER": "sometimes"})
