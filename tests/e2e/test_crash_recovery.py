"""SIGKILL of the daemon while orders are in flight and positions are open, then a restart:
the database and the terminal agree, no order was sent twice, every trade is accounted for.

The paper account lives in the data directory like a broker's account: the kill does not
touch it. The simulated terminal answers every ``order_send`` 1.5 s late (fault injection:
the order executes at once, the answer is slow), so the kill lands with one order executed
but unrecorded and others written but not yet sent — the two cases reconciliation exists for.
"""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from daemon_kit import Daemon, Seeds, daemon_env, free_port, login

pytestmark = pytest.mark.e2e

MAGIC = 2_026_001  # terminal.magic's default
SYMBOLS = ("EURUSD", "GBPUSD", "USDJPY")
STRATEGIES = "instances:\n  - strategy: ma_rsi\n    timeframe: M1\n    enabled: false\n"


async def current_bids(http: aiohttp.ClientSession, base: str, token: str) -> dict[str, float]:
    """The bid of each traded symbol, from the quotes stream."""
    bids: dict[str, float] = {}
    async with http.ws_connect(f"{base}/ws/quotes?token={token}") as ws:
        await ws.send_json({"action": "subscribe", "symbols": list(SYMBOLS)})
        while len(bids) < len(SYMBOLS):
            message = await asyncio.wait_for(ws.receive_json(), 30)
            if message.get("channel") == "quotes" and "data" in message:
                bids[message["data"]["symbol"]] = message["data"]["bid"]
    return bids


async def open_trade(
    http: aiohttp.ClientSession,
    base: str,
    headers: dict[str, str],
    bids: dict[str, float],
    symbol: str,
    side: str,
) -> tuple[int, dict[str, Any]]:
    # A stop-loss 1.5 % away: far enough for the test's minutes, valid for either side.
    factor = 0.985 if side == "buy" else 1.015
    sl = round(bids[symbol] * factor, 3 if symbol == "USDJPY" else 5)
    body = {"symbol": symbol, "side": side, "volume": 0.1, "sl": sl}
    async with http.post(f"{base}/api/trades", json=body, headers=headers) as resp:
        return resp.status, await resp.json()


async def snapshot(
    base: str, codes: list[str]
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    async with aiohttp.ClientSession() as http:
        token = await login(http, base, codes)
        headers = {"Authorization": f"Bearer {token}"}
        async with http.get(f"{base}/api/trades?limit=500", headers=headers) as resp:
            trades = (await resp.json())["items"]
        async with http.get(f"{base}/api/positions", headers=headers) as resp:
            positions = (await resp.json())["items"]
    return trades, positions


async def test_sigkill_with_orders_in_flight_then_restart_agrees_with_the_terminal(
    workdir: Path, seeds: Seeds
) -> None:
    data_dir = workdir / "data"
    strategies = workdir / "strategies.yaml"
    strategies.write_text(STRATEGIES)
    calm = {
        "FOREXBOT_STRATEGY__FILE": str(strategies),  # only manual trades in this test
        "FOREXBOT_RISK__MAX_OPEN_POSITIONS": "20",
        "FOREXBOT_RISK__MAX_POSITIONS_PER_SYMBOL": "10",
        "FOREXBOT_RISK__RISK_PER_TRADE_PERCENT": "5",
    }
    slow = {"FOREXBOT_TERMINAL__SIM_FAULTS": "{order_reply_delay_seconds: 1.5}"}

    def environment(**extra: str) -> dict[str, str]:
        env = daemon_env(data_dir, **calm, **extra)
        del env["FOREXBOT_STRATEGY__TIMEFRAME"]  # the strategies file says its own timeframe
        return env

    env = environment(**slow)
    codes = await seeds.admin(data_dir, env)
    daemon = Daemon(data_dir, free_port(), workdir / "daemon.log", env, args=("--sim-speed", "1"))
    try:
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            token = await login(http, daemon.base, codes)
            headers = {"Authorization": f"Bearer {token}"}
            bids = await current_bids(http, daemon.base, token)
            # Positions open before the crash, each confirmed (1.5 s apiece).
            for symbol, side in (("EURUSD", "buy"), ("GBPUSD", "sell"), ("USDJPY", "buy")):
                status, trade = await open_trade(http, daemon.base, headers, bids, symbol, side)
                assert status == 201, trade
            # Orders in flight when the power goes.
            in_flight = [
                asyncio.create_task(open_trade(http, daemon.base, headers, bids, symbol, side))
                for symbol, side in (("EURUSD", "sell"), ("GBPUSD", "buy"), ("USDJPY", "sell"))
            ]
            await asyncio.sleep(0.8)
            assert not any(task.done() for task in in_flight)
            await daemon.sigkill()
            for task in in_flight:
                with pytest.raises(aiohttp.ClientError):
                    await task

        daemon.env = environment()  # the same daemon, without the fault
        await daemon.start()
        trades, positions = await snapshot(daemon.base, codes)

        statuses = Counter(t["status"] for t in trades)
        assert set(statuses) <= {"open", "closed", "cancelled", "rejected"}, statuses
        assert statuses["open"] >= 4, statuses  # 3 confirmed + at least the executed one
        open_trades = {t["mt5_position"]: t for t in trades if t["status"] == "open"}
        assert set(open_trades) == {p["ticket"] for p in positions}
        for position in positions:
            trade = open_trades[position["ticket"]]
            assert position["comment"] == trade["client_order_id"]
            assert position["trade_id"] == trade["id"]
            assert position["volume"] == trade["open_volume"]
        code, _ = await daemon.terminate()
        assert code == 0, daemon.log()

        # The broker's books: one entry deal per trade that ever opened, none twice.
        account = json.loads((data_dir / "sim" / "account.json").read_text())
        entries = [d for d in account["deals"] if d["entry"] == 0 and d["magic"] == MAGIC]
        comments = Counter(d["comment"] for d in entries)
        assert max(comments.values()) == 1, comments
        ever_opened = {t["client_order_id"] for t in trades if t["status"] in ("open", "closed")}
        assert set(comments) == ever_opened
        reconciled = [
            json.loads(line)
            for line in daemon.log_path.read_text().splitlines()
            if line.startswith("{") and "reconciliation: " in line
        ]
        kinds = Counter(entry["kind"] for entry in reconciled)
        assert kinds["opened"] >= 1, kinds  # the order executed but never recorded
        assert kinds["opened"] + kinds["cancelled"] == len(trades) - 3
    except BaseException:
        print(f"daemon log (tail):\n{daemon.log()}")
        raise
    finally:
        daemon.kill()
