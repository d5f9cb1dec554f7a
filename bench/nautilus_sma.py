"""NautilusTrader running bench/backtest.py's SMA cross on the same bars: the third column.

NautilusTrader (``nautilus_trader``, the event-driven engine of reference; 1.221 is its last
release for Python 3.11) is not a dependency of the project: ``pip install
"forexbot[bench]"`` or ``pip install nautilus_trader==1.221.0``. It pins pandas < 3,
uvloop 0.22.1 and fsspec < 2026, so installing it into a shared environment downgrades them.

The run, and what it assumes so that its trades compare with backtesting.py's:

* **Bars**: the same M1 bars, made Nautilus ``Bar`` objects as its ``BarDataWrangler``
  makes them and loaded into the engine (timed apart from the run). Nautilus stamps a bar
  when it closes, so each bar's ``ts_event`` is its open time plus the minute; MID prices
  (the matching engine makes a trade tick of each of open, high, low and close: bid = ask,
  no spread). Each bar's volume is the wrangler's default, 1,000,000: the simulator's tick
  volumes (about 14 a bar) are not liquidity, but Nautilus's L1 book would take them as such
  (a quarter of the bar's volume at each price) and fill the rest of a 10,000 order one tick
  worse.
* **Instrument and account**: the test kit's EUR/USD (5 digits, lots of 1,000) rebuilt
  with zero maker and taker fees, a netting margin account of 100,000 USD, no latency model,
  the default fill model. No commission, no spread, no swap, as the other two columns.
* **Rules**: Nautilus's own ``SimpleMovingAverage`` (10 and 20) fed the closes, a strict
  cross on two bars as backtesting.py's ``SmaCross`` tests it, stop and reverse with market
  orders (close the position held, then open 10,000 units the other way); the open position
  is closed when the run stops, as backtesting.py's ``finalize_trades`` does.
* **Fills**: a market order sent from ``on_bar`` fills at once at that bar's close (the
  book after the bar), stamped with the bar's close time. backtesting.py fills at the next
  bar's open, stamped with that bar's open time: the same instant, so the entry times
  compare one for one, while the prices differ by whatever gap the data has between a close
  and the next open.

Where the entries differ it is the arithmetic, not the engine: Nautilus's SMAs and TA-Lib's
keep different running sums, so on a bar where the two SMAs are equal in exact arithmetic
(177 of the 104,060 bars of the 100,000-bar case) the last bits of ``fast - slow`` decide
whether a strict cross happened, and the two engines decide differently. Of backtesting.py's
118 entries missing from Nautilus's, 117 are at such a tie, and 41 of the 42 the other way.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from decimal import Decimal

import numpy as np
import pandas as pd
from nautilus_trader.backtest.engine import BacktestEngine, BacktestEngineConfig
from nautilus_trader.config import LoggingConfig, StrategyConfig
from nautilus_trader.indicators import SimpleMovingAverage
from nautilus_trader.model.currencies import USD
from nautilus_trader.model.data import Bar, BarType
from nautilus_trader.model.enums import AccountType, OmsType, OrderSide
from nautilus_trader.model.events import PositionOpened
from nautilus_trader.model.identifiers import InstrumentId, Venue
from nautilus_trader.model.instruments import CurrencyPair
from nautilus_trader.model.objects import Money, Price, Quantity
from nautilus_trader.test_kit.providers import TestInstrumentProvider
from nautilus_trader.trading.strategy import Strategy
from numpy.typing import NDArray

VENUE = Venue("SIM")
BALANCE = 100_000
COLUMNS = ("Open", "High", "Low", "Close")
#: Each bar's volume: BarDataWrangler's default (see to_bars).
VOLUME = 1_000_000


@dataclass(frozen=True, slots=True)
class NautilusRun:
    """What the run took and produced: entry times in epoch seconds, net in USD."""

    convert_seconds: float
    run_seconds: float
    bars: int
    trades: int
    entries: NDArray[np.int64]
    net: float


class SmaCrossConfig(StrategyConfig, frozen=True):
    instrument_id: InstrumentId
    bar_type: BarType
    units: int
    fast_period: int = 10
    slow_period: int = 20


class SmaCross(Strategy):  # type: ignore[misc]
    """Stop and reverse on a strict cross of two SMAs; records when each position opens (from
    the position events: the same whatever the OMS, netting reusing one position id)."""

    def __init__(self, config: SmaCrossConfig) -> None:
        super().__init__(config)
        self.fast = SimpleMovingAverage(config.fast_period)
        self.slow = SimpleMovingAverage(config.slow_period)
        self.quantity = Quantity.from_int(config.units)
        self.previous: tuple[float, float] | None = None
        self.entries: list[int] = []

    def on_start(self) -> None:
        self.register_indicator_for_bars(self.config.bar_type, self.fast)
        self.register_indicator_for_bars(self.config.bar_type, self.slow)
        self.subscribe_bars(self.config.bar_type)

    def on_bar(self, bar: Bar) -> None:
        if not self.slow.initialized:
            return
        fast, slow = self.fast.value, self.slow.value
        previous, self.previous = self.previous, (fast, slow)
        if previous is None:  # the cross needs the slow SMA on two bars, as backtesting.py's
            return
        if previous[0] < previous[1] and fast > slow:
            self.reverse(OrderSide.BUY)
        elif previous[0] > previous[1] and fast < slow:
            self.reverse(OrderSide.SELL)

    def reverse(self, side: OrderSide) -> None:
        self.close_all_positions(self.config.instrument_id)
        order = self.order_factory.market(self.config.instrument_id, side, self.quantity)
        self.submit_order(order)

    def on_position_opened(self, event: PositionOpened) -> None:
        self.entries.append(event.ts_opened)

    def on_stop(self) -> None:
        self.close_all_positions(self.config.instrument_id)


def zero_fee_eurusd() -> CurrencyPair:
    """The test kit's EUR/USD with its fees (0.002 % a side) set to zero."""
    kit = TestInstrumentProvider.default_fx_ccy("EUR/USD", VENUE)
    fields = CurrencyPair.to_dict(kit)
    fields.update(maker_fee="0", taker_fee="0")
    pair = CurrencyPair.from_dict(fields)
    assert pair.taker_fee == Decimal(0)
    return pair


