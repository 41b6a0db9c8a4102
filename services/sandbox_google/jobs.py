"""Ads API offline user data jobs finishing: RUNNING jobs whose time has come are applied.

Order inside a job follows Google's documentation: ``remove_all`` first, then the creates (or the
removes). Members take the job's consent and the time the job ran as their "last added" time.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

from services.sandbox_google.domain.identifiers import Identifier
from services.sandbox_google.domain.lists import match_range
from services.sandbox_google.store import JobRow

if TYPE_CHECKING:
    from services.sandbox_google.service import GoogleSandbox


def settle_jobs(sandbox: GoogleSandbox, now: float) -> None:
    """Finish RUNNING jobs whose time has come (caller holds the store transaction)."""
    store = sandbox.store
    for job in store.jobs():
        if job.status != "RUNNING" or job.done_at is None or job.done_at > now:
            continue
        record = store.user_list(job.list_id)
        if record is None:  # the list was removed while the job ran
            store.save_job(JobRow(**{**job.__dict__, "status": "FAILED"}))
            continue
        if job.remove_all:
            store.remove_added_before(job.list_id, float("inf"))
        ops = store.job_ops(job.id)
        creates = [(key, idents) for kind, key, idents in ops if kind == "create"]
        removes = [key for kind, key, _ in ops if kind == "remove"]
        matched = 0
        rows = []
        for key, idents in creates:
            texts = json.loads(idents)
            hit = sandbox.matches(tuple(Identifier(*t.split(":", 1)) for t in texts))
            matched += hit
            rows.append(
                (
                    key,
                    idents,
                    dm_consent(job.ad_user_data),
                    dm_consent(job.ad_personalization),
                    job.run_at or now,
                    int(hit),
                )
            )
        store.upsert_members(job.list_id, rows)
        store.remove_members(job.list_id, removes)
        store.drop_job_ops(job.id)
        store.save_job(
            JobRow(**{**job.__dict__, "status": "SUCCESS", "match_range": match_range(matched, len(creates))})
        )


def dm_consent(value: str) -> str:
    """Members store consent in one vocabulary (the Data Manager names) whichever API set it."""
    return {"GRANTED": "CONSENT_GRANTED", "DENIED": "CONSENT_DENIED"}.get(value, "CONSENT_STATUS_UNSPECIFIED")
