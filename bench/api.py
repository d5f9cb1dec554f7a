"""API speed: authenticated ``GET /api/positions`` per second, and quote fan-out over WebSocket.

The server is the daemon's aiohttp application (``create_app``: the real middlewares —
logging, errors, CORS, rate limits, authentication, audit — and the real routes and
broadcaster), run in a process of its own; positions come from an in-memory source of ten
positions, so the figure is the API's cost, not the database's. The load runs in this
process (and, for WebSocket, a second one), sharing the machine's two cores with the server.

1. **REST**: ``--connections`` concurrent keep-alive clients each send authenticated
   ``GET /api/positions`` for ``--seconds``; requests/s and latency p50/p99.
2. **WebSocket**: ``--clients`` clients on ``/ws/quotes``; the server publishes ``--rate``
   quotes a second for ``--seconds`` (each stamped with the wall clock when published); the
   delivery latency is measured at the clients: p50/p99, and how many of the quotes each client
   received (a slow client is coalesced to the newest price, never allowed to slow the bus).

Run: ``.venv/bin/python bench/api.py [--connections 32] [--clients 500] [--rate 100]``.
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import signal
import statistics
import sys
import time
from typing import Any

import aiohttp
import numpy as np
import orjson

SECRET = "bench-secret-" + "x" * 40
PORT = 18_765


class _Positions:
    async def open_positions(self) -> list[dict[str, Any]]:
        return [
            {"ticket": 100 + i, "trade_id": i, "symbol": "EURUSD", "side": "buy", "volume": 0.1,
             "price_open": 1.1, "price_current": 1.1001, "sl": 1.09, "tp": 1.12,
             "profit": 1.0, "swap": 0.0, "time": "2026-11-30T10:00:00Z", "comment": ""}
            for i in range(10)
        ]  # fmt: skip


class _Unused:
    """Stores the benchmarked routes never reach."""

    def __getattr__(self, name: str) -> Any:
        raise RuntimeError(f"not used by the benchmark: {name}")


class _Logs:
    async def add(self, **_: Any) -> None:
        return None


class _Status:
    async def status(self) -> dict[str, Any]:
        return {}

    def is_healthy(self) -> tuple[bool, dict[str, Any]]:
        return True, {}


def serve(rate: float, quote_seconds: float, ready: Any) -> None:
    """The server process: the API, and a quote publisher once a client asks for it."""
    from forexbot.api.app import create_app  # noqa: PLC0415
    from forexbot.api.ports import ApiServices  # noqa: PLC0415
    from forexbot.api.server import ApiServer  # noqa: PLC0415
    from forexbot.api.tokens import JwtKeys  # noqa: PLC0415
    from forexbot.clock import RealtimeClock  # noqa: PLC0415
    from forexbot.config.models import ApiSettings  # noqa: PLC0415
    from forexbot.domain.market import Tick  # noqa: PLC0415
    from forexbot.events.bus import EventBus  # noqa: PLC0415
    from forexbot.events.types import TickEvent  # noqa: PLC0415
    from forexbot.logs import configure_logging  # noqa: PLC0415

    configure_logging("WARNING", "json", stream=sys.stderr)

    async def main() -> None:
        bus = EventBus()
        services = ApiServices(
            users=_Unused(), trades=_Unused(), system_logs=_Logs(), positions=_Positions(),
            status=_Status(), bus=bus, clock=RealtimeClock(),
        )  # type: ignore[arg-type]  # fmt: skip
        settings = ApiSettings(
            host="127.0.0.1", port=PORT, ws_max_clients=2_000,
            ip_rate_per_second=1e5, ip_burst=1_000_000, user_rate_per_second=1e5,
            user_burst=1_000_000,
        )  # fmt: skip
        server = ApiServer(create_app(services, settings, JwtKeys(SECRET)), settings)
        bus.start()
        await server.start()
        ready.set()
        go = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGUSR1, go.set)
        await go.wait()  # the WebSocket clients are connected
        interval, symbols = 1.0 / rate, ("EURUSD", "GBPUSD", "USDJPY", "XAUUSD")
        started = time.perf_counter()
        n = 0
        while time.perf_counter() - started < quote_seconds:
            n += 1
            bus.publish(TickEvent(Tick(symbols[n % 4], time.time(), 1.1 + n * 1e-5, 1.1002)))
            await asyncio.sleep(max(0.0, started + n * interval - time.perf_counter()))
        await asyncio.sleep(3600)

    asyncio.run(main())


def token() -> str:
    from forexbot.api.tokens import TokenService  # noqa: PLC0415
    from forexbot.clock import RealtimeClock  # noqa: PLC0415

    class User:
        id, username, role = 1, "bench", "viewer"

    issued, _ = TokenService(SECRET, 3600, RealtimeClock()).issue(User())
    return issued


async def rest(connections: int, seconds: float) -> None:
    headers = {"Authorization": f"Bearer {token()}"}
    url = f"http://127.0.0.1:{PORT}/api/positions"
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(connector=connector) as session:
        deadline = time.perf_counter() + seconds

        async def worker() -> None:
            while time.perf_counter() < deadline:
                t = time.perf_counter()
                async with session.get(url, headers=headers) as resp:
                    await resp.read()
                    assert resp.status == 200, resp.status
                latencies.append(time.perf_counter() - t)

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(connections)))
        elapsed = time.perf_counter() - started
    ms = np.array(latencies) * 1e3
    print(f"REST: authenticated GET /api/positions, {connections} connections, {seconds:g} s")
    print(
        f"  {len(latencies) / elapsed:,.0f} requests/s   p50 {np.percentile(ms, 50):.1f} ms   "
        f"p99 {np.percentile(ms, 99):.1f} ms"
    )


def ws_clients(count: int, seconds: float, out: Any, connected: Any) -> None:
    """A client process: ``count`` WebSocket clients; latencies (ms) and counts to ``out``."""

    async def main() -> None:
        url = f"http://127.0.0.1:{PORT}/ws/quotes?token={token()}"
        latencies: list[float] = []
        received = [0] * count
        # No connection limit: aiohttp's default of 100 would hold the other clients back.
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
            sockets = [await session.ws_connect(url, heartbeat=None) for _ in range(count)]
            connected.release()

            async def read(i: int, ws: aiohttp.ClientWebSocketResponse) -> None:
                end = time.time() + seconds + 5
                while time.time() < end:
                    try:
                        msg = await ws.receive(timeout=max(0.1, end - time.time()))
                    except TimeoutError:
                        break
                    if msg.type is not aiohttp.WSMsgType.TEXT:
                        break
                    data = orjson.loads(msg.data)
                    if data.get("channel") == "quotes":
                        stamp = _epoch(data["data"]["time"])
                        latencies.append((time.time() - stamp) * 1e3)
                        received[i] += 1

            await asyncio.gather(*(read(i, ws) for i, ws in enumerate(sockets)))
        out.put((latencies, received))

    asyncio.run(main())


def _epoch(text: str) -> float:
    from datetime import datetime  # noqa: PLC0415

    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def websocket(server: Any, clients: int, rate: float, seconds: float) -> None:
    context = multiprocessing.get_context("spawn")
    out, connected = context.Queue(), context.Semaphore(0)
    halves = [clients // 2, clients - clients // 2]
    workers = [
        context.Process(target=ws_clients, args=(n, seconds, out, connected)) for n in halves
    ]
    for worker in workers:
        worker.start()
    for _ in workers:
        connected.acquire(timeout=120)
    os.kill(server.pid, signal.SIGUSR1)  # start publishing
    results = [out.get(timeout=seconds + 120) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    latencies = np.concatenate([np.array(r[0]) for r in results])
    received = [n for r in results for n in r[1]]
    sent = int(rate * seconds)
    print(f"WebSocket: {clients} clients on /ws/quotes, {rate:g} quotes/s for {seconds:g} s")
    print(
        f"  delivery latency p50 {np.percentile(latencies, 50):.1f} ms   "
        f"p99 {np.percentile(latencies, 99):.1f} ms   max {latencies.max():.0f} ms"
    )
    print(
        f"  quotes received per client: median {statistics.median(received):,.0f} of {sent:,} "
        f"(min {min(received):,}); {len(latencies):,} deliveries in all"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rate", type=float, default=100.0)
    args = parser.parse_args()
    context = multiprocessing.get_context("spawn")
    ready = context.Event()
    server = context.Process(target=serve, args=(args.rate, args.seconds, ready), daemon=True)
    server.start()
    try:
        if not ready.wait(60):
            raise SystemExit("the API server did not start")
        asyncio.run(rest(args.connections, args.seconds))
        print()
        websocket(server, args.clients, args.rate, args.seconds)
    finally:
        server.terminate()


if __name__ == "__main__":
    main()
