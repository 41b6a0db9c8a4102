"""Guardrails: a run that would gut an audience is refused unless an operator forces it.

A mass removal usually means something upstream broke (labels wiped, a bad rule), and an
emptied audience silently stops campaigns. Both rules protect audiences a platform delivers to
(at least ``min_size`` people); erasures are never held back, they are a legal duty.
"""

from __future__ import annotations

from dataclasses import dataclass

from shared.sync.diff import Changes


@dataclass(frozen=True)
class Guardrails:
    """Limits on one run: the platform's minimum size and the largest share removed at once."""

    min_size: int = 100  # Meta: delivery and lookalike seeds need about 100 people
    max_remove_share: float = 0.2
    owner: str = "the platform's"  # whose minimum, in the refusal ("Meta's")

    def refusal(self, changes: Changes, *, size_before: int, force: bool = False) -> str | None:
        """Why this run must not go ahead (None: it may). ``size_before``: the ledger's size."""
        if force or changes.deselected == 0 or size_before < self.min_size:
            return None
        share = changes.deselected / size_before
        if share > self.max_remove_share:
            return (
                f"would remove {changes.deselected:,} of {size_before:,} members ({share:.0%}), more "
                f"than the {self.max_remove_share:.0%} allowed in one run; check the labels, then "
                "rerun with --force"
            )
        size_after = size_before + changes.new - changes.removes
        if size_after < self.min_size:
            return (
                f"would shrink the audience from {size_before:,} to {size_after:,} members, below "
                f"{self.owner} minimum of {self.min_size:,}; rerun with --force to accept"
            )
        return None
