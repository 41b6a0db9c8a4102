"""A faithful local stand-in for Google's Customer Match APIs (the Google sandbox).

It serves the Data Manager API (``google.ads.datamanager.v1`` IngestionService and
UserListService) and the Google Ads API v26 (UserListService, OfflineUserDataJobService,
GoogleAdsService, UserDataService, ``google.longrunning.Operations``) on one gRPC port over TLS;
rules, sources and choices are in docs/sandbox-google.md.

In-process entry point (tests, demos, the Google syncer's tests)::

    from services.sandbox_google.config import GoogleSandboxConfig
    from services.sandbox_google.server import run_google_sandbox, start_sandbox

    with run_google_sandbox(GoogleSandboxConfig(access_tokens=("t",), customers=("1234567890",))) as sb:
        sb.endpoint        # "localhost:PORT" (matches the certificate); sb.port is the port
        sb.ca_pem_path     # the self-signed CA to trust (per client, or GRPC_DEFAULT_SSL_ROOTS_FILE_PATH)
        sb.admin_url       # loopback admin HTTP endpoint (state, faults, clock)
        sb.state           # lists, members (with consent), jobs; sb.calls counts RPCs
        sb.faults          # set_transient, set_latency, open_quota_window, expire_token, ...
        sb.clock.advance(600)  # pass processing times, quota windows, life spans

``start_sandbox(config, **overrides)`` returns the same ``RunningSandbox`` started; call
``stop()``. The pytest fixture ``google_sandbox`` (tests/integration/sandbox_google/conftest.py)
gives a fresh one per test, with ``dm_clients`` / ``ads_client`` helpers for the official clients.
Command line: ``audiencesync sandbox google --port P --cert-dir DIR --access-token TOK ...``.
"""
