"""POST /api/strategies/{id}/test and /api/backtests: backtests as background jobs.

The service is the daemon's own (:class:`~forexbot.backtest.service.DaemonBacktests` over a
real process pool and the real ``market_data`` table); only the strategy instances come from
a small in-test source.
"""

from __future__ import annotations

import copy
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
import pytest_asyncio
from polling import eventually
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.backtest.jobs import BacktestJobs
from forexbot.backtest.runner import Backtest, BacktestSpec
from forexbot.backtest.service import DaemonBacktests
from forexbot.config.models import RiskSettings, TerminalSettings
from forexbot.database.market_data import MarketDataRepository
from forexbot.domain.market import Timeframe

from ._support import Api, MakeApi

pytestmark = pytest.mark.db

STRATEGY_ID = "sma_cross:EURUSD:H1"
PARAMS = {"fast_period": 5, "slow_period": 20, "atr_period": 14, "stop_atr_multiplier": 3.0}
RISK = RiskSettings()
TERMINAL = TerminalSettings()
BODY = {"from": "2024-03-04", "to": "2024-03-18"}


class Instances:
    """One strategy instance, described as the strategy control describes it."""

    def __init__(self) -> None:
        self.entry = {
            "id": STRATEGY_ID,
            "strategy": "sma_cross",
            "symbol": "EURUSD",
            "timeframe": "H1",
            "params": PARAMS,
            "risk_multiplier": 1.0,
            "volume": None,
            "management": {},
        }

    def get_strategy(self, strategy_id: str) -> dict[str, Any] | None:
        return copy.deepcopy(self.entry) if strategy_id == STRATEGY_ID else None


@pytest_asyncio.fixture(loop_scope="function")
async def service(db_engine: AsyncEngine) -> AsyncIterator[DaemonBacktests]:
    backtests = DaemonBacktests(
        BacktestJobs(workers=1, max_active=2),
        Instances(),
        lambda: RISK,
        TERMINAL,
        MarketDataRepository(db_engine),
    )
    yield backtests
    await backtests.close()


@pytest_asyncio.fixture(loop_scope="function")
async def api(make_api: MakeApi, service: DaemonBacktests) -> Api:
    return await make_api(backtests=service)


async def call(
    api: Api, method: str, path: str, *, role: str = "trader", json: Any = None
) -> tuple[int, Any, Any]:
    async with api.session.request(
        method, api.url(path), headers=api.auth(role), json=json
    ) as resp:
        body = await resp.json() if resp.content_type == "application/json" else await resp.text()
        return resp.status, body, resp.headers


async def finished(api: Api, job_id: str, timeout: float = 90.0) -> dict[str, Any]:
    """The job as the API shows it once it is done or failed."""

    async def settled() -> dict[str, Any] | None:
        status, job, _ = await call(api, "GET", f"/api/backtests/{job_id}", role="viewer")
        assert status == 200
        return job if job["state"] in ("done", "failed") else None

    return await eventually(
        settled, timeout=timeout, what=f"backtest {job_id} to finish", interval=0.2
    )


async def reference() -> dict[str, Any]:
    """The same backtest as the command line would run it."""
    start = datetime(2024, 3, 4, tzinfo=UTC).timestamp()
    end = datetime(2024, 3, 18, tzinfo=UTC).timestamp()
    spec = BacktestSpec(
        strategy="sma_cross",
        symbol="EURUSD",
        timeframe=Timeframe.H1,
        start=start,
        end=end,
        params=PARAMS,
        risk=RISK,
    )
    return (await Backtest(spec).run()).statistics.to_dict()


async def test_a_trader_starts_a_backtest_and_gets_the_statistics_of_the_command_line(
    api: Api,
) -> None:
    status, job, headers = await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=BODY)
    assert status == 202
    assert job["state"] in ("queued", "running")
    assert headers["Location"] == f"/api/backtests/{job['id']}"
    assert job["status_url"] == headers["Location"]
    done = await finished(api, job["id"])
    assert done["state"] == "done", done["error"]
    assert done["result"]["statistics"] == await reference()
    assert done["progress"]["bars_done"] == done["progress"]["bars_total"] > 200
    assert done["progress"]["percent"] == 100.0
    assert len(done["result"]["trades"]) == done["result"]["statistics"]["trades"]
    assert done["result"]["equity"]["equity"][0] == TERMINAL.sim_balance


