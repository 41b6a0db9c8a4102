"""The REST API over HTTP (flask's test client) on SQLite and PostgreSQL: auth, problems, every endpoint."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import select

from shared.bus.envelope import decode
from shared.store.models import AuditEntry, Erasure, OutboxMessage, SyncRequest
from shared.store.sync_requests import RequestStatus, claim, finish
from tests.integration.api.conftest import Api, add_customer, add_run, make_api

pytestmark = pytest.mark.integration

# (method, path, scope it needs, JSON body)
ENDPOINTS: list[tuple[str, str, str, Any]] = [
    ("GET", "/syncs", "read", None),
    ("POST", "/syncs", "operate", {"audiences": ["icp_seed"]}),
    ("GET", "/syncs/1", "read", None),
    ("POST", "/syncs/1/cancel", "operate", None),
    ("GET", "/audiences", "read", None),
    ("GET", "/audiences/icp_seed", "read", None),
    ("PUT", "/audiences/icp_seed", "admin", {"select": {"label": "icp"}, "destinations": {"meta": {}}}),
    ("GET", "/audiences/icp_seed/health", "read", None),
    ("GET", "/audiences/icp_seed/quality", "read", None),
    ("GET", "/customers/abc", "read", None),
    ("POST", "/customers/abc/erase", "admin", None),
    ("GET", "/reports/icp", "read", None),
    ("GET", "/dead-letters", "read", None),
    ("POST", "/dead-letters/1/resolve", "operate", None),
    ("POST", "/dead-letters/1/replay", "operate", None),
    ("GET", "/audit", "admin", None),
    ("GET", "/metrics", "read", None),
]
LOWER = {"read": None, "operate": "read", "admin": "operate"}


def _problem(response: Any, status: int, code: str) -> dict[str, Any]:
    assert response.status_code == status, response.get_data(as_text=True)
    assert response.content_type == "application/problem+json"
    body: dict[str, Any] = response.get_json(force=True)
    assert body["status"] == status and body["code"] == code and body["title"] and body["type"]
    return body


@pytest.mark.parametrize(("method", "path", "scope", "body"), ENDPOINTS)
def test_every_endpoint_needs_a_token_and_its_scope(
    sqlite_api: Api, method: str, path: str, scope: str, body: Any
) -> None:
    _problem(sqlite_api.call(method, path, None, json=body), 401, "token_required")
    bad = {"Authorization": "Bearer as_not-a-token"}
    _problem(sqlite_api.client.open(path, method=method, headers=bad, json=body), 401, "invalid_token")
    lower = LOWER[scope]
    if lower:
        _problem(sqlite_api.call(method, path, lower, json=body), 403, "insufficient_scope")
    assert sqlite_api.call(method, path, scope, json=body).status_code not in (401, 403)


def test_probes_and_docs_need_no_token(sqlite_api: Api) -> None:
    for path in ("/health", "/healthz", "/openapi.json", "/docs"):
        assert sqlite_api.client.get(path).status_code == 200, path
    assert sqlite_api.client.get("/readyz").status_code == 503  # no readiness checker in this app
    spec = sqlite_api.client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.") and "/syncs/{sync_id}" in spec["paths"]


def test_unknown_routes_and_methods_are_problems(sqlite_api: Api) -> None:
    _problem(sqlite_api.call("GET", "/nowhere"), 404, "not_found")
    body = _problem(sqlite_api.call("DELETE", "/syncs"), 405, "method_not_allowed")
    assert "GET" in body["detail"] and "POST" in body["detail"]


def test_validation_errors_name_the_field(sqlite_api: Api) -> None:
    body = _problem(sqlite_api.call("POST", "/syncs", json={"mode": "sideways"}), 422, "validation_failed")
    assert [e["field"] for e in body["errors"]] == ["mode"] and "mode" in body["detail"]
    body = _problem(
        sqlite_api.call("POST", "/syncs", json={"audiences": ["no_such"]}), 422, "validation_failed"
    )
    assert body["errors"][0]["field"] == "audiences"
    body = _problem(sqlite_api.call("GET", "/syncs?limit=0"), 422, "validation_failed")
    assert body["errors"][0]["field"] == "limit"
    bad = {"select": {"label": "whale"}, "destinations": {"meta": {}}}
    body = _problem(sqlite_api.call("PUT", "/audiences/vip", json=bad), 422, "validation_failed")
    assert body["errors"][0]["field"] == "select.label"
    body = _problem(
        sqlite_api.call("PUT", "/audiences/vip", json={"destinations": {}}), 422, "validation_failed"
    )
    assert "select" in [e["field"] for e in body["errors"]]


def test_trigger_then_a_second_trigger_of_the_same_audience_is_409_naming_the_running_sync(api: Api) -> None:
    first = api.call("POST", "/syncs", "operate", json={"audiences": ["icp_seed"], "mode": "dry_run"})
    assert first.status_code == 202 and first.headers["Location"] == f"/syncs/{first.json['id']}"
    assert first.json["status"] == "queued" and first.json["destinations"] == ["meta", "google"]
    again = _problem(api.call("POST", "/syncs", "operate", json={}), 409, "already_syncing")
    assert again["running_id"] == first.json["id"]
    # Another audience is free to sync meanwhile.
    other = api.call("POST", "/syncs", "operate", json={"audiences": ["abandoned_checkout_retarget"]})
    assert other.status_code == 202 and other.json["destinations"] == ["meta"]


def test_concurrent_triggers_of_one_audience_start_exactly_one_sync(api: Api) -> None:
    barrier, answers = threading.Barrier(6), []

    def trigger() -> None:
        barrier.wait()
        answers.append(api.call("POST", "/syncs", "operate", json={"audiences": ["negative_icp_exclusion"]}))

    threads = [threading.Thread(target=trigger) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    codes = sorted(r.status_code for r in answers)
    assert codes == [202] + [409] * 5, [r.get_data(as_text=True) for r in answers]
    winner = next(r.json["id"] for r in answers if r.status_code == 202)
    assert {r.json["running_id"] for r in answers if r.status_code == 409} == {winner}


def test_a_sync_shows_its_runs_and_frees_the_audience_when_finished(api: Api) -> None:
    sync_id = api.call(
        "POST", "/syncs", "operate", json={"audiences": ["icp_seed"], "destinations": ["meta"]}
    ).json["id"]
    claimed = claim(api.store, "worker-1")
    assert claimed is not None and claimed["id"] == sync_id
    run_id = add_run(api.store, "icp_seed")
    finish(api.store, sync_id, RequestStatus.SUCCEEDED, run_ids=[run_id], results=[{"audience": "icp_seed"}])
    shown = api.call("GET", f"/syncs/{sync_id}", "read").json
    assert shown["status"] == "succeeded" and shown["started_at"] and shown["finished_at"]
    (run,) = shown["runs"]
    assert (run["run_id"], run["platform"], run["desired"], run["added"], run["removed"]) == (
        run_id,
        "meta",
        1200,
        1000,
        3,
    )
    assert (run["batches_done"], run["batches_total"], run["match_rate"], run["seconds"]) == (
        1,
        2,
        0.61,
        12.0,
    )
    assert run["error_samples"] == [{"customer_key": "k1", "reason": "bad phone"}]
    assert api.call("POST", "/syncs", "operate", json={"audiences": ["icp_seed"]}).status_code == 202
    _problem(api.call("POST", f"/syncs/{sync_id}/cancel", "operate"), 409, "already_finished")
    _problem(api.call("GET", "/syncs/999999", "read"), 404, "sync_not_found")


def test_cancel_ends_a_queued_sync_and_asks_a_running_one_to_stop(api: Api) -> None:
    queued = api.call("POST", "/syncs", "operate", json={"audiences": ["icp_seed"]}).json["id"]
    cancelled = api.call("POST", f"/syncs/{queued}/cancel", "operate").json
    assert cancelled["status"] == "cancelled" and cancelled["finished_at"]
    running = api.call("POST", "/syncs", "operate", json={"audiences": ["icp_seed"]}).json["id"]
    assert claim(api.store, "worker-1")["id"] == running  # type: ignore[index]
    asked = api.call("POST", f"/syncs/{running}/cancel", "operate").json
    assert asked["status"] == "running" and asked["cancel_requested_at"]


def test_sync_list_filters_and_pages(api: Api) -> None:
    ids = [
        api.call("POST", "/syncs", "operate", json={"audiences": [key]}).json["id"]
        for key in ("icp_seed", "abandoned_checkout_retarget", "negative_icp_exclusion")
    ]
    api.call("POST", f"/syncs/{ids[0]}/cancel", "operate")
    page = api.call("GET", "/syncs?limit=2", "read").json
    assert page["total"] == 3 and [s["id"] for s in page["items"]] == ids[:0:-1]
    assert [s["id"] for s in api.call("GET", "/syncs?limit=2&offset=2", "read").json["items"]] == [ids[0]]
    assert [s["id"] for s in api.call("GET", "/syncs?status=cancelled", "read").json["items"]] == [ids[0]]
    assert [
        s["id"] for s in api.call("GET", "/syncs?audience=negative_icp_exclusion", "read").json["items"]
    ] == [ids[2]]
    google = api.call("GET", "/syncs?destination=google", "read").json
    assert {s["id"] for s in google["items"]} == {ids[0], ids[2]} and google["total"] == 2
    assert api.call("GET", "/syncs?since=2999-01-01T00:00:00Z", "read").json["total"] == 0


def test_definitions_are_versioned_over_the_yaml_and_audited(api: Api) -> None:
    listed = {a["key"]: a for a in api.call("GET", "/audiences", "read").json["items"]}
    assert listed["icp_seed"]["origin"] == "config" and listed["icp_seed"]["version"] == 0
    doc = {"select": {"label": "icp", "min_value": 200}, "destinations": {"meta": {}}}
    assert api.call("PUT", "/audiences/icp_seed", json=doc).json["version"] == 1
    doc["select"]["min_value"] = 300
    stored = api.call("PUT", "/audiences/icp_seed", json=doc).json
    assert (stored["version"], stored["origin"], stored["destinations"]) == (2, "api", ["meta"])
    assert api.call("GET", "/audiences/icp_seed", "read").json["definition"]["select"]["min_value"] == 300
    new = api.call(
        "PUT",
        "/audiences/vip_repeaters",
        json={"select": {"stage": "repeat"}, "destinations": {"google": {}}},
    )
    assert new.status_code == 200 and new.json["destinations"] == ["google"]
    assert "vip_repeaters" in [a["key"] for a in api.call("GET", "/audiences", "read").json["items"]]
    _problem(api.call("GET", "/audiences/nope", "read"), 404, "audience_not_found")
    audit = api.call("GET", "/audit?action=audience.defined").json
    assert [(e["target"], e["details"]["version"]) for e in audit["items"]] == [
        ("audience:vip_repeaters", 1),
        ("audience:icp_seed", 2),
        ("audience:icp_seed", 1),
    ]


def test_health_per_destination_and_quality_per_country(api: Api) -> None:
    add_run(api.store, "icp_seed", "meta")
    add_run(api.store, "icp_seed", "google")
    health = api.call("GET", "/audiences/icp_seed/health", "read").json["destinations"]
    assert sorted(d["platform"] for d in health) == ["google", "meta"]
    google = next(d for d in health if d["platform"] == "google")
    assert google["desired"] == 1200 and google["synced"] == 0 and google["drift"] == 1200
    assert google["match_rate"] == 0.61 and google["days_to_membership_expiry"] == 540
    assert datetime.fromisoformat(google["last_run"]["finished_at"]).tzinfo is not None  # ISO, not RFC 822
    shared_email = "e" * 64
    add_customer(api.store, country="US", email_hash=shared_email)
    add_customer(api.store, country="US", email_hash=shared_email, fields=("EMAIL",), consent=False)
    add_customer(api.store, country="DE", fields=("PHONE",))
    add_customer(api.store, label="negative_icp", country="DE")
    quality = api.call("GET", "/audiences/icp_seed/quality", "read").json
    assert quality["customers"] == 3
    us, de = quality["countries"]
    assert (us["country"], us["customers"], us["valid_email"], us["valid_phone"]) == ("US", 2, 1.0, 0.5)
    assert (us["complete_address"], us["duplicates"], us["consent"]["meta"]) == (0.5, 1.0, 0.5)
    assert (de["country"], de["customers"], de["valid_email"], de["valid_phone"]) == ("DE", 1, 0.0, 1.0)


def test_customer_shows_hashed_identity_only(api: Api) -> None:
    key = add_customer(api.store)
    shown = api.call("GET", f"/customers/{key}", "read").json
    assert (shown["label"], shown["stage"], shown["predicted_value"]) == ("icp", "repeat", 250.5)
    assert shown["audiences"] == ["icp_seed"] and "meta.EMAIL" in shown["identifiers"]
    assert "value" not in str(shown["identifiers"])


def test_erasure_is_idempotent_announced_and_audited(api: Api) -> None:
    key = add_customer(api.store)
    first = api.call("POST", f"/customers/{key}/erase")
    assert first.status_code == 202 and first.json["status"] == "erased"
    again = api.call("POST", f"/customers/{key}/erase")
    assert again.status_code == 200 and again.json["status"] == "already_erased"
    _problem(api.call("GET", f"/customers/{key}", "read"), 404, "customer_not_found")
    _problem(api.call("POST", f"/customers/{'0' * 64}/erase"), 404, "customer_not_found")
    with api.store.session() as session:
        assert session.get(Erasure, key) is not None
        bodies = [
            decode(r.body) for r in session.scalars(select(OutboxMessage).where(OutboxMessage.key == key))
        ]
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.target == f"customer:{key}").order_by(AuditEntry.id)
        ).all()
    assert [(b.type, b.payload["erased"]) for b in bodies] == [("CustomerChanged", True)]
    assert actions == ["customer.erased", "customer.erase_repeated"]


def test_every_change_is_audited_with_who_and_what(api: Api) -> None:
    sync_id = api.call("POST", "/syncs", "operate", json={"audiences": ["icp_seed"]}).json["id"]
    api.call("POST", f"/syncs/{sync_id}/cancel", "operate")
    entries = api.call("GET", f"/audit?target=sync_request:{sync_id}").json["items"]
    assert [e["action"] for e in entries] == ["sync.cancelled", "sync.triggered"]
    assert {e["actor"] for e in entries} == {next(n for n in _names(api) if n.startswith("operate-"))}
    tokens = api.call("GET", "/audit?action=token.created").json
    assert tokens["total"] >= 3


def _names(api: Api) -> list[str]:
    with api.store.session() as session:
        return list(session.scalars(select(AuditEntry.target).where(AuditEntry.action == "token.created")))


def test_report_as_json_and_html(api: Api) -> None:
    add_customer(api.store)
    body = api.call("GET", "/reports/icp", "read").json
    assert body["customers"] >= 1 and {s["label"] for s in body["shares"]} >= {"icp"}
    html = api.call("GET", "/reports/icp?format=html", "read")
    assert html.content_type.startswith("text/html") and "<html" in html.get_data(as_text=True)


def test_rate_limit_answers_429_with_retry_after(store: Any) -> None:
    limited = make_api(store, api_rate_per_second=0.5, api_rate_burst=2)
    for _ in range(2):
        assert limited.call("GET", "/syncs", "read").status_code == 200
    body = _problem(limited.call("GET", "/syncs", "read"), 429, "rate_limited")
    answer = limited.call("GET", "/syncs", "read")
    assert int(answer.headers["Retry-After"]) >= 1 and body["retry_after"] >= 1
    assert limited.call("GET", "/syncs", "admin").status_code == 200  # another token, its own bucket


def test_sync_requests_rows_carry_the_modes_asked(api: Api) -> None:
    api.call("POST", "/syncs", "operate", json={"mode": "full", "destinations": ["google"]})
    with api.store.session() as session:
        (row,) = session.scalars(select(SyncRequest)).all()
    assert (row.mode, row.destinations, sorted(row.audiences)) == (
        "full",
        ["google"],
        ["icp_seed", "negative_icp_exclusion"],
    )
