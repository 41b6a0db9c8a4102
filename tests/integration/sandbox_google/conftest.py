"""A running Google sandbox and the official clients pointed at it (AD_APIS.md 3.2, 3.3).

``google_sandbox`` here overrides the one in tests/conftest.py with this suite's tokens, a
manager account and two customers. Every test sandbox serves the process's one TLS identity
(``services.sandbox_google.testing``), which the Google Ads client trusts through
``GRPC_DEFAULT_SSL_ROOTS_FILE_PATH``; Data Manager clients get the CA per client.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from typing import Any

import pytest
from google.ads import datamanager_v1 as dm

from services.sandbox_google.config import GoogleSandboxConfig
from services.sandbox_google.server import RunningSandbox, run_google_sandbox
from services.sandbox_google.testing import DataManagerClients, install_session_trust, session_identity
from services.sandbox_google.testing import ads_client as _ads_client
from services.sandbox_google.testing import dm_clients as _dm_clients

TOKEN = "it-access-token"
DEV = "it-dev-not-allowlisted"
DEV_OK = "it-dev-allowlisted"
CUSTOMER = "1234567890"
OTHER_CUSTOMER = "1111111111"  # known, but reached through the manager like CUSTOMER
MANAGER = "9876543210"


SESSION_IDENTITY = session_identity()
install_session_trust()  # no-op when tests/conftest.py did it first


def sha(value: str) -> str:
    """SHA-256 hex of a normalised value."""
    return hashlib.sha256(value.encode()).hexdigest()


def config(**changes: Any) -> GoogleSandboxConfig:
    """The test sandbox's config with some fields changed (asynchronous work done in 0.2 s)."""
    base: dict[str, Any] = {
        "access_tokens": (TOKEN,),
        "developer_tokens": (DEV,),
        "allowlisted_developer_tokens": (DEV_OK,),
        "customers": (CUSTOMER, OTHER_CUSTOMER),
        "login_customers": (MANAGER,),
        "processing_seconds": 0.2,
        "job_seconds": 0.2,
        "tls_identity": SESSION_IDENTITY,
    }
    return GoogleSandboxConfig(**{**base, **changes})


@pytest.fixture
def google_sandbox() -> Iterator[RunningSandbox]:
    """A fresh in-memory Google sandbox on free loopback ports."""
    with run_google_sandbox(config()) as running:
        yield running


DataManager = DataManagerClients


def dm_clients(sandbox: RunningSandbox, token: str = TOKEN) -> DataManager:
    """Data Manager clients with per-client trust in the sandbox's CA (AD_APIS.md 3.3)."""
    return _dm_clients(sandbox.endpoint, sandbox.ca_pem_path.read_bytes(), token, MANAGER)


@pytest.fixture
def datamanager(google_sandbox: RunningSandbox) -> Iterator[DataManager]:
    """Data Manager clients for the fixture sandbox; channels closed afterwards."""
    clients = dm_clients(google_sandbox)
    yield clients
    clients.close()


def destination(
    list_id: int | str, *, customer: str = CUSTOMER, login: str | None = MANAGER, ref: str = "d1"
) -> Any:
    """A Google Ads Customer Match destination."""
    dest = dm.Destination(
        reference=ref,
        operating_account=dm.ProductAccount(account_id=customer, account_type="GOOGLE_ADS"),
        product_destination_id=str(list_id),
    )
    if login:
        dest.login_account = dm.ProductAccount(account_id=login, account_type="GOOGLE_ADS")
    return dest


def member(email: str, *, consent: tuple[str, str] | None = None, phone: str | None = None) -> Any:
    """An AudienceMember with hashed email (and phone), optionally its own consent."""
    identifiers = [dm.UserIdentifier(email_address=sha(email))]
    if phone:
        identifiers.append(dm.UserIdentifier(phone_number=sha(phone)))
    m = dm.AudienceMember(user_data=dm.UserData(user_identifiers=identifiers))
    if consent:
        m.consent = dm.Consent(ad_user_data=consent[0], ad_personalization=consent[1])
    return m


GRANTED = dm.Consent(ad_user_data="CONSENT_GRANTED", ad_personalization="CONSENT_GRANTED")
ACCEPTED = dm.TermsOfService(customer_match_terms_of_service_status="ACCEPTED")


def create_list(clients: DataManager, name: str = "buyers", customer: str = CUSTOMER) -> Any:
    """A Customer Match (CONTACT_ID) list through UserListService."""
    return clients.user_lists.create_user_list(
        request=dm.CreateUserListRequest(
            parent=f"accountTypes/GOOGLE_ADS/accounts/{customer}",
            user_list=dm.UserList(
                display_name=name,
                ingested_user_list_info=dm.IngestedUserListInfo(upload_key_types=["CONTACT_ID"]),
            ),
        ),
        metadata=clients.list_metadata(),
        retry=None,
    )


def ads_client(
    sandbox: RunningSandbox, *, developer_token: str = DEV_OK, token: str = TOKEN, login: str | None = MANAGER
) -> Any:
    """The official GoogleAdsClient aimed at the sandbox, as AD_APIS.md 3.2 says."""
    return _ads_client(sandbox.endpoint, developer_token, token, login)


@pytest.fixture
def ads(google_sandbox: RunningSandbox) -> Any:
    """An allowlisted Google Ads client for the fixture sandbox."""
    return ads_client(google_sandbox)
