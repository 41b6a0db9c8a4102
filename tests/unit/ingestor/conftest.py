"""Shared fixtures for the ingestor's unit tests."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.ingestor.domain import Rates


@pytest.fixture
def rates() -> Rates:
    """USD base with the currencies the tests use."""
    return Rates(
        base="USD",
        rates={
            "BRL": Decimal("0.20"),
            "CAD": Decimal("0.74"),
            "EUR": Decimal("1.08"),
            "JPY": Decimal("0.0067"),
            "INR": Decimal("0.012"),
        },
    )