async def test_the_html_report_of_a_finished_backtest(api: Api) -> None:
    _, job, _ = await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=BODY)
    await finished(api, job["id"])
    status, page, headers = await call(api, "GET", f"/api/backtests/{job['id']}/report")
    assert status == 200
    assert headers["Content-Type"].startswith("text/html")
    assert page.startswith("<!doctype html>")
    assert 'id="equity-chart"' in page


async def test_the_report_of_an_unfinished_backtest_is_409(api: Api) -> None:
    body = {"from": "2023-01-02", "to": "2024-01-01"}  # a year: still running when asked
    _, job, _ = await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=body)
    status, error, _ = await call(api, "GET", f"/api/backtests/{job['id']}/report")
    assert (status, error["error"]["code"]) == (409, "not_ready")


async def test_a_viewer_may_follow_backtests_but_not_start_one(api: Api) -> None:
    status, error, _ = await call(
        api, "POST", f"/api/strategies/{STRATEGY_ID}/test", role="viewer", json=BODY
    )
    assert (status, error["error"]["code"]) == (403, "forbidden")
    status, listing, _ = await call(api, "GET", "/api/backtests", role="viewer")
    assert (status, listing) == (200, {"items": []})


async def test_an_unknown_strategy_is_404(api: Api) -> None:
    status, error, _ = await call(api, "POST", "/api/strategies/ma_rsi:GBPUSD:M5/test", json=BODY)
    assert (status, error["error"]["code"]) == (404, "not_found")


@pytest.mark.parametrize(
    ("body", "fragment"),
    [
        ({"from": "2024-03-04"}, "to"),
        ({**BODY, "speed": "max"}, "speed"),
        ({**BODY, "spread_points": -1}, "spread_points"),
        ({**BODY, "data": "csv"}, "data"),
        ({**BODY, "from": "yesterday"}, "from"),
    ],
)
async def test_a_malformed_request_is_422_naming_the_field(
    api: Api, body: dict[str, Any], fragment: str
) -> None:
    status, error, _ = await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=body)
    assert (status, error["error"]["code"]) == (422, "validation_error")
    assert fragment in error["error"]["message"]


@pytest.mark.parametrize(
    ("changes", "fragment"),
    [
        ({"from": "2024-03-18", "to": "2024-03-04"}, "'to' must be after 'from'"),
        ({"params": {"fast_period": 30}}, "fast_period (30) must be below slow_period (20)"),
        ({"params": {"speed": 1}}, "speed"),
        ({"data": "db"}, "forexbot data import"),
    ],
)
async def test_a_request_the_strategy_or_the_data_refuse_is_422_with_the_reason(
    api: Api, changes: dict[str, Any], fragment: str
) -> None:
    status, error, _ = await call(
        api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json={**BODY, **changes}
    )
    assert (status, error["error"]["code"]) == (422, "validation_error")
    assert fragment in error["error"]["message"]


async def test_a_full_queue_is_429_with_retry_after(api: Api) -> None:
    year = {"from": "2023-01-02", "to": "2024-01-01"}
    for _ in range(2):
        status, _, _ = await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=year)
        assert status == 202
    status, error, headers = await call(
        api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=BODY
    )
    assert (status, error["error"]["code"]) == (429, "too_many_backtests")
    assert headers["Retry-After"] == "30"


async def test_starting_a_backtest_is_audited(api: Api) -> None:
    _, job, _ = await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=BODY)
    rows = [e for e in await api.system_logs.recent(10) if e.event == "backtest_started"]
    assert len(rows) == 1
    assert rows[0].context["job"] == job["id"]
    assert rows[0].context["strategy_id"] == STRATEGY_ID
    assert rows[0].actor == "tester"


async def test_jobs_are_listed_newest_first_without_their_results(api: Api) -> None:
    first = (await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=BODY))[1]
    await finished(api, first["id"])
    second = (await call(api, "POST", f"/api/strategies/{STRATEGY_ID}/test", json=BODY))[1]
    status, listing, _ = await call(api, "GET", "/api/backtests", role="viewer")
    assert status == 200
    assert [j["id"] for j in listing["items"]] == [second["id"], first["id"]]
    assert all("result" not in j for j in listing["items"])
