"""/api/market/conditions and /api/market/analysis/{symbol} through the StrategyControl."""

from __future__ import annotations

from typing import Any

import pytest

from ._support import Api

pytestmark = pytest.mark.db

CONDITION = {
    "symbol": "EURUSD",
    "timeframe": "M15",
    "trend": "bullish",
    "volatility": "normal",
    "favourable": True,
    "time": "2024-01-02T03:00:00Z",
}


async def get(api: Api, path: str, role: str = "viewer") -> tuple[int, Any]:
    async with api.session.get(api.url(path), headers=api.auth(role)) as resp:
        return resp.status, await resp.json()


@pytest.mark.parametrize("role", ["viewer", "trader", "admin"])
async def test_conditions_are_the_latest_per_symbol_and_timeframe(api: Api, role: str) -> None:
    assert await get(api, "/api/market/conditions", role) == (200, {"items": [CONDITION]})


async def test_no_conditions_yet_is_an_empty_list(api: Api) -> None:
    api.strategies.conditions.clear()
    assert await get(api, "/api/market/conditions") == (200, {"items": []})


async def test_analysis_of_a_symbol(api: Api) -> None:
    assert await get(api, "/api/market/analysis/EURUSD") == (
        200,
        {
            "symbol": "EURUSD",
            "indicators": {"M15": {"adx": 27.5, "atr": 0.0012}},
            "levels": {"M15": [1.095, 1.1]},
            "conditions": [CONDITION],
        },
    )


async def test_analysis_of_a_symbol_with_spaces_is_found_percent_encoded(api: Api) -> None:
    api.strategies.analyses["Volatility 75 Index"] = {"symbol": "Volatility 75 Index"}
    assert await get(api, "/api/market/analysis/Volatility%2075%20Index") == (
        200,
        {"symbol": "Volatility 75 Index"},
    )


async def test_analysis_of_an_unwatched_symbol_is_404(api: Api) -> None:
    assert await get(api, "/api/market/analysis/GBPUSD") == (
        404,
        {
            "error": {
                "code": "not_found",
                "message": "symbol 'GBPUSD' is not watched",
                "details": None,
            }
        },
    )
