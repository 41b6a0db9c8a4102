"""Who may act on which Google Ads account, for both APIs.

The OAuth user of the sandbox has access to every ``--customer`` account and to every
``--login-customer`` manager, which manages all of them. A call names the account it acts on
(operating account / ``customer_id``) and may name the account it signs in through (login
account / ``login-customer-id``): that must be the account itself or one of the managers.
Google's rule is the same [doc: Ads API call structure, login-customer-id; Data Manager
Destination.login_account]; which accounts the user can reach is the sandbox's configuration.
"""

from __future__ import annotations

from collections.abc import Collection


def may_access(customers: Collection[str], managers: Collection[str], account: str, login: str) -> bool:
    """Whether a call on ``account`` signed in through ``login`` (``""``: none) is allowed."""
    if account not in customers:
        return False
    return not login or login == account or login in managers
