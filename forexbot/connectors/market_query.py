"""The market as the API shows it: the watched symbols, their last quote and their bars.

:class:`MarketQuery` answers ``/api/market/symbols``, ``/api/market/quote/{symbol}`` and
``/api/market/data/{symbol}`` (it is the API's ``MarketQuery`` protocol) from what the
connector already knows and, when asked, from the terminal or the ``market_data`` table. It
lives with the connector because that is all it depends on: the connector, its worker thread
and terminal, and anything that reads stored bars (:class:`StoredBars`).

Rules:

* **The loop never blocks.** The terminal is called only on the connector's own
  :class:`~forexbot.connectors.worker.TerminalWorker`, so these calls queue behind the
  poller's instead of racing it; the connector's cached specifications and ticks are read
  directly.
* **A quote is the connector's last polled tick**, never a terminal call: it is the price the
  engine trades on. No tick yet: ``None``. A connector that is not connected raises
  :class:`~forexbot.errors.TerminalError`: its last tick may be stale.
* **Symbols** are the watchlist, in its order: the specification loaded at start, the spread of
  the last tick (``None`` before one), the timeframes the connector builds for every symbol,
  and ``description`` and ``trade_mode`` read fresh from ``symbol_info`` (a broker may switch a
  symbol to close-only during a session). When the terminal does not answer, the last values
  read are shown, ``None`` before any.
* **Bars** are those opening in ``[start, end)`` (UTC), oldest first. When the range holds more
  than ``limit``, the *newest* ``limit`` are returned and ``truncated`` is true: what a chart
  wants, and the page before is the same request with ``end`` = the first bar's time. ``end``
  defaults to now on the trading clock, ``start`` to ``4 × limit`` bar periods before ``end``
  (room for weekends and holidays). Bounds are clamped to 1970..3000. The range is read
  newest window first, each window twice as long as the one before, so a long range with a
  small limit reads little (:func:`newest_bars`).
* Stored bars are the closed bars the bar writer kept; terminal bars are the terminal's own,
  the forming bar included when the range reaches now, converted from server time with the
  connector's offset (as :meth:`MT5Connector.history` does).
"""

from __future__ import annotations

import math
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any, Protocol

import structlog

from forexbot.clock import Clock, iso_utc
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.conversions import terminal_error
from forexbot.connectors.terminal_api import TerminalApi
from forexbot.connectors.worker import TerminalWorker
from forexbot.domain.market import Bar, Tick, Timeframe
from forexbot.errors import ConfigError, TerminalError
from forexbot.events.types import ConnectionState

_log = structlog.get_logger("forexbot.market_query")

#: MetaTrader's ``SYMBOL_TRADE_MODE_*`` values, as the API names them.
TRADE_MODES: Mapping[int, str] = {
    0: "disabled",
    1: "long_only",
    2: "short_only",
    3: "close_only",
    4: "full",
}
#: Without ``start``, the range reaches back this many times ``limit`` bar periods.
LOOKBACK_PERIODS = 4
_FIRST_EPOCH = 0
_LAST_EPOCH = 32_503_680_000  # 3000-01-01T00:00:00Z: no market data lies beyond

#: Reads the bars opening in ``[start, end)`` (UTC epoch seconds), oldest first.
FetchBars = Callable[[int, int], Awaitable[Sequence[Bar]]]


class StoredBars(Protocol):
    """``forexbot.database.market_data.MarketDataRepository`` as the queries read it."""

    async def get_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        start: datetime | int,
        end: datetime | int,
    ) -> list[Bar]: ...


async def newest_bars(
    fetch: FetchBars, start: int, end: int, limit: int, period: int
) -> tuple[list[Bar], bool]:
    """The newest ``limit`` bars opening in ``[start, end)``, oldest first, and whether the
    range holds more.

    Reads back from ``end`` in windows: the first ``limit + 1`` periods long (enough when the
    market never paused), each next one twice the last, until more than ``limit`` bars are
    found or ``start`` is reached.
    """
    if limit < 1 or period < 1:
        raise ValueError(f"limit and period must be positive, got {limit} and {period}")
    chunks: list[Sequence[Bar]] = []
    found = 0
    span = (limit + 1) * period
    hi = end
    while hi > start and found <= limit:
        lo = max(start, hi - span)
        chunk = await fetch(lo, hi)
        chunks.append(chunk)
        found += len(chunk)
        hi = lo
        span *= 2
    bars = [bar for chunk in reversed(chunks) for bar in chunk]
    return bars[-limit:], len(bars) > limit


def bar_json(bar: Bar) -> dict[str, Any]:
    """A bar as the API writes it."""
    return {
        "time": iso_utc(bar.time),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "tick_volume": bar.tick_volume,
        "spread": bar.spread,
        "real_volume": bar.real_volume,
    }


def _epoch(value: datetime) -> int:
    """A request bound as whole UTC seconds: naive is UTC, and a bar (whole-second open)
    opens at or after ``value`` exactly when it opens at or after its ceiling."""
    aware = value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return min(_LAST_EPOCH, max(_FIRST_EPOCH, math.ceil(aware.timestamp())))


