"""``audiencesync sandbox google``: flags, config building and the foreground server loop.

Flag definitions stay import-light (argparse and the config only) so registering the command
does not load gRPC or the Google packages; ``serve`` imports the server when the command runs.
"""

from __future__ import annotations

import argparse
import signal
import sqlite3
import sys
import threading
from pathlib import Path

from services.sandbox_google.config import ConfigError, GoogleSandboxConfig
from services.sandbox_google.domain.quotas import QuotaLimits
from shared.config import Settings
from shared.log import get_logger

log = get_logger(__name__)
DEFAULT_PORT = 8791


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The ``sandbox google`` flags (documented in docs/sandbox-google.md)."""
    add = parser.add_argument
    add("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    add(
        "--port", type=int, default=DEFAULT_PORT, help=f"gRPC TLS port for both APIs (default {DEFAULT_PORT})"
    )
    add("--cert-dir", type=Path, required=True, help="where to write ca.pem (written before listening)")
    add(
        "--tls-name",
        action="append",
        dest="tls_names",
        default=[],
        metavar="HOST",
        help="another host name the certificate is valid for, e.g. a compose service name (repeatable)",
    )
    add(
        "--access-token",
        action="append",
        dest="access_tokens",
        metavar="TOK",
        required=True,
        help="an OAuth access token the sandbox accepts (repeatable); others get UNAUTHENTICATED",
    )
    add(
        "--developer-token",
        action="append",
        dest="developer_tokens",
        default=[],
        metavar="DEV",
        help="a Google Ads API developer token that is valid but NOT allowlisted for Customer Match: "
        "OfflineUserDataJobService answers CUSTOMER_NOT_ALLOWLISTED_FOR_THIS_FEATURE (repeatable)",
    )
    add(
        "--allowlisted-developer-token",
        action="append",
        dest="allowlisted_developer_tokens",
        default=[],
        metavar="DEV",
        help="a developer token allowlisted for Customer Match (repeatable)",
    )
    add(
        "--customer",
        action="append",
        dest="customers",
        required=True,
        metavar="ID",
        help="a Google Ads client account (10 digits) the token may operate (repeatable)",
    )
    add(
        "--login-customer",
        action="append",
        dest="login_customers",
        default=[],
        metavar="ID",
        help="a manager of every customer: a valid login-customer-id / login account (repeatable)",
    )
    add(
        "--decline-tos",
        action="append",
        default=[],
        metavar="ID",
        help="this account has not accepted the Customer Match terms in the UI (repeatable)",
    )
    add("--state", type=Path, help="keep state in this SQLite file across restarts (default: in memory)")
    add("--admin-port", type=int, default=0, help="loopback admin HTTP port (default: any free port)")
    add("--match-rate", type=float, default=1.0, help="share of uploaded people who match (0-1)")
    add(
        "--processing-seconds",
        type=float,
        default=2.0,
        help="how long a Data Manager request stays PROCESSING (default 2)",
    )
    add("--job-seconds", type=float, default=2.0, help="how long a run offline user data job stays RUNNING")
    add(
        "--quota-per-minute",
        type=int,
        default=QuotaLimits().ingestion_per_minute,
        help="Data Manager requests per minute per project and kind (default 300)",
    )
    add(
        "--quota-per-day",
        type=int,
        default=QuotaLimits().ingestion_per_day,
        help="IngestionService requests per day per project and kind (default 100,000)",
    )
    add(
        "--ads-operations-per-day",
        type=int,
        default=QuotaLimits().ads_operations_per_day,
        help="Google Ads API operations per developer token per day (default 15,000, Basic access)",
    )
    add(
        "--quota-window",
        type=int,
        default=0,
        metavar="SECONDS",
        help="answer RESOURCE_EXHAUSTED to every call for this long from the start",
    )
    add("--transient-error-rate", type=float, default=0.0, help="share of calls failing with UNAVAILABLE")
    add("--fault-seed", type=int, default=0, help="seed for the fault RNG (deterministic runs)")
    add("--latency-ms", type=int, default=0, help="added latency per call")
    add(
        "--expired-token",
        action="append",
        dest="expired_tokens",
        default=[],
        metavar="TOK",
        help="a known access token that is already expired (repeatable)",
    )
    add(
        "--concurrent-modifications",
        type=int,
        default=0,
        metavar="N",
        help="the first N Ads API job mutates (add, run) answer CONCURRENT_MODIFICATION",
    )
    add("--threads", type=int, default=8, help="gRPC worker threads")


def config_from_args(args: argparse.Namespace) -> GoogleSandboxConfig:
    """Build and validate the config; raises ``ConfigError`` naming the bad flag."""
    defaults = QuotaLimits()
    quotas = QuotaLimits(
        ingestion_per_minute=args.quota_per_minute,
        ingestion_per_day=args.quota_per_day,
        other_per_minute=args.quota_per_minute,
        other_per_day=min(args.quota_per_day, defaults.other_per_day),
        ads_operations_per_day=args.ads_operations_per_day,
    )
    if min(args.quota_per_minute, args.quota_per_day, args.ads_operations_per_day) < 1:
        raise ConfigError("quotas must be at least 1")
    config = GoogleSandboxConfig(
        access_tokens=tuple(args.access_tokens),
        developer_tokens=tuple(args.developer_tokens),
        allowlisted_developer_tokens=tuple(args.allowlisted_developer_tokens),
        customers=tuple(args.customers),
        login_customers=tuple(args.login_customers),
        declined_tos_customers=tuple(args.decline_tos),
        cert_dir=args.cert_dir,
        tls_names=tuple(args.tls_names),
        state_path=args.state,
        host=args.host,
        port=args.port,
        admin_port=args.admin_port,
        threads=args.threads,
        match_rate=args.match_rate,
        processing_seconds=args.processing_seconds,
        job_seconds=args.job_seconds,
        quotas=quotas,
        transient_error_rate=args.transient_error_rate,
        fault_seed=args.fault_seed,
        latency_ms=args.latency_ms,
        expired_tokens=tuple(args.expired_tokens),
        quota_window_seconds=args.quota_window,
        concurrent_modifications=args.concurrent_modifications,
    )
    return config.validated()


def serve(args: argparse.Namespace, settings: Settings) -> int:
    """Run the sandbox in the foreground until SIGTERM or Ctrl-C; returns the exit code."""
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"audiencesync sandbox google: {exc}", file=sys.stderr)
        return 2
    from services.sandbox_google.server import start_sandbox

    try:
        running = start_sandbox(config)
    except (OSError, RuntimeError, sqlite3.Error) as exc:  # port taken, cert dir or state file unusable
        print(
            f"audiencesync sandbox google: cannot start on {args.host}:{args.port} ({exc})",
            file=sys.stderr,
        )
        return 1
    stop = threading.Event()

    def _stop(signum: int, _frame: object) -> None:
        log.info("sandbox_google.signal", signal=signal.Signals(signum).name)
        stop.set()

    previous = {s: signal.signal(s, _stop) for s in (signal.SIGTERM, signal.SIGINT)}
    print(
        f"Google sandbox listening on {running.endpoint} (TLS; CA {running.ca_pem_path}; "
        f"admin {running.admin_url}; customers: {', '.join(config.customers)}; "
        f"state: {config.state_path or 'in memory'})",
        flush=True,
    )
    try:
        while not stop.wait(0.5):
            pass
    finally:
        running.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return 0
