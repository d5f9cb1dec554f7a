"""/api/health, /api/system/status and /api/positions."""

from __future__ import annotations

import pytest

from ._support import Api

pytestmark = pytest.mark.db


async def test_health_is_ok_without_authentication(api: Api) -> None:
    async with api.session.get(api.url("/api/health")) as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": "ok", "connection": "connected"}


async def test_health_is_503_unhealthy_when_the_provider_says_so(api: Api) -> None:
    api.status.healthy = False
    api.status.details = {"connection": "disconnected", "status": "ignored"}
    async with api.session.get(api.url("/api/health")) as resp:
        assert resp.status == 503
        assert await resp.json() == {"status": "unhealthy", "connection": "disconnected"}


async def test_health_is_200_degraded_with_the_problems_a_person_must_see(api: Api) -> None:
    problem = "risk_state_not_saved"
    api.status.details = {"connection": "connected", "problems": [problem]}
    async with api.session.get(api.url("/api/health")) as resp:
        assert resp.status == 200
        assert await resp.json() == {
            "status": "degraded",
            "connection": "connected",
            "problems": [problem],
        }


async def test_health_with_problems_but_unhealthy_is_503_unhealthy(api: Api) -> None:
    api.status.healthy = False
    api.status.details = {"connection": "disconnected", "problems": ["x"]}
    async with api.session.get(api.url("/api/health")) as resp:
        assert resp.status == 503
        assert (await resp.json())["status"] == "unhealthy"


async def test_health_is_503_when_the_health_check_itself_fails(api: Api) -> None:
    def broken() -> tuple[bool, dict[str, object]]:
        raise RuntimeError("boom")

    api.status.is_healthy = broken  # type: ignore[method-assign]
    async with api.session.get(api.url("/api/health")) as resp:
        assert resp.status == 503
        assert await resp.json() == {"status": "unhealthy", "error": "health check failed"}


async def test_status_returns_the_providers_status(api: Api) -> None:
    async with api.session.get(api.url("/api/system/status"), headers=api.auth()) as resp:
        assert resp.status == 200
        assert await resp.json() == api.status.payload


async def test_positions_lists_the_engines_open_positions(api: Api) -> None:
    api.positions.items = [
        {"ticket": 501, "symbol": "EURUSD", "side": "buy", "volume": 0.1, "profit": 3.2},
        {"ticket": 502, "symbol": "XAUUSD", "side": "sell", "volume": 0.02, "profit": -1.0},
    ]
    async with api.session.get(api.url("/api/positions"), headers=api.auth()) as resp:
        assert resp.status == 200
        assert await resp.json() == {"items": api.positions.items}


async def test_positions_is_an_empty_list_when_flat(api: Api) -> None:
    async with api.session.get(api.url("/api/positions"), headers=api.auth()) as resp:
        assert await resp.json() == {"items": []}
