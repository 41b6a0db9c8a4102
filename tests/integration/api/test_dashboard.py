"""The dashboard over HTTP: login with a token, session cookie, CSRF, logout, pages for a read token."""

from __future__ import annotations

import re
import uuid

import pytest

from services.api.auth import create_token, revoke_token
from services.api.dashboard.session import COOKIE
from tests.integration.api.conftest import Api, add_customer, add_run

pytestmark = pytest.mark.integration


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, "the page has no CSRF field"
    return found.group(1)


def _login(api: Api, token: str, next_path: str = "/") -> object:
    page = api.client.get("/dashboard/login")
    return api.client.post(
        "/dashboard/login",
        data={"token": token, "csrf": _csrf(page.get_data(as_text=True)), "next": next_path},
    )


def test_unauthenticated_root_redirects_to_login(api: Api) -> None:
    answer = api.client.get("/")
    assert answer.status_code == 302
    assert answer.headers["Location"].startswith("/dashboard/login")
    page = api.client.get(answer.headers["Location"])
    assert page.status_code == 200 and 'name="token"' in page.get_data(as_text=True)


def test_bearer_header_alone_does_not_open_the_dashboard(api: Api) -> None:
    answer = api.client.get("/", headers=api.headers("admin"))
    assert answer.status_code == 302


def test_wrong_token_is_refused_and_starts_no_session(api: Api) -> None:
    answer = _login(api, "as_not-a-real-token")
    assert answer.status_code == 401
    assert "unknown or revoked" in answer.get_data(as_text=True)
    assert api.client.get("/").status_code == 302


def test_login_without_csrf_token_is_refused(api: Api) -> None:
    api.client.get("/dashboard/login")
    answer = api.client.post("/dashboard/login", data={"token": api.tokens["read"], "csrf": "forged"})
    assert answer.status_code == 400
    assert api.client.get("/").status_code == 302


def test_cross_origin_login_post_is_refused(api: Api) -> None:
    page = api.client.get("/dashboard/login")
    answer = api.client.post(
        "/dashboard/login",
        data={"token": api.tokens["read"], "csrf": _csrf(page.get_data(as_text=True))},
        headers={"Origin": "http://evil.example"},
    )
    assert answer.status_code == 400


def test_read_token_logs_in_with_a_strict_httponly_cookie_and_sees_every_page(api: Api) -> None:
    add_customer(api.store, label="icp")
    add_customer(api.store, label="negative_icp")
    add_run(api.store, "icp_seed", "meta")
    add_run(api.store, "icp_seed", "google", status="auth_error")
    answer = _login(api, api.tokens["read"], next_path="/dashboard/report")
    assert answer.status_code == 303 and answer.headers["Location"] == "/dashboard/report"
    cookie = next(v for k, v in answer.headers.items() if k == "Set-Cookie" and v.startswith(COOKIE))
    assert "HttpOnly" in cookie and "SameSite=Strict" in cookie
    assert api.tokens["read"] not in cookie

    home = api.client.get("/")
    text = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "icp_seed" in text and "succeeded" in text and "auth error" in text  # last sync + failure
    assert "negative ICP" in text  # label distribution
    assert "default-src 'none'" in home.headers["Content-Security-Policy"]  # no script can run
    report = api.client.get("/dashboard/report")
    body = report.get_data(as_text=True)
    assert report.status_code == 200
    assert "Money per label (USD)" in body and "Audiences these labels feed" in body
    css = api.client.get("/dashboard/static/dashboard.css")
    with css:
        assert css.status_code == 200 and b".card" in css.data


def test_pages_show_no_customer_key(api: Api) -> None:
    key = add_customer(api.store, label="icp")
    add_run(api.store, "icp_seed", "meta")
    _login(api, api.tokens["read"])
    for path in ("/", "/dashboard/report"):
        assert key not in api.client.get(path).get_data(as_text=True)


def test_logout_clears_the_session(api: Api) -> None:
    _login(api, api.tokens["read"])
    home = api.client.get("/")
    assert home.status_code == 200
    answer = api.client.post("/dashboard/logout", data={"csrf": _csrf(home.get_data(as_text=True))})
    assert answer.status_code == 303
    assert api.client.get("/").status_code == 302


def test_logout_needs_the_csrf_token(api: Api) -> None:
    _login(api, api.tokens["read"])
    assert api.client.post("/dashboard/logout", data={"csrf": "forged"}).status_code == 400
    assert api.client.get("/").status_code == 200


def test_revoking_the_token_ends_its_sessions(api: Api) -> None:
    name = f"viewer-{uuid.uuid4().hex[:6]}"
    token = create_token(api.store, name, ["read"])
    _login(api, token)
    assert api.client.get("/").status_code == 200
    assert revoke_token(api.store, name)
    assert api.client.get("/").status_code == 302


def test_next_parameter_cannot_leave_the_site(api: Api) -> None:
    answer = _login(api, api.tokens["read"], next_path="//evil.example/")
    assert answer.status_code == 303 and answer.headers["Location"] == "/"


def test_pages_render_on_an_empty_installation(api: Api) -> None:
    _login(api, api.tokens["read"])
    home = api.client.get("/")
    assert home.status_code == 200 and "No audience has been synced yet" in home.get_data(as_text=True)
    report = api.client.get("/dashboard/report")
    assert report.status_code == 200 and "ICP report" in report.get_data(as_text=True)


def test_failures_and_open_dead_letters_are_listed(api: Api) -> None:
    from datetime import UTC, datetime

    from shared.store.models import DeadLetterRecord

    failed = add_run(api.store, "icp_seed", "google", status="auth_error")
    with api.store.transaction() as session:
        for offset, resolved in ((7, None), (8, datetime.now(UTC))):
            session.add(
                DeadLetterRecord(
                    consumer="ingestor",
                    topic="orders.raw",
                    partition=0,
                    offset=offset,
                    reason=f"invalid payload at offset {offset}",
                    created_at=datetime.now(UTC),
                    resolved_at=resolved,
                )
            )
    _login(api, api.tokens["read"])
    page = api.client.get("/").get_data(as_text=True)
    failures = page.split("Recent failures", 1)[1].split("Recent syncs", 1)[0]
    assert f"#{failed}" in failures and "auth error" in failures
    assert "1 unresolved" in page
    assert "invalid payload at offset 7" in page and "offset 8" not in page  # resolved ones are done


def test_meta_sizes_under_its_floor_read_as_at_most_the_floor(api: Api) -> None:
    """Meta reports any audience under 1,000 people as 1,000..1,000; the dashboard says "≤ 1,000"."""
    from datetime import UTC, datetime

    from shared.store.models import AudienceSnapshot, SyncRun

    sizes = {("icp_seed", "meta"): (1_000, 1_000), ("negative_icp_exclusion", "meta"): (4_900, 5_100)}
    sizes[("icp_seed", "google")] = (1_000, 1_000)  # Google's sizes are counts: shown as they are
    now = datetime.now(UTC)
    for (audience, platform), (lower, upper) in sizes.items():
        run_id = add_run(api.store, audience, platform)
        with api.store.transaction() as session:
            run = session.get(SyncRun, run_id)
            assert run is not None
            at = run.destination_audience_id
            session.add(
                AudienceSnapshot(destination_audience_id=at, at=now, size_lower=lower, size_upper=upper)
            )
    _login(api, api.tokens["read"])
    cells = re.findall(r'data-label="size" class="num">([^<]*)<', api.client.get("/").get_data(as_text=True))
    assert sorted(cells) == sorted(["≤ 1,000", "4,900–5,100", "1,000"]), cells
