"""Which audiences go to Meta, on which ad accounts, value-based or not (the engine's ``Targets``)."""

from __future__ import annotations

from collections.abc import Sequence

from shared.definitions.audiences import AudienceDefinition
from shared.sync.membership import Destination, Target
from shared.sync.membership import destinations as _destinations


def meta_target(audience: AudienceDefinition) -> Target | None:
    """The audience's Meta destination: its ad accounts (empty: all) and value-basedness."""
    meta = audience.meta
    if meta is None:
        return None
    return Target(meta.accounts, meta.value_based)


def destinations(audiences: Sequence[AudienceDefinition], accounts: Sequence[str]) -> list[Destination]:
    """Every (audience, ad account) pair with a Meta destination, exclusions attached to includes."""
    return _destinations(audiences, accounts, meta_target)