class MarketQuery:
    """Symbols, quotes and bars of the watchlist, for the API."""

    def __init__(
        self,
        connector: MT5Connector,
        worker: TerminalWorker,
        terminal: TerminalApi,
        stored: StoredBars,
        clock: Clock,
        timeframes: Iterable[Timeframe],
    ) -> None:
        copy_rates_range = getattr(terminal, "copy_rates_range", None)
        if not callable(copy_rates_range):
            raise ConfigError(f"the terminal {type(terminal).__name__} has no copy_rates_range")
        self._connector = connector
        self._worker = worker
        self._terminal = terminal
        self._copy_rates_range: Callable[..., Any] = copy_rates_range
        self._stored = stored
        self._clock = clock
        self._timeframes = tuple(sorted(set(timeframes), key=lambda tf: tf.seconds))
        # symbol -> (description, trade mode) as symbol_info last told them
        self._details: dict[str, tuple[str | None, str | None]] = {}

    def watches(self, symbol: str) -> bool:
        """Whether ``symbol`` is on the watchlist."""
        return symbol in self._connector.symbols

    def watchlist(self) -> Sequence[str]:
        """The watched symbols, in watchlist order."""
        return self._connector.symbols

    # -- symbols --------------------------------------------------------------------------------

    async def symbols(self) -> list[dict[str, Any]]:
        """Every watched symbol with its specification, in watchlist order."""
        await self._refresh_details()
        return [self._symbol(symbol) for symbol in self._connector.symbols]

    async def _refresh_details(self) -> None:
        symbols, terminal = self._connector.symbols, self._terminal

        def read() -> dict[str, tuple[str | None, str | None]]:
            out = {}
            for symbol in symbols:
                info = terminal.symbol_info(symbol)
                if info is not None:
                    out[symbol] = (
                        str(info.description) or None,
                        TRADE_MODES.get(int(info.trade_mode)),
                    )
            return out

        try:
            self._details.update(await self._worker.call(read))
        except TerminalError as exc:
            _log.warning("symbol details unavailable; showing the last known", error=str(exc))

    def _symbol(self, symbol: str) -> dict[str, Any]:
        spec = self._connector.spec(symbol)
        description, trade_mode = self._details.get(symbol, (None, None))
        tick = self._connector.last_tick(symbol)
        return {
            "name": symbol,
            "description": description,
            "digits": spec.digits,
            "point": spec.point,
            "tick_size": spec.tick_size,
            "tick_value": spec.tick_value,
            "contract_size": spec.contract_size,
            "volume_min": spec.volume_min,
            "volume_max": spec.volume_max,
            "volume_step": spec.volume_step,
            "stops_level": spec.stops_level,
            "freeze_level": spec.freeze_level,
            "trade_mode": trade_mode,
            "currency_base": spec.currency_base,
            "currency_profit": spec.currency_profit,
            "currency_margin": spec.currency_margin,
            "spread": None if tick is None else self._spread(symbol, tick),
            "timeframes": [tf.name for tf in self._timeframes],
        }

    # -- quotes ---------------------------------------------------------------------------------

    def quote(self, symbol: str) -> dict[str, Any] | None:
        """The last tick of ``symbol`` (``None`` before the first); raises
        :class:`TerminalError` when the connector is not connected."""
        state = self._connector.state
        if state is not ConnectionState.CONNECTED:
            raise TerminalError(f"the connector is {state.value}: a quote of {symbol} may be stale")
        tick = self._connector.last_tick(symbol)
        if tick is None:
            return None
        return {
            "symbol": symbol,
            "bid": tick.bid,
            "ask": tick.ask,
            "spread": self._spread(symbol, tick),
            "time": iso_utc(tick.time, "milliseconds"),
        }

    def _spread(self, symbol: str, tick: Tick) -> int:
        """The spread in points."""
        return round((tick.ask - tick.bid) / self._connector.spec(symbol).point)

    # -- bars -----------------------------------------------------------------------------------

    async def stored_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        """Bars of ``market_data``: ``{"from", "to", "truncated", "items"}`` (see the rules)."""

        async def fetch(lo: int, hi: int) -> Sequence[Bar]:
            return await self._stored.get_bars(symbol, timeframe, lo, hi)

        return await self._bars(fetch, timeframe, start, end, limit)

    async def terminal_bars(
        self,
        symbol: str,
        timeframe: Timeframe,
        *,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        """Bars of the terminal, read on the worker thread, as :meth:`stored_bars` answers;
        raises :class:`TerminalError` when the terminal does not answer."""
        connector, terminal, rates_range = self._connector, self._terminal, self._copy_rates_range

        def read(lo: int, hi: int) -> Any:
            # copy_rates_range takes server time and includes its end.
            rates = rates_range(symbol, timeframe.mt5_value, lo, hi - 1)
            if rates is None:  # read the error at once, before another call replaces it
                what = f"copy_rates_range({symbol!r}, {timeframe.name}) failed"
                raise terminal_error(what, terminal.last_error())
            return rates

        async def fetch(lo: int, hi: int) -> Sequence[Bar]:
            offset = connector.server_offset
            rates = await self._worker.call(read, lo + offset, hi + offset)
            bars = (connector.bar_of(symbol, timeframe, row) for row in rates)
            return [bar for bar in bars if lo <= bar.time < hi]

        return await self._bars(fetch, timeframe, start, end, limit)

    async def _bars(
        self,
        fetch: FetchBars,
        timeframe: Timeframe,
        start: datetime | None,
        end: datetime | None,
        limit: int,
    ) -> dict[str, Any]:
        hi = (
            _epoch(end) if end is not None else min(_LAST_EPOCH, math.floor(self._clock.time()) + 1)
        )
        if start is not None:
            lo = _epoch(start)
        else:
            lo = max(_FIRST_EPOCH, hi - LOOKBACK_PERIODS * limit * timeframe.seconds)
        bars, truncated = (
            await newest_bars(fetch, lo, hi, limit, timeframe.seconds) if lo < hi else ([], False)
        )
        return {
            "from": iso_utc(lo),
            "to": iso_utc(hi),
            "truncated": truncated,
            "items": [bar_json(bar) for bar in bars],
        }
