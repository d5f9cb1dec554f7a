"""End to end: the daemon as a user runs it, driven over HTTP and WebSocket like a client.

One scenario, in the order a trader lives it: a user created (``forexbot user create``, run
once a session and copied: :class:`daemon_kit.Seeds`), start ``forexbot run`` in paper
mode on an accelerated simulated market, watch quotes stream, see the bot trade, stop it with
SIGTERM (exit 0, systemd told STOPPING), start it again and find the same trades.
"""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

import aiohttp
import pytest
from daemon_kit import Daemon, Seeds, daemon_env, free_port, login
from polling import eventually

pytestmark = pytest.mark.e2e

STRATEGY_ID = "ma_rsi:EURUSD:M1"
# The built-in ma_rsi, signalling on every RSI crossing of 50 in a trend (not only on a rebound
# from 40 or 60): its first approved trade comes in seconds, not 25 s into the run.
QUICK_SIGNALS = "{rsi_buy_level: 50, rsi_sell_level: 50}"
TRADE_TIMEOUT = 240.0


async def _quotes(http: aiohttp.ClientSession, base: str, token: str, n: int) -> list[Any]:
    messages = []
    async with http.ws_connect(f"{base}/ws/quotes?token={token}") as ws:
        while len(messages) < n:
            msg = await asyncio.wait_for(ws.receive_json(), 30)
            messages.append(msg)
    return messages


async def _wait_for_trades(
    http: aiohttp.ClientSession, base: str, token: str, daemon: Daemon
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {token}"}

    async def traded() -> dict[str, Any] | None:
        async with http.get(f"{base}/api/trades?limit=500", headers=headers) as resp:
            assert resp.status == 200
            body: dict[str, Any] = await resp.json()
        if body["total"] >= 1 and any(t["status"] in ("open", "closed") for t in body["items"]):
            return body
        return None

    return await eventually(
        traded, timeout=TRADE_TIMEOUT, what="a trade", interval=0.2, detail=daemon.log
    )


def _bind_notify_socket(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    return sock


async def _listen(sock: socket.socket, messages: list[str]) -> None:
    """Read sd_notify datagrams as systemd would, for as long as the daemon runs."""
    loop = asyncio.get_running_loop()
    while True:
        data = await loop.sock_recv(sock, 4096)
        messages.append(data.decode())


async def test_paper_trading_end_to_end(workdir: Path, seeds: Seeds) -> None:
    data_dir = workdir / "data"
    notify_path = workdir / "notify.sock"
    notify = _bind_notify_socket(notify_path)
    sent: list[str] = []
    listener = asyncio.create_task(_listen(notify, sent))
    env = daemon_env(data_dir, notify_path, FOREXBOT_STRATEGY__PARAMS=QUICK_SIGNALS)
    codes = await seeds.admin(data_dir, env)

    daemon = Daemon(data_dir, free_port(), workdir / "daemon.log", env)
    try:
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            base = daemon.base
            async with http.get(f"{base}/api/trades") as resp:
                assert resp.status == 401
                error = (await resp.json())["error"]
                assert error["code"] == "unauthenticated"
                assert error["message"]
            async with http.get(f"{base}/api/positions") as resp:
                assert resp.status == 401

            token = await login(http, base, codes)
            quotes = await _quotes(http, base, token, 5)
            for message in quotes:
                assert message["channel"] == "quotes"
                assert set(message["data"]) == {"symbol", "bid", "ask", "time"}
                assert message["data"]["ask"] >= message["data"]["bid"] > 0

            before = await _wait_for_trades(http, base, token, daemon)
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{base}/api/system/status", headers=headers) as resp:
                assert resp.status == 200
                status = await resp.json()
            assert status["terminal"]["state"] == "connected"
            async with http.get(f"{base}/metrics") as resp:  # public, for Prometheus
                assert resp.status == 200
                exposition = await resp.text()
            ticks_line = next(
                line for line in exposition.splitlines() if line.startswith("forexbot_ticks_total")
            )
            assert float(ticks_line.split()[-1]) > 0

            # Strategies steered at run time: a bad parameter changes nothing, a toggle sticks.
            url = f"{base}/api/strategies/{quote(STRATEGY_ID)}"
            async with http.put(url, json={"params": {"fast_period": 80}}, headers=headers) as r:
                assert r.status == 422
            async with http.get(url, headers=headers) as resp:
                assert (await resp.json())["params"]["fast_period"] == 20
            async with http.put(f"{url}/toggle", headers=headers) as resp:
                assert resp.status == 200
                assert (await resp.json())["enabled"] is False

        await eventually(  # a watchdog period (1 s) has passed: usually long since
            lambda: "WATCHDOG=1" in sent, timeout=10, what="a watchdog ping", detail=daemon.log
        )
        code, took = await daemon.terminate()
        assert code == 0, daemon.log()
        assert took < 10.0
        await asyncio.sleep(0.1)
        assert any("READY=1" in m for m in sent)
        assert "WATCHDOG=1" in sent
        assert "STOPPING=1" in sent

        # Restart: the same trades are there.
        daemon.env.pop("NOTIFY_SOCKET")
        await daemon.start()
        async with aiohttp.ClientSession() as http:
            token = await login(http, daemon.base, codes)
            headers = {"Authorization": f"Bearer {token}"}
            async with http.get(f"{daemon.base}/api/trades?limit=500", headers=headers) as resp:
                after = await resp.json()
            url = f"{daemon.base}/api/strategies/{quote(STRATEGY_ID)}"
            async with http.get(url, headers=headers) as resp:
                assert (await resp.json())["enabled"] is False  # the stored change won
        ids_before = {t["id"]: t["client_order_id"] for t in before["items"]}
        ids_after = {t["id"]: t["client_order_id"] for t in after["items"]}
        assert ids_before.items() <= ids_after.items()
        code, _ = await daemon.terminate()
        assert code == 0, daemon.log()
    except BaseException:
        print(f"daemon log (tail):\n{daemon.log()}")
        raise
    finally:
        listener.cancel()
        daemon.kill()
        notify.close()
