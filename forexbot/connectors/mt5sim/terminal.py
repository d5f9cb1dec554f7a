"""The simulated MetaTrader 5 terminal: MetaTrader5's functions as methods.

A :class:`SimulatedTerminal` is one terminal logged into one paper account at a simulated
broker. Its methods have the names, arguments, return values and failure behaviour of the
``MetaTrader5`` module's functions: queries return None (or False) on failure and
``last_error()`` tells why; nothing raises for a terminal-level problem.

* **Time.** Every epoch it returns is broker server time encoded as if UTC (UTC+2 in winter,
  UTC+3 in US summer; see :mod:`timeutil`). Date arguments are compared with those epochs.
* **Lazy market.** Each call first replays the market from the last processed time to the
  clock's now (stops, pending orders, expiries: :mod:`matching`); nothing after now is ever
  returned. Server time never runs backwards: in the hour the clocks go back it stands still.
* **Thread safety.** One re-entrant lock serialises every public call.
* **Faults.** ``terminal.faults`` disconnects, times out, slows, requotes or rejects on
  demand (:mod:`faults`); the account side never loses anything.
* **Persistence.** With ``state_path`` the account is saved atomically after every change and
  on ``shutdown()``, and loaded by the constructor when the file exists: a restarted daemon
  finds its paper account, and stops hit while it was down, like at a broker. A loaded
  account keeps its own seed, currency, leverage, margin mode and login; the constructor's
  values only shape a new account.
"""

from __future__ import annotations

from .core import DEFAULT_SEED
from .market_api import MarketDataAPI
from .trading_api import TradingAPI

__all__ = ["DEFAULT_SEED", "SimulatedTerminal"]


class SimulatedTerminal(MarketDataAPI, TradingAPI):
    """A MetaTrader 5 terminal and paper account driven by a :class:`~forexbot.clock.Clock`.

    Keyword-only constructor arguments: ``seed`` (price history), ``clock`` (default: real
    time), ``balance``, ``leverage``, ``currency``, ``hedging`` (False: netting), ``login``,
    ``server``, ``state_path`` (persist the account there), ``requotes`` (instant-execution
    symbols requote a requested price further than ``deviation`` points; off by default),
    ``commission_per_lot`` (charged on every deal; 0 by default), ``margin_call`` and
    ``stop_out`` (margin levels in percent, 100 and 50 by default; see :mod:`.stopout`),
    ``replay`` (symbol -> MT5 CSV export(s) to replay instead of the statistical feed; see
    :mod:`.replay`), ``faults`` (the starting :class:`~.faults.Faults`; switch faults at
    run time through :attr:`faults`), ``fixed_spread`` (symbol -> spread in points, replacing
    the feed's; :mod:`.spread`), ``slippage_points`` (every market fill that much worse) and
    ``swap_free`` (no rollover is charged, like an Islamic account) and ``fill_model``
    (``"ticks"``, or ``"bars"`` for backtests: stops replayed on M1 bars, see :mod:`.matching`);
    ``cache_days`` bounds the days of generated or replayed bars kept in memory (a backtest
    keeps its whole period: about 80 KB a day and symbol); ``symbol_variants`` (suffixes such
    as ``(".pro", "m")``, none by default) lists every symbol again under each suffix, like a
    broker's account-type variants: ``EURUSD.pro`` has EURUSD's contract spec and quotes
    EURUSD's market, tick for tick (see :mod:`.symbols`). A paper account holding positions
    on variants must be reopened with the same suffixes.
    """
