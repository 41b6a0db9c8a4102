"""The dashboard at ``/``: server-rendered pages for ad-ops behind a login with the API's tokens.

Jinja templates and one stylesheet, no script and no front-end build. Pages: the overview
(audiences with platform sizes and match rates over time, the label mix, the last sync per
destination, recent failures and dead letters) and the ICP report (``/dashboard/report``; the
REST API serves the same report as JSON or HTML at ``/reports/icp`` to bearer clients). The
bearer check in ``auth.authenticate`` skips this blueprint's endpoints: they check the session.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, current_app, g, redirect, render_template, request, url_for
from werkzeug.wrappers import Response as BaseResponse

from services.api.dashboard import reads
from services.api.dashboard.charts import sparkline
from services.api.dashboard.session import (
    LoginRefusedError,
    SignedSessions,
    cookie_config,
    csrf_ok,
    csrf_token,
    log_in,
    safe_next,
    viewer,
)
from shared.config import Settings
from shared.store.db import Store

bp = Blueprint(
    "dashboard",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/dashboard/static",
)
OPEN = frozenset({"dashboard.login", "dashboard.static"})
# No script anywhere; inline styles only for bar widths and the report's embedded stylesheet.
POLICY = (
    "default-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)


def install_dashboard(app: Flask, settings: Settings) -> None:
    """Register the dashboard on ``app`` with its session cookie settings."""
    app.config.update(cookie_config())
    app.session_interface = SignedSessions(settings)
    app.register_blueprint(bp)


def _store() -> Store:
    found: Store = current_app.extensions["audiencesync"].store
    return found


@bp.before_request
def _require_login() -> BaseResponse | None:
    if request.endpoint in OPEN:
        return None
    who = viewer(_store())
    if who is None:
        return redirect(url_for("dashboard.login", next=request.full_path.rstrip("?")))
    g.actor, g.scope = who
    return None


@bp.after_request
def _headers(response: Response) -> Response:
    response.headers["Content-Security-Policy"] = POLICY
    response.headers["X-Content-Type-Options"] = "nosniff"
    response.headers["Referrer-Policy"] = "same-origin"
    if request.endpoint != "dashboard.static":
        response.headers["Cache-Control"] = "no-store"
    return response


@bp.context_processor
def _common() -> dict[str, Any]:
    return {"csrf_token": csrf_token, "viewer": g.get("actor"), "sparkline": sparkline}


@bp.route("/dashboard/login", methods=["GET", "POST"])
def login() -> BaseResponse | tuple[str, int] | str:
    """The token form; a good token starts a session and goes on to where the user was headed."""
    target = safe_next(request.values.get("next"))
    if request.method == "GET":
        return render_template("dashboard/login.html", next=target, error=None)
    if not csrf_ok():
        return render_template("dashboard/login.html", next=target, error="The form expired; try again."), 400
    limiter = current_app.extensions["audiencesync"].limiter
    if limiter.take(f"dashboard-login:{request.remote_addr}"):
        return render_template("dashboard/login.html", next=target, error="Too many attempts; wait."), 429
    try:
        log_in(_store(), request.form.get("token", ""))
    except LoginRefusedError as refused:
        return render_template("dashboard/login.html", next=target, error=str(refused)), refused.status
    return redirect(target, code=303)


@bp.route("/dashboard/logout", methods=["POST"])
def logout() -> BaseResponse | tuple[str, int]:
    """End the session (POST with the CSRF token, so no link elsewhere can log a user out)."""
    if not csrf_ok():
        return "the form expired; reload the page", 400
    from flask import session

    session.clear()
    return redirect(url_for("dashboard.login"), code=303)


@bp.route("/", methods=["GET"])
def overview() -> str:
    """Audiences, labels, last syncs, failures and dead letters on one page."""
    store = _store()
    letters, open_letters = reads.open_dead_letters(store)
    return render_template(
        "dashboard/overview.html",
        destinations=reads.destinations(store),
        labels=reads.label_counts(store),
        runs=reads.recent_runs(store),
        failures=reads.recent_runs(store, failed_only=True),
        letters=letters,
        open_letters=open_letters,
    )


@bp.route("/dashboard/report", methods=["GET"])
def report() -> str:
    """The ICP report, with money, reasons in words, the audiences it feeds and trends."""
    from services.api import context
    from services.scorer.report_extras import build_extras
    from services.scorer.report_html import render_body, stylesheet
    from services.scorer.reporting import build_report

    store = _store()
    settings = context.settings()
    built = build_report(store)
    extras = build_extras(store, settings.base_currency, context.definitions())
    return render_template("dashboard/report.html", body=render_body(built, extras), report_css=stylesheet())
