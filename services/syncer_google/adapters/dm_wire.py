"""Data Manager API messages built from ledger rows: the only place that knows their shape.

Field names and limits from AD_APIS.md 2.8 / 3.3 (``google.ads.datamanager.v1``): a destination
names the operating account, the login (manager) account and the list id; identifiers are sent
as HEX-encoded SHA-256; each member carries its own consent, which overrides the request's.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from google.ads import datamanager_v1 as dm
from google.protobuf import timestamp_pb2

from services.syncer_google.domain.members import ADDRESS, EMAIL, consent_of, identifiers
from shared.sync.google_consent import AdConsent, Signal

MAX_MEMBERS = 10_000  # audience members per ingest or remove request
REFERENCE = "list"  # the one destination's reference in every request

_ACCOUNT = dm.ProductAccount.AccountType.GOOGLE_ADS


def account(account_id: str) -> dm.ProductAccount:
    """A Google Ads account as Data Manager names it."""
    return dm.ProductAccount(account_id=account_id, account_type=_ACCOUNT)


def destination(list_id: str, operating: str, login: str | None) -> dm.Destination:
    """The destination of one list: the account that owns it and the account that signs in."""
    return dm.Destination(
        reference=REFERENCE,
        operating_account=account(operating),
        login_account=account(login) if login else None,
        product_destination_id=list_id,
    )


def parent(operating: str) -> str:
    """``accountTypes/GOOGLE_ADS/accounts/{id}``, the parent of an account's user lists."""
    return f"accountTypes/GOOGLE_ADS/accounts/{operating}"


def user_data(row: Sequence[str]) -> dm.UserData:
    """The member's identifiers (a row in ``members.COLUMNS`` order)."""
    out: list[dm.UserIdentifier] = []
    for item in identifiers(row):
        if item.kind == EMAIL:
            out.append(dm.UserIdentifier(email_address=item.value))
        elif item.kind == ADDRESS:
            address = dm.AddressInfo(
                given_name=item.given,
                family_name=item.family,
                region_code=item.region,
                postal_code=item.postal,
            )
            out.append(dm.UserIdentifier(address=address))
        else:
            out.append(dm.UserIdentifier(phone_number=item.value))
    return dm.UserData(user_identifiers=out)


_STATUS = {
    Signal.GRANTED: dm.ConsentStatus.CONSENT_GRANTED,
    Signal.DENIED: dm.ConsentStatus.CONSENT_DENIED,
    Signal.UNSPECIFIED: dm.ConsentStatus.CONSENT_STATUS_UNSPECIFIED,
}


def consent(signals: AdConsent) -> dm.Consent:
    """Member-level consent as Data Manager's enum."""
    return dm.Consent(
        ad_user_data=_STATUS[signals.ad_user_data],
        ad_personalization=_STATUS[signals.ad_personalization],
    )


def ingest_request(target: dm.Destination, rows: Sequence[Sequence[str]]) -> dm.IngestAudienceMembersRequest:
    """Add or refresh members, each with the consent its row carries; Customer Match terms accepted."""
    return dm.IngestAudienceMembersRequest(
        destinations=[target],
        audience_members=[
            dm.AudienceMember(
                destination_references=[REFERENCE], user_data=user_data(row), consent=consent(consent_of(row))
            )
            for row in rows
        ],
        encoding=dm.Encoding.HEX,
        terms_of_service=dm.TermsOfService(
            customer_match_terms_of_service_status=dm.TermsOfServiceStatus.ACCEPTED
        ),
    )


def remove_request(target: dm.Destination, rows: Sequence[Sequence[str]]) -> dm.RemoveAudienceMembersRequest:
    """Remove members, sent with the identifiers they were added with."""
    return dm.RemoveAudienceMembersRequest(
        destinations=[target],
        audience_members=[
            dm.AudienceMember(destination_references=[REFERENCE], user_data=user_data(row)) for row in rows
        ],
        encoding=dm.Encoding.HEX,
    )


def remove_all_request(target: dm.Destination, as_of: datetime) -> dm.RemoveAllAudienceMembersRequest:
    """Remove every member last added before ``as_of`` (the safe-replace recipe's last step)."""
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(as_of)
    return dm.RemoveAllAudienceMembersRequest(destinations=[target], remove_as_of_time=stamp)


def new_list(name: str, description: str, membership_days: int) -> dm.UserList:
    """A first-party, contact-id Customer Match list open for members."""
    return dm.UserList(
        display_name=name,
        description=description,
        membership_status=dm.UserList.MembershipStatus.OPEN,
        membership_duration={"seconds": membership_days * 86_400},
        ingested_user_list_info=dm.IngestedUserListInfo(
            upload_key_types=[dm.IngestedUserListInfo.UploadKeyType.CONTACT_ID],
            contact_id_info=dm.ContactIdInfo(data_source_type=dm.DataSourceType.DATA_SOURCE_TYPE_FIRST_PARTY),
        ),
    )
