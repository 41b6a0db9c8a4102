"""Google Ads API (v26) Customer Match messages built from ledger rows.

Shapes and limits from AD_APIS.md 2.1-2.5: one identifier per ``UserIdentifier``, several per
``UserData`` (at most 20), at most 100,000 identifiers per AddOfflineUserDataJobOperations
request; consent is set on the JOB for jobs with creates (never per operation), so members
with different consent go in different jobs; removes carry no consent.
"""

from __future__ import annotations

from collections.abc import Sequence

from google.ads.googleads.v26.common.types import consent as consent_types
from google.ads.googleads.v26.common.types import offline_user_data as data
from google.ads.googleads.v26.enums.types import (
    consent_status,
    customer_match_upload_key_type,
    offline_user_data_job_type,
    user_list_crm_data_source_type,
    user_list_membership_status,
)
from google.ads.googleads.v26.resources.types import offline_user_data_job as jobs
from google.ads.googleads.v26.resources.types import user_list as lists
from google.ads.googleads.v26.services.types import offline_user_data_job_service as job_service

from services.syncer_google.domain.members import ADDRESS, ADS_IDENTIFIERS_PER_REQUEST, EMAIL, identifiers
from shared.sync.google_consent import AdConsent, Signal

_Status = consent_status.ConsentStatusEnum.ConsentStatus
_STATUS = {
    Signal.GRANTED: _Status.GRANTED,
    Signal.DENIED: _Status.DENIED,
    Signal.UNSPECIFIED: _Status.UNSPECIFIED,
}


def user_list_name(customer_id: str, list_id: str) -> str:
    """``customers/{cid}/userLists/{id}``."""
    return f"customers/{customer_id}/userLists/{list_id}"


def list_id_of(resource_name: str) -> str:
    """The list id at the end of a user list resource name."""
    return resource_name.rsplit("/", 1)[-1]


def user_data(row: Sequence[str]) -> data.UserData:
    """The member's identifiers, one per ``UserIdentifier``."""
    out: list[data.UserIdentifier] = []
    for item in identifiers(row):
        if item.kind == EMAIL:
            out.append(data.UserIdentifier(hashed_email=item.value))
        elif item.kind == ADDRESS:
            address = data.OfflineUserAddressInfo(
                hashed_first_name=item.given,
                hashed_last_name=item.family,
                country_code=item.region,
                postal_code=item.postal,
            )
            out.append(data.UserIdentifier(address_info=address))
        else:
            out.append(data.UserIdentifier(hashed_phone_number=item.value))
    return data.UserData(user_identifiers=out)


def job(customer_id: str, list_id: str, consent: AdConsent | None) -> jobs.OfflineUserDataJob:
    """A Customer Match job on one list; ``consent`` only for jobs that add members."""
    metadata = data.CustomerMatchUserListMetadata(user_list=user_list_name(customer_id, list_id))
    if consent is not None:
        metadata.consent = consent_types.Consent(
            ad_user_data=_STATUS[consent.ad_user_data],
            ad_personalization=_STATUS[consent.ad_personalization],
        )
    return jobs.OfflineUserDataJob(
        type_=offline_user_data_job_type.OfflineUserDataJobTypeEnum.OfflineUserDataJobType.CUSTOMER_MATCH_USER_LIST,
        customer_match_user_list_metadata=metadata,
    )


def operations(
    rows: Sequence[Sequence[str]], *, remove: bool
) -> list[job_service.OfflineUserDataJobOperation]:
    """Create or remove operations (never both in one job: CONFLICTING_OPERATION)."""
    if remove:
        return [job_service.OfflineUserDataJobOperation(remove=user_data(row)) for row in rows]
    return [job_service.OfflineUserDataJobOperation(create=user_data(row)) for row in rows]


def requests_of(
    ops: Sequence[job_service.OfflineUserDataJobOperation], limit: int = ADS_IDENTIFIERS_PER_REQUEST
) -> list[list[job_service.OfflineUserDataJobOperation]]:
    """Operations grouped into Add requests of at most ``limit`` identifiers each."""
    out: list[list[job_service.OfflineUserDataJobOperation]] = []
    current: list[job_service.OfflineUserDataJobOperation] = []
    count = 0
    for op in ops:
        size = len((op.create or op.remove).user_identifiers)
        if current and count + size > limit:
            out.append(current)
            current, count = [], 0
        current.append(op)
        count += size
    if current:
        out.append(current)
    return out


def new_list(name: str, description: str, membership_days: int) -> lists.UserList:
    """A CRM-based, first-party contact-info list open for members."""
    crm = lists.UserList.meta.fields["crm_based_user_list"].message
    return lists.UserList(
        name=name,
        description=description,
        membership_status=user_list_membership_status.UserListMembershipStatusEnum.UserListMembershipStatus.OPEN,
        membership_life_span=membership_days,
        crm_based_user_list=crm(
            upload_key_type=customer_match_upload_key_type.CustomerMatchUploadKeyTypeEnum.CustomerMatchUploadKeyType.CONTACT_INFO,
            data_source_type=user_list_crm_data_source_type.UserListCrmDataSourceTypeEnum.UserListCrmDataSourceType.FIRST_PARTY,
        ),
    )