def to_bars(frame: pd.DataFrame, instrument: CurrencyPair, bar_type: BarType) -> list[Bar]:
    """bench's OHLCV frame (UTC open times) as Nautilus bars stamped on their close.

    Built as ``BarDataWrangler._build_bar`` builds them; not through the wrangler, which
    needs pandas < 3 (it takes a memoryview of ``DataFrame.values``, read-only in pandas 3).
    """
    opens = pd.DatetimeIndex(frame.index).as_unit("ns").asi8
    closes = (opens + bar_type.spec.timedelta.total_seconds() * 1e9).astype(np.int64)
    prices, sizes = instrument.price_precision, instrument.size_precision
    columns = [frame[name].to_numpy(dtype=float).tolist() for name in COLUMNS]
    volume = Quantity(VOLUME, sizes)
    return [
        Bar(
            bar_type,
            Price(o, prices),
            Price(h, prices),
            Price(lo, prices),
            Price(c, prices),
            volume,
            ts,
            ts,
        )
        for o, h, lo, c, ts in zip(*columns, closes.tolist(), strict=True)
    ]


def run_sma_cross(frame: pd.DataFrame, units: int = 10_000) -> NautilusRun:
    """The SMA 10/20 cross over ``frame``'s M1 bars in a low-level ``BacktestEngine``."""
    instrument = zero_fee_eurusd()
    bar_type = BarType.from_str(f"{instrument.id}-1-MINUTE-MID-EXTERNAL")
    config = BacktestEngineConfig(logging=LoggingConfig(log_level="ERROR"), run_analysis=False)
    engine = BacktestEngine(config=config)
    engine.add_venue(
        venue=VENUE,
        oms_type=OmsType.NETTING,
        account_type=AccountType.MARGIN,
        base_currency=USD,
        starting_balances=[Money(BALANCE, USD)],
    )
    engine.add_instrument(instrument)
    started = time.perf_counter()
    bars = to_bars(frame, instrument, bar_type)
    engine.add_data(bars)
    convert = time.perf_counter() - started
    strategy = SmaCross(SmaCrossConfig(instrument_id=instrument.id, bar_type=bar_type, units=units))
    engine.add_strategy(strategy)
    started = time.perf_counter()
    engine.run()
    elapsed = time.perf_counter() - started
    account = engine.cache.account_for_venue(VENUE)
    assert account is not None
    net = account.balance_total(USD).as_double() - BALANCE
    entries = np.array(strategy.entries, dtype=np.int64) // 1_000_000_000
    # Positions closed: the last one closes after the strategy stopped (no event for it).
    trades = len(entries) - engine.cache.positions_open_count()
    result = NautilusRun(convert, elapsed, len(bars), trades, entries, net)
    engine.dispose()
    return result
