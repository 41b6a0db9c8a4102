"""Carries out sync requests (from the API and the refresh) through each platform's sync command.

A request is claimed in the database (``shared.store.sync_requests.claim``), then each of its
audiences is synced to each of its platforms by running ``audiencesync sync <platform> --audience
KEY --json`` (``--dry-run`` for mode ``dry_run``, ``--repair`` for ``full``; ``delta`` compares the
audience with the ledger and sends only the differences). The command is the syncers' stable
interface: the worker never imports a syncer, so a platform whose command does not exist yet
(Google, until its syncer lands) is reported as unavailable and the others still run.

While a command runs the worker beats every ``BEAT`` seconds; a cancel asked through the API is
seen at the next beat and the command is stopped with SIGTERM (its batches are recorded one by
one, so the next sync resumes where it stopped). A worker told to stop (the scheduler's SIGTERM)
stops its command the same way and puts the request back in the queue for any worker; one that
dies leaves a request whose beat goes stale, and another worker claims it again.
"""

from __future__ import annotations

import json
import os
import re
import socket
import sys
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from services.scheduler.child import STOPPED, run_beating
from shared.config import Settings
from shared.definitions.stored import write_effective
from shared.log import get_logger
from shared.store import sync_requests
from shared.store.db import Store
from shared.store.sync_requests import RequestStatus

log = get_logger(__name__)

FINE = frozenset({"succeeded", "dry_run"})
UNAVAILABLE = "unavailable"
MODE_FLAGS: dict[str, list[str]] = {"delta": [], "full": ["--repair"], "dry_run": ["--dry-run"]}


@dataclass
class Outcome:
    """What the commands of one request did."""

    run_ids: list[int] = field(default_factory=list)
    results: list[dict[str, Any]] = field(default_factory=list)
    cancelled: bool = False
    stopped: bool = False  # the worker itself was told to stop: the request goes back to the queue

    @property
    def status(self) -> RequestStatus:
        if self.cancelled:
            return RequestStatus.CANCELLED
        # A platform with no syncer in this installation is listed, but fails nothing on its own.
        ran = [r for r in self.results if r["status"] != UNAVAILABLE]
        ok = bool(ran) and all(r["status"] in FINE for r in ran)
        return RequestStatus.SUCCEEDED if ok else RequestStatus.FAILED


def command(platform: str, audience: str, mode: str) -> list[str]:
    """The sync command for one audience on one platform."""
    base = [sys.executable, "-m", "services.cli.main", "sync", platform, "--audience", audience, "--json"]
    return [*base, *MODE_FLAGS[mode]]


def parse_runs(stdout: str) -> list[dict[str, Any]]:
    """The JSON objects a ``sync ... --json`` command printed, one per line (others ignored)."""
    runs = []
    for line in stdout.splitlines():
        line = line.strip()
        if line.startswith("{"):
            try:
                runs.append(json.loads(line))
            except json.JSONDecodeError:
                continue
    return runs


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1][:500] if lines else ""


class Worker:
    """Claims and runs sync requests; ``step()`` runs at most one."""

    def __init__(
        self,
        settings: Settings,
        store: Store,
        *,
        name: str | None = None,
        run: Callable[[list[str], Callable[[], bool]], tuple[int, str, str]] | None = None,
        stop: threading.Event | None = None,
    ) -> None:
        self.settings, self.store = settings, store
        self.stop = stop or threading.Event()
        self.name = name or f"{socket.gethostname()}:{os.getpid()}"
        self._run = run or self._subprocess

    def step(self) -> int | None:
        """Claim one request and carry it out; its id, or None when none was waiting."""
        request = sync_requests.claim(self.store, self.name)
        if request is None:
            return None
        self.carry_out(request)
        return int(request["id"])

    def carry_out(
        self, request: dict[str, Any], on_slot: Callable[[str, str], None] | None = None
    ) -> Outcome:
        """Run every slot of a claimed request and record how it ended."""
        outcome = Outcome()
        request_id = int(request["id"])
        log.info(
            "sync_request.started",
            request=request_id,
            mode=request["mode"],
            audiences=request["audiences"],
            platforms=request["destinations"],
        )
        for audience in request["audiences"]:
            for platform in request["destinations"]:
                if outcome.cancelled or outcome.stopped:
                    break
                if on_slot:
                    on_slot(audience, platform)
                self._slot(request_id, audience, platform, request["mode"], outcome)
        if outcome.stopped:
            # Delta syncs are idempotent: whoever claims it next runs every slot again, the ones
            # this worker finished with nothing left to send.
            sync_requests.release(self.store, request_id, self.name)
            log.info("sync_request.released", request=request_id, reason="worker stopping")
            return outcome
        sync_requests.finish(
            self.store,
            request_id,
            outcome.status,
            run_ids=outcome.run_ids,
            results=outcome.results,
            message="cancelled through the API" if outcome.cancelled else None,
        )
        log.info("sync_request.finished", request=request_id, status=outcome.status.value)
        return outcome

    def _slot(self, request_id: int, audience: str, platform: str, mode: str, outcome: Outcome) -> None:
        def go_on() -> bool:
            wanted = sync_requests.heartbeat(self.store, request_id, self.name, outcome.run_ids)
            return wanted and not self.stop.is_set()

        code, stdout, stderr = self._run(command(platform, audience, mode), go_on)
        if self.stop.is_set() and (code == STOPPED or code != 0):
            outcome.stopped = True
            return
        if code < 0 or (code != 0 and not go_on()):
            outcome.cancelled = True
            outcome.results.append({"audience": audience, "platform": platform, "status": "cancelled"})
            return
        if code == 2 and "invalid choice" in stderr:
            # This installation has no syncer for the platform yet: say so, run the others.
            message = f"no `audiencesync sync {platform}` in this installation"
            outcome.results.append(
                {"audience": audience, "platform": platform, "status": UNAVAILABLE, "message": message}
            )
            return
        runs = parse_runs(stdout)
        for run in runs:
            if run.get("run_id") is not None:
                outcome.run_ids.append(int(run["run_id"]))
            outcome.results.append(
                {
                    "audience": audience,
                    "platform": platform,
                    "account": run.get("account"),
                    "status": run.get("status"),
                    "run_id": run.get("run_id"),
                    "message": run.get("message"),
                }
            )
        if not runs:
            message = _last_line(stderr) or f"exit code {code}"
            outcome.results.append(
                {"audience": audience, "platform": platform, "status": "error", "message": message}
            )

    def _definitions_file(self) -> Path:
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", self.name)
        out = self.settings.var_dir / "run" / f"definitions-{safe}.yaml"
        return write_effective(self.store, self.settings.config_file, out)

    def _subprocess(self, argv: list[str], go_on: Callable[[], bool]) -> tuple[int, str, str]:
        """Run ``argv`` with this worker's settings and the definitions in force, beating."""
        env = self.settings.child_environ()
        # The definitions in force, API versions included, as the file the command reads (and
        # only while it runs: a file per worker name would otherwise pile up in var/run).
        definitions = self._definitions_file()
        env["AUDIENCESYNC_CONFIG"] = str(definitions)
        try:
            return run_beating(argv, env, go_on)
        finally:
            definitions.unlink(missing_ok=True)


def run_pending(worker: Worker, *, limit: int = 100) -> Sequence[int]:
    """Carry out waiting requests until none is left (or ``limit``); their ids."""
    done: list[int] = []
    while len(done) < limit and (request_id := worker.step()) is not None:
        done.append(request_id)
    return done
