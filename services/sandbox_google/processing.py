"""Asynchronous work: Data Manager requests and Ads API jobs applied once their time has come.

Google processes both asynchronously (a request is PROCESSING, a job RUNNING, for minutes to
hours). The sandbox keeps accepted work in its store with a due time and applies it, in the order
it was accepted, the first time any call or read happens after that time: so results never
depend on a background thread, and a restarted sandbox (``--state``) finishes what it accepted.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import TYPE_CHECKING, Any

from services.sandbox_google import jobs
from services.sandbox_google.domain import datamanager as rules
from services.sandbox_google.domain.identifiers import Identifier
from services.sandbox_google.domain.lists import expired_before, match_range

if TYPE_CHECKING:
    from services.sandbox_google.service import GoogleSandbox


def settle(sandbox: GoogleSandbox) -> None:
    """Apply due requests and jobs, then drop members whose life span ran out."""
    store = sandbox.store
    now = sandbox.clock.now()
    with store.transaction():
        for request_id, kind, created_at, payload in store.due_requests(now):
            results = _apply_request(sandbox, kind, created_at, payload)
            done = {"destinations": payload["destinations"], "results": results, "data": payload.get("data")}
            store.finish_request(request_id, done)
        jobs.settle_jobs(sandbox, now)
        for user_list in store.user_lists():
            store.remove_added_before(user_list.id, expired_before(now, user_list.life_span_days))


def member_payload(m: rules.ParsedMember) -> dict[str, Any]:
    """A parsed member as stored in a pending request."""
    return {
        "k": m.key,
        "i": [i.text() for i in m.identifiers],
        "c": list(m.consent),
        "r": list(m.references),
        "m": m.malformed,
        "x": m.index,
    }


def _parsed(row: dict[str, Any]) -> rules.ParsedMember:
    idents = tuple(Identifier(*text.split(":", 1)) for text in row["i"])
    return rules.ParsedMember(
        row["x"], row["k"], idents, (row["c"][0], row["c"][1]), tuple(row["r"]), row["m"]
    )


def _apply_request(
    sandbox: GoogleSandbox, kind: str, created_at: float, payload: dict[str, Any]
) -> list[Any]:
    """Process one request for each destination; returns the per-destination results."""
    members = [_parsed(row) for row in payload.get("members", [])]
    results: list[dict[str, Any]] = []
    for dest in payload["destinations"]:
        list_id = int(dest["list_id"])
        exists = sandbox.store.user_list(list_id) is not None
        if kind == "remove_all":
            removed = sandbox.store.remove_added_before(list_id, payload["as_of"]) if exists else 0
            results.append({"status": "SUCCESS" if exists else "FAILED", "removed": removed, "errors": {}})
            continue
        mine = [m for m in members if rules.targets(m, dest["reference"])]
        if kind == "ingest":
            outcome = rules.process_ingest(mine)
            rows = []
            matched = 0
            for m in outcome.applied:
                hit = sandbox.matches(m.identifiers)
                matched += hit
                rows.append(
                    (
                        m.key,
                        json.dumps([i.text() for i in m.identifiers]),
                        m.consent[0],
                        m.consent[1],
                        created_at,
                        int(hit),
                    )
                )
            if exists:
                sandbox.store.upsert_members(list_id, rows)
            result = _result(outcome.status, outcome.errors, mine)
            result["match_range"] = match_range(matched, len(outcome.applied))
        else:
            outcome = rules.process_remove(mine)
            if exists:
                sandbox.store.remove_members(list_id, [m.key for m in outcome.applied])
            result = _result(outcome.status, outcome.errors, mine)
        if not exists:  # the list was deleted while the request waited
            result["status"] = "FAILED"
        results.append(result)
    return results


def _result(status: str, errors: Counter[str], members: list[rules.ParsedMember]) -> dict[str, Any]:
    """Counts a request status reports: records, identifiers, and identifiers by type."""
    types = Counter(i.kind for m in members for i in m.identifiers)
    return {
        "status": status,
        "errors": dict(errors),
        "records": len(members),
        "identifiers": sum(n for kind, n in types.items() if kind != "ip"),
        "types": dict(types),
    }
