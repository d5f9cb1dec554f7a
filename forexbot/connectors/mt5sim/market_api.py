"""MetaTrader's symbol and market-data functions: Market Watch, quotes, rates, ticks.

Rules: an unknown symbol gives None with ``(-4, 'Terminal: Not found')``; ``symbol_info_tick``
needs the symbol in Market Watch (the default Market Watch holds the seven majors); a bad
timeframe, a ``count`` outside 1..100,000 or a date that is not a date gives
``(-2, 'Terminal: Invalid params')``. Rates and ticks can be read for any known symbol, in or
out of Market Watch (history is downloadable, live quotes are not).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from forexbot.connectors.mt5_constants import (
    BOOK_TYPE_BUY,
    BOOK_TYPE_SELL,
    COPY_TICKS_TRADE,
)

from .core import TerminalCore, terminal_call
from .errors import (
    CALL_FAILED,
    INVALID_PARAMS,
)
from .queries import TICK_FLAGS, is_count, window
from .structures import (
    TICKS_DTYPE,
    BookInfo,
    SymbolInfo,
    Tick,
)
from .symbols import SymbolSpec, match_group
from .timeutil import FIXED_TIMEFRAMES, date_argument, is_valid_timeframe, to_server_msc
from .views import symbol_info, tick


class MarketDataAPI(TerminalCore):
    """symbols_*, symbol_*, market_book_*, copy_rates_*, copy_ticks_*."""

    @terminal_call(failure=None)
    def symbols_total(self) -> int | None:
        return len(self._catalogue)

    @terminal_call(failure=None)
    def symbols_get(self, group: str | None = None) -> tuple[SymbolInfo, ...] | None:
        if group is not None and not isinstance(group, str):
            self._fail(INVALID_PARAMS)
            return None
        specs = [s for s in self._catalogue.all() if group is None or match_group(s.name, group)]
        return tuple(self._symbol_info(spec) for spec in specs)

    @terminal_call(failure=None)
    def symbol_info(self, symbol: str) -> SymbolInfo | None:
        spec = self._spec(symbol)
        return None if spec is None else self._symbol_info(spec)

    def _symbol_info(self, spec: SymbolSpec) -> SymbolInfo:
        now = self._ledger.now_msc
        row = self._market.last_tick(spec.name, now)
        today, previous = self._market.session(spec.name, now)
        return symbol_info(
            spec,
            selected=spec.name in self._state.market_watch,
            last=None if row is None else tick(row),
            today=today,
            previous=previous,
            money=self._ledger.money,
        )

    def _watched(self, symbol: object) -> SymbolSpec | None:
        """The spec of a symbol in Market Watch, the only ones with live quotes: an unknown
        symbol fails with NOT_FOUND, a known one outside Market Watch with CALL_FAILED."""
        spec = self._spec(symbol)
        if spec is not None and spec.name not in self._state.market_watch:
            self._fail(CALL_FAILED)
            return None
        return spec

    @terminal_call(failure=None)
    def symbol_info_tick(self, symbol: str) -> Tick | None:
        if (spec := self._watched(symbol)) is None:
            return None
        row = self._market.last_tick(spec.name, self._ledger.now_msc)
        if row is None:
            self._fail(CALL_FAILED)
            return None
        return tick(row)

    @terminal_call(failure=False)
    def symbol_select(self, symbol: str, enable: bool = True) -> bool:
        """Add a symbol to (or remove it from) Market Watch; refused while it has positions."""
        spec = self._spec(symbol)
        if spec is None:
            return False
        watch = self._state.market_watch
        if enable and spec.name not in watch:
            watch.append(spec.name)
            self._save()
        elif not enable and spec.name in watch:
            busy = any(p.symbol == spec.name for p in self._state.positions.values()) or any(
                o.symbol == spec.name for o in self._state.orders.values()
            )
            if busy:
                self._fail(CALL_FAILED)
                return False
            watch.remove(spec.name)
            self._save()
        return True

    @terminal_call(failure=False)
    def market_book_add(self, symbol: str) -> bool:
        return self._watched(symbol) is not None

    @terminal_call(failure=None)
    def market_book_get(self, symbol: str) -> tuple[BookInfo, ...] | None:
        """A one-level book: the current ask (sell side) over the current bid (buy side)."""
        if (spec := self._watched(symbol)) is None:
            return None
        quote = self._ledger.quote(spec.name)
        if quote is None:
            self._fail(CALL_FAILED)
            return None
        size = spec.volume_max
        return (
            BookInfo(BOOK_TYPE_SELL, quote[1], int(size), size),
            BookInfo(BOOK_TYPE_BUY, quote[0], int(size), size),
        )

    @terminal_call(failure=False)
    def market_book_release(self, symbol: str) -> bool:
        return self._spec(symbol) is not None

    # --- market data ------------------------------------------------------------------
    def _rates_args(self, symbol: object, timeframe: object) -> SymbolSpec | None:
        spec = self._spec(symbol)
        if spec is not None and not is_valid_timeframe(timeframe):
            self._fail(INVALID_PARAMS)
            return None
        return spec

    @terminal_call(failure=None)
    def copy_rates_from(
        self, symbol: str, timeframe: int, date_from: object, count: int
    ) -> NDArray[np.void] | None:
        """``count`` bars opening at or before ``date_from``, oldest first."""
        if (spec := self._rates_args(symbol, timeframe)) is None:
            return None
        start = date_argument(date_from)
        if start is None or not is_count(count):
            self._fail(INVALID_PARAMS)
            return None
        return self._market.rates_until(spec.name, timeframe, start, count, self._ledger.now_msc)

    @terminal_call(failure=None)
    def copy_rates_from_pos(
        self, symbol: str, timeframe: int, start_pos: int, count: int
    ) -> NDArray[np.void] | None:
        """``count`` bars ending ``start_pos`` bars back from the current one (position 0)."""
        if (spec := self._rates_args(symbol, timeframe)) is None:
            return None
        if not is_count(start_pos, allow_zero=True) or not is_count(count):
            self._fail(INVALID_PARAMS)
            return None
        now = self._ledger.now_msc
        bars = self._market.rates_until(spec.name, timeframe, now // 1000, start_pos + count, now)
        return bars[: max(0, len(bars) - start_pos)].copy()

    @terminal_call(failure=None)
    def copy_rates_range(
        self, symbol: str, timeframe: int, date_from: object, date_to: object
    ) -> NDArray[np.void] | None:
        """Bars with ``date_from <= open time <= date_to``."""
        if (spec := self._rates_args(symbol, timeframe)) is None:
            return None
        bounds = window(date_from, date_to)
        if bounds is None:
            self._fail(INVALID_PARAMS)
            return None
        return self._market.rates_range(spec.name, timeframe, *bounds, self._ledger.now_msc)

    @terminal_call(failure=None)
    def history_as_of(
        self, symbol: str, timeframe: int, date_from: int, date_to: int, as_of: float
    ) -> NDArray[np.void] | None:
        """Not a MetaTrader function: the bars (M1 to D1) opening in ``[date_from, date_to]``
        (server seconds) as ``copy_rates_range`` would return them with the clock at ``as_of``
        (UTC epoch), without the 100,000-bar chart limit. The backtester reads its whole
        period with it before the clock starts; the terminal's own time is not moved."""
        if (spec := self._rates_args(symbol, timeframe)) is None:
            return None
        if timeframe not in FIXED_TIMEFRAMES:
            self._fail(INVALID_PARAMS)
            return None
        return self._market.bars_between(
            spec.name, timeframe, date_from, date_to, to_server_msc(as_of)
        )

    def _ticks_args(self, symbol: object, flags: object) -> SymbolSpec | None:
        spec = self._spec(symbol)
        if spec is not None and flags not in TICK_FLAGS:
            self._fail(INVALID_PARAMS)
            return None
        return spec

    @terminal_call(failure=None)
    def copy_ticks_from(
        self, symbol: str, date_from: object, count: int, flags: int
    ) -> NDArray[np.void] | None:
        """Up to ``count`` ticks from ``date_from`` on. COPY_TICKS_TRADE finds none: no trades."""
        if (spec := self._ticks_args(symbol, flags)) is None:
            return None
        start = date_argument(date_from)
        if start is None or not isinstance(count, int) or count < 1:
            self._fail(INVALID_PARAMS)
            return None
        if flags == COPY_TICKS_TRADE:
            return np.zeros(0, dtype=TICKS_DTYPE)
        return self._market.ticks_from(spec.name, start * 1000, count, self._ledger.now_msc)

    @terminal_call(failure=None)
    def copy_ticks_range(
        self, symbol: str, date_from: object, date_to: object, flags: int
    ) -> NDArray[np.void] | None:
        """Ticks with ``date_from <= time <= date_to`` (seconds; the end second is included)."""
        if (spec := self._ticks_args(symbol, flags)) is None:
            return None
        bounds = window(date_from, date_to)
        if bounds is None:
            self._fail(INVALID_PARAMS)
            return None
        if flags == COPY_TICKS_TRADE:
            return np.zeros(0, dtype=TICKS_DTYPE)
        start, end = bounds[0] * 1000, bounds[1] * 1000 + 999
        return self._market.ticks_between(spec.name, start, end, self._ledger.now_msc)
