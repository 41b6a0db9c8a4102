"""What a sync is asked to do and what it reports back (CLI, consumer, logs)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from shared.sync.diff import Changes
from shared.sync.ports import Readback
from shared.sync.runs import RunRecord
from shared.sync.status import RunStatus


@dataclass(frozen=True)
class SyncOptions:
    """How to sync: dry run, repair (a full replace), forced past guardrails, which customers."""

    dry_run: bool = False
    repair: bool = False
    force: bool = False
    scope: frozenset[str] | None = None  # customer keys of an incremental sync; None: everyone
    record_noop: bool = True  # record a run even when nothing changed (CLI), not for micro-batches


@dataclass
class RunReport:
    """What one destination's run did, for the CLI and the logs."""

    audience: str
    account: str
    status: RunStatus
    mode: str
    run: RunRecord | None = None
    resumed: bool = False
    plan: Changes | None = None
    platform_audience_id: str | None = None
    readback: Readback | None = None
    message: str | None = None
    feedback: dict[str, Any] = field(default_factory=dict)


def plan_counts(plan: Changes) -> dict[str, int]:
    """A plan as the JSON a dry run keeps on its run."""
    return {
        "desired": plan.desired,
        "synced": plan.synced,
        "new": plan.new,
        "updated": plan.updated,
        "refreshed": plan.refreshed,
        "deselected": plan.deselected,
        "erased": plan.erased,
    }
