"""Platform harnesses for the contract suite: one per adapter, the same questions for each.

A harness wires the real engine (``shared.sync``) to one platform (the in-memory fake, or a real
adapter over its sandbox) and answers what the platform holds and what it was sent, so the
cases in ``test_contract.py`` never know which platform they run on.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, ClassVar, Protocol

from services.sandbox_meta.server import RunningSandbox, run_meta_sandbox
from services.syncer_meta.bootstrap import build_service
from services.syncer_meta.config import MetaSettings
from services.syncer_meta.domain.rows import META_ROWS
from services.syncer_meta.domain.targets import meta_target
from shared.config import Settings
from shared.definitions import Definitions, parse_definitions
from shared.store.db import Store
from shared.sync.errors import Kind
from shared.sync.fake_platform import RecordingPlatform
from shared.sync.guardrails import Guardrails
from shared.sync.membership import Consent
from shared.sync.ports import Caps
from shared.sync.service import SyncService
from shared.sync.uploads import Progress
from shared.sync.wiring import EngineSettings, assemble
from tests.integration.syncer_meta.conftest import SPARE_TOKEN, TOKEN, sandbox_config, settings_env
from tests.integration.syncer_meta.seed import email_hash, sha

AUDIENCE = "contract_list"
ACCOUNT_OF = {"fake": "acct-1", "meta": "act_7007"}


def definitions() -> Definitions:
    """One include list going to every platform under test."""
    return parse_definitions(
        {
            "audiences": [
                {
                    "key": AUDIENCE,
                    "select": {"label": "icp"},
                    "destinations": {"meta": {}, "google": {}},
                }
            ]
        }
    )


class Harness(Protocol):
    """What the contract cases need from a platform under test."""

    account: str
    rows_from: str  # customer_identifiers.platform the seed writes

    def identifiers(self, i: int) -> dict[str, str]:
        """Person ``i``'s stored identifiers for this platform (hashed as the ingestor stores them)."""
        ...

    def corrupt(self, i: int) -> tuple[str, str]:
        """A stored identifier (field, value) the platform will refuse for person ``i``."""
        ...

    def build(
        self, store: Store, *, batch_size: int, on_batch: Callable[[Progress], None] | None = None
    ) -> SyncService:
        """The real engine over ``store``, wired to this platform."""
        ...

    def held(self, audience_id: str) -> set[str]:
        """Hashed emails the platform list holds."""
        ...

    def lists_named(self, name: str) -> int:
        """How many lists with this name the account has."""
        ...

    def uploads(self) -> int:
        """Upload requests the platform accepted so far."""
        ...

    def break_credentials(self) -> None:
        """From now on every call fails as a permanent auth error (the run stops)."""
        ...

    def repair_credentials(self) -> None:
        """The operator fixed the credentials; services built after this work again."""
        ...


class FakeHarness:
    """The in-memory recording fake, with Meta-shaped rows read from ``meta`` identifiers."""

    account = ACCOUNT_OF["fake"]
    rows_from = "meta"

    def __init__(self) -> None:
        self.platform = RecordingPlatform(self.account, caps=Caps(max_rows=10_000), rows=META_ROWS)
        self._broken = False

    def identifiers(self, i: int) -> dict[str, str]:
        return {"EMAIL": email_hash(i), "PHONE": sha(f"1415555{i:07d}"), "COUNTRY": sha("us")}

    def corrupt(self, i: int) -> tuple[str, str]:
        return "ZIP", "9410"  # not a SHA-256 digest

    def build(
        self, store: Store, *, batch_size: int, on_batch: Callable[[Progress], None] | None = None
    ) -> SyncService:
        return assemble(
            store,
            platform="fake",
            rows_from=self.rows_from,
            platforms={self.account: self.platform},
            audiences=definitions().audiences,
            targets=meta_target,
            settings=EngineSettings(
                batch_size, Guardrails(0, 1.0), Consent.MARKETING, 3600.0, "audiencesync test-shop"
            ),
            on_batch=on_batch,
        )

    def held(self, audience_id: str) -> set[str]:
        return self.platform.members(audience_id)

    def lists_named(self, name: str) -> int:
        return sum(found.name == name for found in self.platform.lists.values())

    def uploads(self) -> int:
        return len(self.platform.requests)

    def break_credentials(self) -> None:
        self.platform.fail_next(Kind.AUTH, times=1_000)

    def repair_credentials(self) -> None:
        self.platform.clear_failures()


