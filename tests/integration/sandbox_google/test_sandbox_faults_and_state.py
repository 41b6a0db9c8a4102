"""Fault injection through the loopback admin endpoint, --state persistence, the simulated match
rate, list life spans, and the ``audiencesync sandbox google`` command, through the official clients."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from google.ads import datamanager_v1 as dm
from google.ads.googleads.errors import GoogleAdsException
from google.api_core import exceptions
from google.protobuf import duration_pb2

from services.sandbox_google.server import RunningSandbox, run_google_sandbox

from .conftest import CUSTOMER, MANAGER, TOKEN, DataManager, config, create_list, dm_clients, member, sha
from .test_datamanager_ingestion import ingest, wait_done
from .test_googleads_customer_match import add, create_job, user_op
from .test_googleads_customer_match import create_list as create_crm_list

pytestmark = pytest.mark.integration


def admin(
    sandbox: RunningSandbox, path: str, body: dict[str, Any] | None = None, method: str = "POST"
) -> Any:
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(
        sandbox.admin_url + path, data=data, method=method if data is not None or method != "POST" else "GET"
    )
    request.add_header("Content-Type", "application/json")
    with urllib.request.urlopen(request, timeout=5) as response:
        return json.loads(response.read())


def test_transient_unavailable_then_recovery(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    admin(google_sandbox, "/faults", {"transient_error_rate": 1.0, "seed": 7})
    with pytest.raises(exceptions.ServiceUnavailable):
        create_list(datamanager)
    admin(google_sandbox, "/faults", {"transient_error_rate": 0.0})
    create_list(datamanager)
    counts = admin(google_sandbox, "/calls", method="GET")["counts"]
    assert counts == {"UserListService/CreateUserList": 2}


def test_expired_token_is_unauthenticated_on_both_apis(
    datamanager: DataManager, ads: Any, google_sandbox: RunningSandbox
) -> None:
    admin(google_sandbox, "/tokens/expire", {"token": TOKEN})
    with pytest.raises(exceptions.Unauthenticated) as dm_err:
        create_list(datamanager)
    assert dm_err.value.reason == "ACCESS_TOKEN_EXPIRED"
    with pytest.raises(GoogleAdsException) as ads_err:
        create_crm_list(ads)
    assert ads_err.value.failure.errors[0].error_code.authentication_error.name == "OAUTH_TOKEN_EXPIRED"


def test_injected_concurrent_modification_is_aborted_once(ads: Any, google_sandbox: RunningSandbox) -> None:
    job = create_job(ads, create_crm_list(ads))
    admin(google_sandbox, "/concurrent-modification", {"count": 1})
    with pytest.raises(GoogleAdsException) as err:
        add(ads, job, [user_op(ads, "a@example.com")])
    assert err.value.failure.errors[0].error_code.database_error.name == "CONCURRENT_MODIFICATION"
    add(ads, job, [user_op(ads, "a@example.com")])  # the retry succeeds


def test_quota_window_on_data_manager_names_the_limit(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    admin(google_sandbox, "/quota-window", {"seconds": 30, "scope": "datamanager"})
    with pytest.raises(exceptions.ResourceExhausted) as err:
        datamanager.ingestion.retrieve_request_status(request={"request_id": "x"}, retry=None)
    assert err.value.metadata["quota_limit"] == "IngestionReadRequestsPerMinutePerProject"
    admin(google_sandbox, "/quota-window", method="DELETE")
    with pytest.raises(exceptions.InvalidArgument):
        datamanager.ingestion.retrieve_request_status(request={"request_id": "x"}, retry=None)


def test_latency_is_added(datamanager: DataManager, google_sandbox: RunningSandbox) -> None:
    admin(google_sandbox, "/faults", {"latency_ms": 200})
    started = time.monotonic()
    create_list(datamanager)
    assert time.monotonic() - started >= 0.2


def test_state_file_keeps_lists_members_and_pending_requests(tmp_path: Path) -> None:
    state = tmp_path / "google.sqlite"
    with run_google_sandbox(replace(config(), state_path=state, processing_seconds=0.3)) as first:
        clients = dm_clients(first)
        created = create_list(clients)
        ingest(clients, created.id, [member("kept@example.com")])  # stopped before it is processed
        clients.close()
    time.sleep(0.3)
    with run_google_sandbox(replace(config(), state_path=state)) as second:
        assert list(second.state.members(created.id)) == [f"email:{sha('kept@example.com')}"]
        clients = dm_clients(second)
        try:
            got = clients.user_lists.get_user_list(
                name=created.name, metadata=clients.list_metadata(), retry=None
            )
        finally:
            clients.close()
        assert got.size_info.display_network_members_count == 1


def test_simulated_match_rate_shows_in_sizes_and_status() -> None:
    with run_google_sandbox(replace(config(), match_rate=0.5)) as sandbox:
        clients = dm_clients(sandbox)
        try:
            created = create_list(clients)
            request_id = ingest(clients, created.id, [member(f"p{i}@example.com") for i in range(400)])
            entry = wait_done(clients, request_id).request_status_per_destination[0]
            got = clients.user_lists.get_user_list(
                name=created.name, metadata=clients.list_metadata(), retry=None
            )
        finally:
            clients.close()
        size = sandbox.state.size(created.id)
    assert size.uploaded == 400 and 150 < size.matched < 250
    assert got.ingested_user_list_info.contact_id_info.match_rate_percentage == size.match_rate_percentage
    rate = entry.audience_members_ingestion_status.user_data_ingestion_status.upload_match_rate_range
    assert rate.name in ("MATCH_RATE_RANGE_41_TO_50", "MATCH_RATE_RANGE_51_TO_60")


def test_members_leave_when_the_life_span_runs_out(
    datamanager: DataManager, google_sandbox: RunningSandbox
) -> None:
    created = datamanager.user_lists.create_user_list(
        request=dm.CreateUserListRequest(
            parent=f"accountTypes/GOOGLE_ADS/accounts/{CUSTOMER}",
            user_list=dm.UserList(
                display_name="short",
                membership_duration=duration_pb2.Duration(seconds=86400),
                ingested_user_list_info=dm.IngestedUserListInfo(upload_key_types=["CONTACT_ID"]),
            ),
        ),
        metadata=datamanager.list_metadata(),
        retry=None,
    )
    wait_done(datamanager, ingest(datamanager, created.id, [member("a@example.com")]))
    assert len(google_sandbox.state.members(created.id)) == 1
    google_sandbox.clock.advance(86400 + 1)
    assert google_sandbox.state.members(created.id) == {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_command_writes_ca_before_listening_and_serves_both_apis(tmp_path: Path) -> None:
    port = _free_port()
    cert_dir = tmp_path / "certs"
    command = [sys.executable, "-m", "services.cli.main", "sandbox", "google", "--port", str(port),
               "--cert-dir", str(cert_dir), "--access-token", "TOK", "--developer-token", "DEV",
               "--allowlisted-developer-token", "DEV2", "--customer", CUSTOMER, "--login-customer", MANAGER,
               "--processing-seconds", "0.1"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True) as proc:
        try:
            line = proc.stdout.readline() if proc.stdout else ""
            assert f"listening on localhost:{port}" in line, line
            endpoint = type(
                "Endpoint", (), {"endpoint": f"localhost:{port}", "ca_pem_path": cert_dir / "ca.pem"}
            )
            clients = dm_clients(endpoint, token="TOK")  # type: ignore[arg-type]
            try:
                created = create_list(clients)
            finally:
                clients.close()
            assert created.id > 0
        finally:
            proc.send_signal(signal.SIGTERM)
            assert proc.wait(timeout=10) == 0


def test_command_names_a_bad_flag() -> None:
    command = [sys.executable, "-m", "services.cli.main", "sandbox", "google", "--port", "1",
               "--cert-dir", "/tmp/x", "--access-token", "T", "--customer", "123"]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, timeout=30, check=False)
    assert done.returncode == 2
    assert "--customer" in done.stderr


def test_admin_reads_lists_members_and_jobs_without_counting_calls(
    datamanager: DataManager, ads: Any, google_sandbox: RunningSandbox
) -> None:
    created = create_list(datamanager)
    wait_done(datamanager, ingest(datamanager, created.id, [member("a@example.com")]))
    create_job(ads, f"customers/{CUSTOMER}/userLists/{created.id}")
    before = len(google_sandbox.calls)
    lists = admin(google_sandbox, "/lists", method="GET")["lists"]
    assert [(row["id"], row["members"], row["matched"]) for row in lists] == [(created.id, 1, 1)]
    members = admin(google_sandbox, f"/lists/{created.id}/members", method="GET")["members"]
    assert [(m["key"], m["ad_user_data"]) for m in members] == [
        (f"email:{sha('a@example.com')}", "CONSENT_GRANTED")
    ]
    assert [j["status"] for j in admin(google_sandbox, "/jobs", method="GET")["jobs"]] == ["PENDING"]
    assert len(google_sandbox.calls) == before
