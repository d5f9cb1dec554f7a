"""Whether the watched markets trade: said at start and whenever it changes.

A closed market sends no tick, so a daemon started on a Saturday would look dead — no bar, no
signal, no log line. This module says why instead.

Rules:

* Forex, metals and CFDs trade outside the forex weekend closure, ``[Fri 17:00, Sun 17:00)``
  New York time (:func:`~forexbot.market_condition.sessions.forex_open`); synthetic indices
  (:func:`~forexbot.strategies.regime.is_synthetic_index`) trade around the clock. These are the
  rules the strategies and the market condition detector follow, and the simulated terminal's
  (its forex trades from Monday 00:00 to Friday 24:00 server time, New York + 7 h).
* "Now" is the daemon's clock: the simulated terminal's in paper trading, accelerated or not.
* At start, a closed market is logged once (``market closed``: which symbols, until when, which
  still trade); an open one is not (its ticks speak for it).
* While the daemon runs, every change is logged: ``market closed`` at the weekend close,
  ``market open`` when the closed symbols trade again. The clock is read every ``interval``
  real seconds, so at 600x a change is told within ten simulated minutes.
* Broker holidays and per-symbol sessions (a CFD's daily break) are not known here: the
  MetaTrader 5 Python API does not expose trading sessions.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from forexbot.clock import Clock, iso_utc, utc_datetime
from forexbot.daemon.tasks import stop_task
from forexbot.market_condition.sessions import NEW_YORK, SUNDAY, forex_open, weekend_open_utc
from forexbot.strategies.regime import is_synthetic_index

_log = structlog.get_logger("forexbot.market_hours")


@dataclass(frozen=True, slots=True)
class MarketHours:
    """Which watched symbols trade at one instant."""

    closed: tuple[str, ...]
    trading: tuple[str, ...]
    #: When the closed symbols trade again (``None`` when none is closed).
    reopens: datetime | None

    def describe(self) -> str:
        """The state in one sentence for a person."""
        if self.reopens is None:
            return "every watched symbol trades"
        words = f"market closed for {', '.join(self.closed)} until {_readable(self.reopens)}"
        if self.trading:
            verb = "trades" if len(self.trading) == 1 else "trade"
            words += f"; {', '.join(self.trading)} {verb}"
        return words


def next_forex_open(at: datetime) -> datetime:
    """The first forex weekly open (Sunday 17:00 New York) after ``at``, in UTC."""
    local = at.astimezone(NEW_YORK)
    sunday = local.date() + timedelta(days=(SUNDAY - local.weekday()) % 7)
    opens = weekend_open_utc(sunday)
    return opens if opens > at else weekend_open_utc(sunday + timedelta(days=7))


def market_hours(
    symbols: Sequence[str],
    at: datetime,
    *,
    around_the_clock: Callable[[str], bool] = is_synthetic_index,
) -> MarketHours:
    """The :class:`MarketHours` of ``symbols`` at ``at`` (tz-aware), in watchlist order."""
    forex = forex_open(at)
    closed = tuple(s for s in symbols if not forex and not around_the_clock(s))
    trading = tuple(s for s in symbols if s not in closed)
    return MarketHours(closed, trading, next_forex_open(at) if closed else None)


class MarketHoursWatch:
    """Logs the watched markets' state at start and each change (see the module rules)."""

    def __init__(
        self,
        symbols: Sequence[str],
        clock: Clock,
        *,
        interval: float = 1.0,
        around_the_clock: Callable[[str], bool] = is_synthetic_index,
    ) -> None:
        self._symbols = tuple(symbols)
        self._clock = clock
        self._interval = interval
        self._around_the_clock = around_the_clock
        self._task: asyncio.Task[None] | None = None

    def now(self) -> MarketHours:
        return market_hours(
            self._symbols, utc_datetime(self._clock), around_the_clock=self._around_the_clock
        )

    def start(self) -> MarketHours:
        """Log a closed market now, then watch for changes; returns the state at start."""
        state = self.now()
        if state.closed:
            _closed(state)
        self._task = asyncio.get_running_loop().create_task(self._watch(state), name="market-hours")
        return state

    async def stop(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            await stop_task(task)

    async def _watch(self, state: MarketHours) -> None:
        while True:
            await asyncio.sleep(self._interval)
            now = self.now()
            reopened = [s for s in state.closed if s not in now.closed]
            if reopened:
                _log.info("market open", symbols=reopened)
            if set(now.closed) - set(state.closed):
                _closed(now)
            state = now


def _closed(state: MarketHours) -> None:
    assert state.reopens is not None
    until = iso_utc(state.reopens.timestamp())
    fields: dict[str, object] = {"symbols": list(state.closed), "until": until}
    if state.trading:
        fields["trading"] = list(state.trading)
    _log.info("market closed", **fields)


def _readable(at: datetime) -> str:
    """``Sun 29 Nov 22:00 UTC``."""
    return at.strftime("%a %d %b %H:%M UTC")
