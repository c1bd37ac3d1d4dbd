"""Fixtures of the standards tests."""

from __future__ import annotations

import pytest

from hil.standards import MeterRating
from tests.standards.ratings import make_rating


@pytest.fixture
def default_meter() -> MeterRating:
    """The default simulated meter's rating (see tests/standards/ratings.py)."""
    return make_rating()