class MetaHarness:
    """The facebook-business adapter against the Meta sandbox."""

    account = ACCOUNT_OF["meta"]
    rows_from = "meta"

    def __init__(self, sandbox: RunningSandbox) -> None:
        self.sandbox = sandbox
        self.token = TOKEN

    def identifiers(self, i: int) -> dict[str, str]:
        return {"EMAIL": email_hash(i), "PHONE": sha(f"1415555{i:07d}"), "COUNTRY": sha("us")}

    def corrupt(self, i: int) -> tuple[str, str]:
        return "ZIP", "9410"

    def build(
        self, store: Store, *, batch_size: int, on_batch: Callable[[Progress], None] | None = None
    ) -> SyncService:
        env = settings_env(
            self.sandbox.url,
            store.url,
            META_BATCH_SIZE=str(batch_size),
            META_ACCESS_TOKEN=self.token,
            META_MAX_REMOVE_SHARE="1",
            META_MAX_ATTEMPTS="2",
        )
        return build_service(
            Settings.from_env(env),
            store,
            meta=MetaSettings.from_env(env),
            definitions=definitions(),
            on_batch=on_batch,
        )

    def held(self, audience_id: str) -> set[str]:
        return set(self.sandbox.members(audience_id))

    def lists_named(self, name: str) -> int:
        return sum(found.name == name for found in self.sandbox.state.audiences(self.account))

    def uploads(self) -> int:
        return sum(e.route == "/{audience_id}/users" and e.status == 200 for e in self.sandbox.calls.entries)

    def break_credentials(self) -> None:
        self.sandbox.expire_token(self.token)

    def repair_credentials(self) -> None:
        self.token = SPARE_TOKEN


@contextmanager
def fake_harness() -> Iterator[Harness]:
    """The in-memory fake."""
    yield FakeHarness()


@contextmanager
def meta_harness() -> Iterator[Harness]:
    """A fresh Meta sandbox on a free port."""
    with run_meta_sandbox(sandbox_config()) as sandbox:
        yield MetaHarness(sandbox)


class GoogleHarness:
    """A Google adapter (Data Manager or Google Ads API) against the Google sandbox."""

    account = "1234567890"
    # Customers in the US with marketing consent: Google's consent rule lets them in (in the EEA
    # they would need both ad signals granted; that rule has its own tests).
    customer_columns: ClassVar[dict[str, object]] = {"country": "US"}

    def __init__(self, sandbox: Any, api: str) -> None:
        self.sandbox, self.api = sandbox, api
        self.rows_from = "google-dm" if api == "datamanager" else "google-ads"
        self.token = "sandbox-token"

    def identifiers(self, i: int) -> dict[str, str]:
        return {"email": email_hash(i), "phone": sha(f"+1415555{i:07d}"), "country_code": "US"}

    def corrupt(self, i: int) -> tuple[str, str]:
        return "phone", "not-a-sha256-digest"

    def build(
        self, store: Store, *, batch_size: int, on_batch: Callable[[Progress], None] | None = None
    ) -> SyncService:
        from services.syncer_google.bootstrap import build_service as build_google
        from services.syncer_google.config import GoogleSettings

        google = GoogleSettings(
            customers=(self.account,),
            access_token=self.token,
            developer_token="sandbox-dev-token",
            datamanager_endpoint=self.sandbox.endpoint,
            google_ads_endpoint=self.sandbox.endpoint,
            ca_file=self.sandbox.ca_pem_path,
            batch_size=batch_size,
            min_audience_size=0,
            max_remove_share=1.0,
            max_attempts=2,
            retry_base_seconds=0.05,
        )
        audiences = parse_definitions(
            {
                "audiences": [
                    {
                        "key": AUDIENCE,
                        "select": {"label": "icp"},
                        "destinations": {"google": {"api": self.api}},
                    }
                ]
            }
        )
        built = build_google(
            Settings(database_url=store.url, shop="test-shop"),
            store,
            google=google,
            definitions=audiences,
            on_batch=on_batch,
        )
        return built.paths[0 if self.api == "datamanager" else 1]

    def held(self, audience_id: str) -> set[str]:
        return {
            key.removeprefix("email:")
            for key in self.sandbox.state.members(audience_id)
            if key.startswith("email:")
        }

    def lists_named(self, name: str) -> int:
        return sum(found.name == name for found in self.sandbox.state.user_lists(self.account))

    def uploads(self) -> int:
        methods = {
            "datamanager": (
                "IngestionService/IngestAudienceMembers",
                "IngestionService/RemoveAudienceMembers",
            ),
            "google_ads": ("OfflineUserDataJobService/AddOfflineUserDataJobOperations",),
        }[self.api]
        return sum(e.code == "OK" and e.method.endswith(methods) for e in self.sandbox.calls.entries)

    def break_credentials(self) -> None:
        self.sandbox.faults.expire_token(self.token)

    def repair_credentials(self) -> None:
        self.token = "sandbox-token-renewed"


@contextmanager
def google_harness(api: str) -> Iterator[Harness]:
    """A fresh Google sandbox (both APIs, TLS) on a free port."""
    from services.sandbox_google.config import GoogleSandboxConfig
    from services.sandbox_google.server import run_google_sandbox
    from services.sandbox_google.testing import session_identity

    config = GoogleSandboxConfig(
        access_tokens=("sandbox-token", "sandbox-token-renewed"),
        processing_seconds=0.05,
        job_seconds=0.05,
        tls_identity=session_identity(),
    )
    with run_google_sandbox(config) as sandbox:
        yield GoogleHarness(sandbox, api)


# name -> context manager giving a harness (see conftest.py).
HARNESSES: dict[str, Callable[[], AbstractContextManager[Any]]] = {
    "fake": fake_harness,
    "meta": meta_harness,
    "google-dm": lambda: google_harness("datamanager"),
    "google-ads": lambda: google_harness("google_ads"),
}
