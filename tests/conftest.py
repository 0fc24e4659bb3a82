from __future__ import annotations

from pathlib import Path

import pytest

from replenish import Poisson, Problem

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def bike() -> Problem:
    """The bike-shop reference instance."""
    return Problem(demand=Poisson(4), lead_time=1, capacity=10, excess_demand="lost",
                   holding_cost=8, stockout_cost=10, discount=0.9, name="bike-shop")


@pytest.fixture
def bike_config() -> Path:
    return ROOT / "configs" / "bike_shop.toml"
