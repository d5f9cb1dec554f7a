"""The async MetaTrader 5 connector.

It owns the conversation with a terminal (real, bridged or simulated) and turns it into domain
values and events:

* every call runs on the :class:`~forexbot.connectors.worker.TerminalWorker` thread;
* ticks are polled with ``copy_ticks_from`` from the last tick seen, so no tick is missed
  between two polls (``symbol_info_tick`` alone would skip them), and deduplicated by their
  millisecond time;
* bars are built from those ticks (:mod:`~forexbot.connectors.bar_builder`) and published when
  they close; the bars about to close (within ``forming_horizon`` seconds of their end) are
  published as they stand after each poll that changed them
  (:class:`~forexbot.events.types.FormingBarsEvent`), so the strategies can analyse them ahead;
* broker server time is converted to UTC with an offset learned from fresh ticks: nothing past
  the connector sees server time;
* when the terminal fails, the connector reports ``DISCONNECTED``, reconnects with exponential
  backoff and jitter, selects its symbols again and goes on polling from the last tick seen.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import structlog

from forexbot.clock import Clock
from forexbot.connectors import mt5_constants as mt5c
from forexbot.connectors.bar_builder import BarBuilder
from forexbot.connectors.conversions import (
    account_state_of,
    bar_of,
    deal_of,
    offset_from,
    position_of,
    symbol_spec_of,
    terminal_error,
    tick_of,
)
from forexbot.connectors.poll_snapshot import (
    MARGIN_READ_AHEAD_SYMBOLS,
    REFERENCE_LOTS,
    PolledAccount,
    PolledMargins,
)
from forexbot.connectors.terminal_api import TerminalApi
from forexbot.connectors.tick_cursor import TickCursor
from forexbot.connectors.worker import TerminalWorker
from forexbot.daemon.tasks import stop_task
from forexbot.domain.market import Bar, SymbolSpec, Tick, Timeframe
from forexbot.domain.trading import AccountState, Deal, OrderResult, Position, Side
from forexbot.errors import TerminalError, TerminalTimeout
from forexbot.events.bus import EventBus
from forexbot.events.types import (
    BarEvent,
    ConnectionState,
    ConnectionStateEvent,
    FormingBarsEvent,
    TickEvent,
)

_log = structlog.get_logger("forexbot.connector")

_MAX_TICKS_PER_POLL = 100_000


def _retrieve(task: asyncio.Task[Any]) -> None:
    if not task.cancelled():
        task.exception()


class MT5Connector:
    """Polls a terminal for ticks, builds bars, and exposes the terminal to the engine."""

    def __init__(
        self,
        terminal: TerminalApi,
        worker: TerminalWorker,
        bus: EventBus,
        clock: Clock,
        symbols: Sequence[str],
        timeframes: Sequence[Timeframe],
        poll_interval: float,
        reconnect_max_delay: float = 30.0,
        health_interval: float = 5.0,
        initialize_kwargs: Mapping[str, Any] | None = None,
        forming_horizon: float = 0.0,
    ) -> None:
        """``forming_horizon``: how long (seconds) before its end a forming bar is published
        for speculative analysis (0: never)."""
        self._terminal = terminal
        self._worker = worker
        self._bus = bus
        self._clock = clock
        self.symbols = tuple(symbols)
        self._timeframes = tuple(timeframes)
        self._poll_interval = poll_interval
        self._reconnect_max_delay = reconnect_max_delay
        self._health_interval = health_interval
        self._initialize_kwargs = dict(initialize_kwargs or {})
        self._forming_horizon = forming_horizon
        self._forming_published: tuple[Bar, ...] = ()
        self._specs: dict[str, SymbolSpec] = {}
        self._builders: dict[str, BarBuilder] = {}
        self._cursors: dict[str, TickCursor] = {}
        self._last_tick: dict[str, Tick] = {}
        # What bar-closing polls and order answers read besides (see poll_snapshot).
        self._polled_account: PolledAccount | None = None
        self._polled_margins: asyncio.Task[PolledMargins] | None = None
        self._trade_requests = 0
        self._server_offset = 0
        self._task: asyncio.Task[None] | None = None
        self.state = ConnectionState.STOPPED
        self.ticks_published = 0
        self.bars_published = 0
        self.reconnects = 0
        self.poll_failures = 0

    # -- lifecycle ------------------------------------------------------------------------------

    async def start(self) -> None:
        """Connect, select the watchlist, learn the server offset, seed the bar builders and
        start polling. Raises :class:`TerminalError` when the terminal cannot be reached."""
        self._set_state(ConnectionState.CONNECTING, "starting")
        await self._connect()
        await self._seed_builders()
        self._set_state(ConnectionState.CONNECTED, "polling")
        self._task = asyncio.get_running_loop().create_task(self._poll_forever(), name="poller")

    async def stop_polling(self, timeout: float = 5.0) -> None:
        """Stop producing ticks and bars; the terminal stays usable for orders in flight.

        The poller is cancelled until it has stopped (a cancellation can be lost by code it
        awaits), for at most ``timeout`` seconds; past that it is left behind with an error.
        """
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task, timeout=timeout)

    async def close(self) -> None:
        """Stop polling and shut the terminal connection down."""
        await self.stop_polling()
        margins, self._polled_margins = self._polled_margins, None
        if margins is not None:
            await stop_task(margins, timeout=5.0)
        with contextlib.suppress(TerminalError):
            await self._worker.call(self._terminal.shutdown)
        self._set_state(ConnectionState.STOPPED, "stopped")

    async def _connect(self) -> None:
        await self._call("initialize", self._terminal.initialize, **self._initialize_kwargs)
        for symbol in self.symbols:
            await self._call(
                f"symbol_select({symbol!r})", self._terminal.symbol_select, symbol, True
            )
            if symbol not in self._specs:
                self._specs[symbol] = await self._load_spec(symbol)
        await self._learn_server_offset()

    async def _load_spec(self, symbol: str) -> SymbolSpec:
        info = await self._call(f"symbol_info({symbol!r})", self._terminal.symbol_info, symbol)
        return symbol_spec_of(info)

    async def _learn_server_offset(self) -> None:
        """Server time = UTC + offset. Learned from the freshest tick: a tick is at most a few
        seconds old, and brokers' offsets are whole or half hours, so rounding is exact."""
        now = self._clock.time()

        def freshest() -> float | None:
            times = []
            for symbol in self.symbols:
                tick = self._terminal.symbol_info_tick(symbol)
                if tick is not None:
                    times.append(tick.time_msc / 1000.0)
            return max(times) if times else None

        latest = await self._worker.call(freshest)
        if latest is None:
            _log.warning("no tick to learn the server time offset from; assuming UTC")
            return
        offset = offset_from(latest, now)
        if offset is None:
            _log.warning(
                "the freshest tick is stale; server time offset kept",
                offset=self._server_offset,
            )
            return
        if offset != self._server_offset:
            _log.info("server time offset learned", offset_seconds=offset)
        self._set_offset(offset)

    def _set_offset(self, offset: int) -> None:
        """One place changes the offset, so the bar builders always align with it."""
        self._server_offset = offset
        for builder in self._builders.values():
            builder.server_offset = offset

    async def _seed_builders(self) -> None:
        """Seed each builder with the terminal's forming bars and the last closed ones, and set
        the tick cursor to the current tick, so live bars continue the terminal's exactly."""
        symbols, timeframes = self.symbols, self._timeframes

        def snapshot() -> dict[str, tuple[Any, dict[int, Any]]]:
            out: dict[str, tuple[Any, dict[int, Any]]] = {}
            for symbol in symbols:
                tick = self._terminal.symbol_info_tick(symbol)
                rates = {
                    tf.mt5_value: self._terminal.copy_rates_from_pos(symbol, tf.mt5_value, 0, 2)
                    for tf in timeframes
                }
                out[symbol] = (tick, rates)
            return out

        data = await self._worker.call(snapshot)
        for symbol, (tick, rates) in data.items():
            builder = BarBuilder(symbol, self._specs[symbol].point, timeframes, self._server_offset)
            latest = {
                tf: [self.bar_of(symbol, tf, row) for row in rates[tf.mt5_value]]
                for tf in timeframes
                if rates[tf.mt5_value] is not None
            }
            builder.continue_from(latest, self._clock.time())
            self._builders[symbol] = builder
            if tick is not None:
                self._cursors[symbol] = TickCursor(int(tick.time_msc), seen_at_last=1)
                self._last_tick[symbol] = self._tick(
                    symbol, tick.time_msc, tick.bid, tick.ask, tick.last, tick.volume
                )

    # -- polling --------------------------------------------------------------------------------

    async def _poll_forever(self) -> None:
        loop = asyncio.get_running_loop()
        next_health_check = loop.time() + self._health_interval
        while True:
            try:
                if loop.time() >= next_health_check:
                    await self.check_health()
                    next_health_check = loop.time() + self._health_interval
                await self.poll_once()
            except asyncio.CancelledError:
                raise
            except TerminalError as exc:
                await self._recover(exc)
                continue
            except Exception as exc:
                # A bug must not silently end polling: report it, then treat the terminal as
                # failed and reconnect, which resynchronises everything.
                self.poll_failures += 1
                _log.exception("tick poll failed unexpectedly")
                await self._recover(TerminalError(f"poll failed: {exc!r}"))
                continue
            await asyncio.sleep(self._poll_interval)

    async def check_health(self) -> None:
        """Raise :class:`TerminalError` unless the terminal answers and is connected to its
        trade server. Polls alone do not tell: a terminal that lost its broker still answers
        ``copy_ticks_from`` — with nothing new."""
        info = await self._call("terminal_info", self._terminal.terminal_info)
        if not info.connected:
            raise TerminalError("the terminal is not connected to its trade server")

    async def poll_once(self) -> int:
        """Fetch every new tick, publish ticks and closed bars; returns the number of ticks.

        A poll that closes a bar also reads the account in the same worker job, and the
        margins in the next (:mod:`~forexbot.connectors.poll_snapshot`): the risk manager
        decides the bar's signals on them without asking the terminal again."""
        started_at = self._clock.time()
        now_msc = int((started_at + self._server_offset) * 1000)
        cursors = {
            s: cursor.last_msc if (cursor := self._cursors.get(s)) else now_msc
            for s in self.symbols
        }
        due = {s: b.next_close() for s, b in self._builders.items()}
        quotes = {s: (t.bid, t.ask) for s, t in self._last_tick.items()}
        seen = {s: cursor.last_msc for s, cursor in self._cursors.items()}
        offset = self._server_offset  # the job reads this, not the attribute the loop changes
        generation = self._trade_requests

        def fetch() -> tuple[dict[str, Any], float, dict[str, tuple[float, float]], Any]:
            out = {}
            for symbol, msc in cursors.items():
                ticks = self._terminal.copy_ticks_from(
                    symbol, msc // 1000, _MAX_TICKS_PER_POLL, mt5c.COPY_TICKS_ALL
                )
                if ticks is None:  # read the error at once, before another call replaces it
                    raise terminal_error(
                        f"copy_ticks_from({symbol!r}) failed", self._terminal.last_error()
                    )
                out[symbol] = ticks
            received = time.perf_counter()
            closing = self._closing(out, due, quotes, seen, started_at, offset)
            return (
                out,
                received,
                closing,
                self._read_account(generation, started_at) if closing else None,
            )

        batches, received, closing, account = await self._worker.call(fetch)
        if closing:
            # The margins are read by the next job, while the loop builds and analyses the
            # bars: the ticks are not held back for them; not for a wide burst (see
            # poll_snapshot).
            self._polled_account = account
            self._polled_margins = (
                self._read_margins_later(closing, started_at)
                if len(closing) <= MARGIN_READ_AHEAD_SYMBOLS
                else None
            )
        self._observe_server_time(batches, started_at)
        count = 0
        for symbol, ticks in batches.items():
            count += self._ingest(symbol, ticks, received)
        for builder in self._builders.values():
            for bar in builder.close_due(started_at):
                self._publish_bar(bar, received)
        if self._forming_horizon > 0:
            self._publish_forming(started_at)
        return count

    def _publish_forming(self, now: float) -> None:
        """Publish the bars closing within the horizon when they differ from the last ones
        published (a tick changed one, one entered the horizon); nothing when none is near."""
        deadline = now + self._forming_horizon
        forming = tuple(
            bar for builder in self._builders.values() for bar in builder.forming_until(deadline)
        )
        if forming and forming != self._forming_published:
            self._bus.publish(FormingBarsEvent(forming))
        self._forming_published = forming

    def _closing(
        self,
        batches: Mapping[str, Any],
        due: Mapping[str, float | None],
        quotes: Mapping[str, tuple[float, float]],
        seen: Mapping[str, int],
        now: float,
        offset: int,
    ) -> dict[str, tuple[float, float]]:
        """The symbols whose bar this poll may close (a tick or the clock past the end of
        the forming bar, or of the first tick's bar when none was forming), with their latest
        (bid, ask). Runs in the worker job; errs on the side of reading."""
        closing = {}
        for symbol, forming_end in due.items():
            ticks, end = batches.get(symbol), forming_end
            latest, quote = now, quotes.get(symbol)
            if ticks is not None and len(ticks):
                times = ticks["time_msc"]
                latest = max(now, int(times[-1]) / 1000.0 - offset)
                quote = (float(ticks["bid"][-1]), float(ticks["ask"][-1]))
                fresh = int(np.searchsorted(times, seen.get(symbol, -1), side="right"))
                if end is None and fresh < len(times):  # the first new tick opens a bar
                    first = int(times[fresh]) / 1000.0 - offset
                    end = self._builders[symbol].period_end(first, offset)
            if end is not None and latest >= end and quote is not None:
                closing[symbol] = quote
        return closing

    def _read_account(self, generation: int, now: float) -> PolledAccount | None:
        """``account_info()`` as a :class:`PolledAccount`; None when the terminal gives none.
        Runs in a worker job, after the ticks or an order's answer: it never raises, so a
        failure here cannot turn a sent order or a poll into an error (the account is then
        asked for when needed, and that call reports the failure)."""
        try:
            raw = self._terminal.account_info()
            return None if raw is None else PolledAccount(generation, now, account_state_of(raw))
        except Exception:
            return None

    def _read_margins(
        self, closing: Mapping[str, tuple[float, float]], now: float
    ) -> PolledMargins:
        """Per closing symbol and side, the margin of
        :data:`~forexbot.connectors.poll_snapshot.REFERENCE_LOTS` at its quote. Runs in the
        worker job; a figure the terminal does not give is left out (asked for later)."""
        margins: dict[tuple[str, Side], tuple[float, float]] = {}
        for symbol, (bid, ask) in closing.items():
            for side, order_type, price in (
                (Side.BUY, mt5c.ORDER_TYPE_BUY, ask),
                (Side.SELL, mt5c.ORDER_TYPE_SELL, bid),
            ):
                margin = self._terminal.order_calc_margin(order_type, symbol, REFERENCE_LOTS, price)
                if margin is not None:
                    margins[(symbol, side)] = (price, float(margin))
        return PolledMargins(now, margins)

    def _observe_server_time(self, batches: dict[str, Any], now: float) -> None:
        """Follow the broker's offset through daylight-saving changes: the freshest tick of a
        poll is at most one poll interval old, well inside the rounding to half hours."""
        latest = max(
            (int(t["time_msc"][-1]) for t in batches.values() if len(t)),
            default=None,
        )
        if latest is not None:
            self._follow_offset(latest, now)

    def _follow_offset(self, latest_msc: int, now: float) -> None:
        offset = offset_from(latest_msc / 1000.0, now)
        if offset is None or offset == self._server_offset:
            return
        _log.info("server time offset changed", old=self._server_offset, new=offset)
        self._set_offset(offset)

    def _ingest(self, symbol: str, ticks: Any, received: float) -> int:
        if len(ticks) == 0:
            return 0
        cursor = self._cursors.setdefault(symbol, TickCursor())
        builder = self._builders[symbol]
        times = ticks["time_msc"].tolist()
        bids, asks = ticks["bid"].tolist(), ticks["ask"].tolist()
        lasts, volumes = ticks["last"].tolist(), ticks["volume"].tolist()
        fresh = cursor.unseen(times)
        for i in fresh:
            tick = self._tick(symbol, times[i], bids[i], asks[i], lasts[i], volumes[i])
            self._last_tick[symbol] = tick
            for bar in builder.on_tick(tick):
                self._publish_bar(bar, received)
            self._bus.publish(TickEvent(tick))
        self.ticks_published += len(fresh)
        return len(fresh)

    def _publish_bar(self, bar: Bar, received: float) -> None:
        self.bars_published += 1
        self._bus.publish(BarEvent(bar, received))

    async def _recover(self, exc: TerminalError) -> None:
        """Reconnect with exponential backoff and jitter until the terminal answers again."""
        self._polled_account = self._polled_margins = None  # not the terminal we reconnect to
        self._set_state(ConnectionState.DISCONNECTED, str(exc))
        attempt = 0
        while True:
            delay = min(self._reconnect_max_delay, 0.5 * 2**attempt)
            await asyncio.sleep(delay * random.uniform(0.5, 1.0))
            attempt += 1
            try:
                with contextlib.suppress(TerminalError):
                    await self._worker.call(self._terminal.shutdown)
                await self._connect()
            except TerminalError as retry_exc:
                _log.warning("reconnect failed", attempt=attempt, error=str(retry_exc))
                continue
            self.reconnects += 1
            self._set_state(ConnectionState.CONNECTED, f"reconnected after {attempt} attempt(s)")
            return

    def _set_state(self, state: ConnectionState, detail: str) -> None:
        if state is self.state:
            return
        self.state = state
        log = _log.warning if state is ConnectionState.DISCONNECTED else _log.info
        log("terminal connection", state=state.value, detail=detail)
        self._bus.publish(ConnectionStateEvent(state, detail, self._clock.time()))

    # -- conversions ----------------------------------------------------------------------------

    def to_utc(self, server_epoch: float) -> float:
        """Broker server time → UTC epoch seconds."""
        return server_epoch - self._server_offset

    @property
    def server_offset(self) -> int:
        return self._server_offset

    def _tick(
        self, symbol: str, msc: int, bid: float, ask: float, last: float, volume: float
    ) -> Tick:
        return tick_of(symbol, msc, bid, ask, last, volume, self._server_offset)

    def bar_of(self, symbol: str, tf: Timeframe, row: Any) -> Bar:
        """A row of the terminal's rates (``copy_rates_*``) as a bar, its time in UTC."""
        return bar_of(symbol, tf, row, self._server_offset)

    async def _call(
        self,
        what: str,
        fn: Callable[..., Any],
        *args: Any,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        """Run a terminal function on the worker; a None or False answer raises
        :class:`TerminalError` with ``last_error()`` read in the same worker job, before any
        other call can replace it."""

        def run() -> Any:
            result = fn(*args, **kwargs)
            if result is None or result is False:
                raise terminal_error(f"{what} failed", self._terminal.last_error())
            return result

        run.__name__ = what  # named in a timeout's message
        return await self._worker.call(run, timeout=timeout)

    # -- queries for the engine -----------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec:
        """The symbol's specification (loaded at start)."""
        return self._specs[symbol]

    def last_tick(self, symbol: str) -> Tick | None:
        """The newest tick polled for ``symbol``."""
        return self._last_tick.get(symbol)

    async def history(self, symbol: str, timeframe: Timeframe, count: int) -> list[Bar]:
        """The last ``count`` *closed* bars, oldest first.

        Position 0 is the terminal's latest bar: still forming, or — when no tick has come
        since its period ended (a quiet market, a clock standing on the boundary) — already
        closed, and then it is history too.
        """
        rates = await self._call(
            f"copy_rates_from_pos({symbol!r}, {timeframe.name})",
            self._terminal.copy_rates_from_pos,
            symbol,
            timeframe.mt5_value,
            0,
            count + 1,
        )
        bars = [self.bar_of(symbol, timeframe, row) for row in rates]
        if bars and bars[-1].time + timeframe.seconds > self._clock.time():
            bars.pop()  # forming
        return bars[-count:] if count > 0 else []

    async def account_identity(self) -> tuple[str, int]:
        """The trade server and login of the account the terminal is logged into."""
        info = await self._call("account_info", self._terminal.account_info)
        return str(info.server), int(info.login)

    async def account(self) -> AccountState:
        return account_state_of(await self._call("account_info", self._terminal.account_info))

    def polled_account(self) -> AccountState | None:
        """The account read by the last bar-closing poll or order answer, while it holds (see
        :mod:`~forexbot.connectors.poll_snapshot`); None: ask :meth:`account`."""
        polled = self._polled_account
        if polled is None or not polled.usable(self._trade_requests, self._clock.time()):
            return None
        return polled.account

    async def polled_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float | None:
        """The margin of ``volume`` lots at ``price`` as read for the last bar-closing poll
        (waiting for that read if it is still running), while it holds and was read at that
        price; None: ask :meth:`order_calc_margin`. Raises :class:`TerminalTimeout` when
        that read timed out (the terminal is stuck)."""
        task = self._polled_margins
        if task is None or task.cancelled():
            return None
        try:
            margins = await asyncio.shield(task)
        except TerminalTimeout:
            raise  # the terminal is stuck: asking again would wait as long
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if current is not None and current.cancelling():
                raise  # we are cancelled, not the read (closed with the connector)
            return None
        except Exception:  # the read failed: asking the terminal says why
            return None
        return margins.margin(side, symbol, volume, price, self._clock.time())

    def _read_margins_later(
        self, closing: Mapping[str, tuple[float, float]], now: float
    ) -> asyncio.Task[PolledMargins]:
        task = asyncio.get_running_loop().create_task(
            self._worker.call(self._read_margins, closing, now), name="poll-margins"
        )
        task.add_done_callback(_retrieve)  # a failed read is only a read to make later
        return task

    async def positions(self, magic: int | None = None) -> list[Position]:
        """Open positions, optionally only those carrying ``magic``."""
        raw = await self._call("positions_get", self._terminal.positions_get)
        return [
            position_of(p, self._server_offset) for p in raw if magic is None or p.magic == magic
        ]

    async def deals_for_position(self, position_ticket: int) -> list[Deal]:
        """Every deal of a position (entry and exits), oldest first."""
        raw = await self._call(
            "history_deals_get", self._terminal.history_deals_get, position=position_ticket
        )
        return self._deals(raw)

    async def deals_of_order(self, order_ticket: int) -> list[Deal]:
        """The deals an order produced (MetaTrader selects deals by their order's ticket)."""
        raw = await self._call(
            "history_deals_get", self._terminal.history_deals_get, ticket=order_ticket
        )
        return self._deals(raw)

    async def deals_between(self, utc_from: float, utc_to: float) -> list[Deal]:
        """Every deal from ``utc_from`` to ``utc_to`` (UTC epoch seconds), oldest first."""
        raw = await self._call(
            "history_deals_get",
            self._terminal.history_deals_get,
            int(utc_from + self._server_offset),
            int(utc_to + self._server_offset) + 1,
        )
        return self._deals(raw)

    def _deals(self, raw: Any) -> list[Deal]:
        deals = [deal_of(d, self._server_offset) for d in raw]
        deals.sort(key=lambda d: (d.time, d.ticket))
        return deals

    async def order_calc_margin(
        self, side: Side, symbol: str, volume: float, price: float
    ) -> float:
        """Margin (account currency) an order would need, as the terminal computes it."""
        order_type = mt5c.ORDER_TYPE_BUY if side is Side.BUY else mt5c.ORDER_TYPE_SELL
        margin = await self._call(
            f"order_calc_margin({symbol!r})",
            self._terminal.order_calc_margin,
            order_type,
            symbol,
            float(volume),
            float(price),
        )
        return float(margin)

    async def fresh_tick(self, symbol: str) -> Tick:
        """The terminal's current quote for ``symbol`` (for a resend at a fresh price)."""
        raw = await self._call(
            f"symbol_info_tick({symbol!r})", self._terminal.symbol_info_tick, symbol
        )
        return self._tick(symbol, raw.time_msc, raw.bid, raw.ask, raw.last, raw.volume)

    async def refresh_quote(self, symbol: str) -> Tick:
        """Fetch ``symbol``'s current quote, make it the last tick, and follow the server
        offset from it. For a caller that moves the clock in jumps instead of polling (the
        backtester): risk checks then see the quote of the simulated now."""
        raw = await self._call(
            f"symbol_info_tick({symbol!r})", self._terminal.symbol_info_tick, symbol
        )
        self._follow_offset(int(raw.time_msc), self._clock.time())
        tick = self._tick(symbol, raw.time_msc, raw.bid, raw.ask, raw.last, raw.volume)
        self._last_tick[symbol] = tick
        return tick

    async def order_send(
        self, request: dict[str, Any], timeout: float | None = None
    ) -> OrderResult:
        """Send a trade request. Raises :class:`TerminalError` when the terminal refused the
        request itself (None + last_error), and :class:`TerminalTimeout` when the outcome is
        unknown; a trade-server answer, accepted or not, comes back as the result."""
        self._trade_requests += 1  # an account read before this no longer holds
        generation, now = self._trade_requests, self._clock.time()

        def send() -> tuple[Any, PolledAccount | None]:
            answer = self._terminal.order_send(request)
            if answer is None:  # read the error at once, before another call replaces it
                raise terminal_error("order_send failed", self._terminal.last_error())
            return answer, self._read_account(generation, now)

        send.__name__ = "order_send"  # named in a timeout's message
        result, account = await self._worker.call(send, timeout=timeout)
        if account is not None and account.generation == self._trade_requests:
            self._polled_account = account
        return OrderResult(
            retcode=int(result.retcode),
            order=int(result.order),
            deal=int(result.deal),
            volume=float(result.volume),
            price=float(result.price),
            bid=float(result.bid),
            ask=float(result.ask),
            comment=str(result.comment),
        )
