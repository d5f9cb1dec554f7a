"""The backtester: the live engine on the simulated terminal and a virtual clock.

Each test states one rule of :mod:`forexbot.backtest.runner` and checks it on real runs over
the simulator's generated market (short periods: days of M15/H1, hours of M1).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime

import numpy as np
import orjson
import pytest
from trading_rig import OPEN_LIMITS

from forexbot.backtest.runner import BacktestResult, BacktestSpec, load_prices, run_backtest
from forexbot.backtest.statistics import ClosedTrade
from forexbot.config.models import TradeManagement
from forexbot.connectors.mt5sim.replay import ReplayBars
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.timeutil import to_server_array
from forexbot.domain.market import Timeframe
from forexbot.domain.trading import TradeStatus
from forexbot.errors import InvalidInputError

START = datetime(2024, 3, 4, tzinfo=UTC).timestamp()  # a Monday
DAY = 86_400
POINT = 0.00001
OPEN = OPEN_LIMITS.model_copy(
    update={"risk_per_trade_percent": 10, "max_open_positions": 20, "max_positions_per_symbol": 1}
)
SMA = BacktestSpec(
    strategy="sma_cross",
    symbol="EURUSD",
    timeframe=Timeframe.H1,
    start=START,
    end=START + 14 * DAY,
    params={"fast_period": 5, "slow_period": 20, "stop_atr_multiplier": 20},
    volume=0.1,
    risk=OPEN,
)


@pytest.fixture(scope="module")
def sma() -> BacktestResult:
    return run_backtest(SMA)


def rows(trades: tuple[ClosedTrade, ...]) -> list[tuple[object, ...]]:
    return [
        (t.side, t.volume, t.open_time, t.entry_price, t.close_time, t.exit_price, t.close_reason)
        for t in trades
    ]


def test_the_same_spec_gives_the_same_trades(sma: BacktestResult) -> None:
    assert len(sma.trades) >= 10
    assert rows(run_backtest(SMA).trades) == rows(sma.trades)


def test_trades_open_at_the_close_of_their_signal_bar(sma: BacktestResult) -> None:
    closes = set(sma.prices.close_time.tolist())
    for record in sma.records:
        assert record.open_time is not None
        assert record.signal_time is not None
        opened = record.open_time.timestamp()
        assert opened in closes
        assert opened == record.signal_time.timestamp() + 3600


def test_stop_and_reverse_closes_the_other_side_even_with_one_position_per_symbol(
    sma: BacktestResult,
) -> None:
    assert OPEN.max_positions_per_symbol == 1
    assert sma.rejected == {}
    reversals = [t for t in sma.trades if t.close_reason == "reversal"]
    assert len(reversals) == len(sma.trades) - 1
    for closed, opened in zip(sma.trades, sma.trades[1:], strict=False):
        assert closed.close_time == opened.open_time
        assert closed.side != opened.side


def test_the_last_trade_is_closed_a_millisecond_before_the_end(sma: BacktestResult) -> None:
    last = sma.trades[-1]
    assert last.close_reason == "end_of_test"
    assert last.close_time == pytest.approx(SMA.end - 0.001, abs=0.001)
    assert all(r.status is TradeStatus.CLOSED for r in sma.records)


def test_statistics_add_up_to_the_trades_and_the_curve(sma: BacktestResult) -> None:
    s = sma.statistics
    assert s.trades == len(sma.trades)
    assert s.final_equity == pytest.approx(SMA.balance + sum(t.net for t in sma.trades))
    assert sma.equity.equity[-1] == pytest.approx(s.final_equity)
    assert (sma.equity.time[0], sma.equity.equity[0]) == (SMA.start, SMA.balance)
    assert len(sma.equity.time) == sma.bars + 1


def test_the_result_is_json(sma: BacktestResult) -> None:
    data = orjson.loads(orjson.dumps(sma.to_dict()))
    assert data["statistics"]["trades"] == len(data["trades"]) == len(sma.trades)
    assert data["spec"]["strategy"] == "sma_cross"


def test_no_look_ahead_a_shorter_test_has_the_same_earlier_trades(sma: BacktestResult) -> None:
    half = run_backtest(dataclasses.replace(SMA, end=START + 7 * DAY))
    cut = START + 7 * DAY - 0.001
    before = [t for t in sma.trades if t.close_time < cut]
    assert rows(tuple(t for t in half.trades if t.close_reason != "end_of_test")) == rows(
        tuple(before)
    )


def test_slippage_makes_every_fill_worse_by_its_points() -> None:
    plain = run_backtest(dataclasses.replace(SMA, end=START + 5 * DAY))
    slipped = run_backtest(dataclasses.replace(SMA, end=START + 5 * DAY, slippage_points=5))
    assert len(plain.trades) == len(slipped.trades) >= 3
    for a, b in zip(plain.trades, slipped.trades, strict=True):
        worse = 5 * POINT if a.side == "buy" else -5 * POINT
        assert b.entry_price == pytest.approx(a.entry_price + worse, abs=1e-9)
        assert b.exit_price == pytest.approx(a.exit_price - worse, abs=1e-9)


def test_a_commission_is_charged_on_both_deals_of_a_trade() -> None:
    result = run_backtest(dataclasses.replace(SMA, end=START + 5 * DAY, commission_per_lot=7))
    assert all(t.commission == pytest.approx(-1.4) for t in result.trades)


def test_a_fixed_spread_is_paid_on_every_round_trip() -> None:
    tight = run_backtest(dataclasses.replace(SMA, end=START + 5 * DAY, spread_points=0))
    wide = run_backtest(dataclasses.replace(SMA, end=START + 5 * DAY, spread_points=20))
    assert len(tight.trades) == len(wide.trades) >= 3
    for a, b in zip(tight.trades, wide.trades, strict=True):
        assert b.profit == pytest.approx(a.profit - 20 * POINT * 10_000, abs=0.011)


def test_the_risk_manager_is_the_live_one() -> None:
    """Two strategies' worth of signals against one position per symbol: the manager refuses
    the second while the first is open, with its reason code."""
    spec = BacktestSpec(
        strategy="ma_rsi",
        symbol="EURUSD",
        timeframe=Timeframe.M15,
        start=START,
        end=START + 28 * DAY,
        params={"fast_period": 5, "slow_period": 20, "rsi_period": 5, "atr_multiplier": 6.0,
                "reward_risk": 3.0},
        risk=OPEN,
    )  # fmt: skip
    result = run_backtest(spec)
    assert result.rejected.get("max_positions_per_symbol", 0) >= 1
    assert result.admitted == len(result.trades) + sum(result.rejected.values())


def test_a_drawdown_kill_switch_closes_everything_and_stops_trading() -> None:
    spec = dataclasses.replace(
        SMA,
        params={**SMA.params, "stop_atr_multiplier": 5},
        volume=0.5,
        end=START + 14 * DAY,
        risk=OPEN.model_copy(update={"max_drawdown_percent": 1.0}),
        sync_every_seconds=900,
    )
    result = run_backtest(spec)
    assert result.events.get("kill_switch") == 1
    assert result.rejected.get("kill_switch", 0) >= 1
    killed = [t for t in result.trades if t.close_reason == "kill_switch"]
    assert len(killed) == 1
    assert all(t.open_time <= killed[0].close_time for t in result.trades)


def test_break_even_management_moves_the_stop_to_the_entry() -> None:
    spec = BacktestSpec(
        strategy="ma_rsi",
        symbol="EURUSD",
        timeframe=Timeframe.M15,
        start=START,
        end=START + 28 * DAY,
        params={"fast_period": 5, "slow_period": 20, "rsi_period": 5, "atr_multiplier": 3.0,
                "reward_risk": 4.0},
        risk=OPEN,
        management=TradeManagement(break_even_at_r=1.0),
    )  # fmt: skip
    result = run_backtest(spec)
    at_entry = [
        t
        for t in result.trades
        if t.close_reason == "stop_loss" and abs(t.exit_price - t.entry_price) < 1e-9
    ]
    assert at_entry, "no trade was stopped out at break-even"


def test_progress_runs_from_zero_to_every_bar() -> None:
    seen: list[tuple[int, int]] = []
    result = run_backtest(
        dataclasses.replace(SMA, end=START + 5 * DAY),
        lambda done, total: seen.append((done, total)),
        engine="event",  # the kernel reports only its start and end (test_runner_kernel_path)
    )
    assert seen[0] == (0, result.bars)
    assert seen[-1] == (result.bars, result.bars)
    assert [d for d, _ in seen] == sorted(d for d, _ in seen)


def test_replayed_m1_bars_are_traded_at_the_next_bars_open() -> None:
    """The generated market's M1 bars replayed: the strategy sees the same H1 bars, so it
    trades at the same times; each fill is the first tick after the signal bar, which in
    replayed bars is the next M1 bar's open (the ask adds the bar's spread)."""
    spec = dataclasses.replace(SMA, end=START + 7 * DAY)
    m1 = load_prices(dataclasses.replace(spec, timeframe=Timeframe.M1), 300 * 60)
    bars = np.zeros(len(m1), dtype=RATES_DTYPE)
    bars["time"] = to_server_array(m1.time)
    for name in ("open", "high", "low", "close", "tick_volume", "spread", "real_volume"):
        bars[name] = getattr(m1, name)
    replayed = run_backtest(dataclasses.replace(spec, replay={"EURUSD": ReplayBars(bars, 60)}))
    generated = run_backtest(spec)
    assert np.array_equal(replayed.prices.close, generated.prices.close)
    assert [(t.side, t.open_time) for t in replayed.trades] == [
        (t.side, t.open_time) for t in generated.trades
    ]
    opens = dict(zip(m1.time.tolist(), zip(m1.open.tolist(), m1.spread.tolist(), strict=True),
                     strict=True))  # fmt: skip
    for trade in replayed.trades:
        bid, spread = opens[int(trade.open_time)]
        expected = bid + spread * POINT if trade.side == "buy" else bid
        assert trade.entry_price == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"end": START}, "end after it starts"),
        ({"balance": 0.0}, "balance must be positive"),
        ({"sync_every_seconds": 0.0}, "sync_every_seconds"),
        ({"commission_per_lot": -1.0}, "commission must not be negative"),
        ({"fill_model": "candles"}, "fill model"),
    ],
)
def test_a_bad_spec_is_refused(changes: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidInputError, match=message):
        dataclasses.replace(SMA, **changes)


def test_an_unknown_parameter_is_refused_before_anything_runs() -> None:
    with pytest.raises(InvalidInputError, match="speed"):
        run_backtest(dataclasses.replace(SMA, params={"speed": 3}))
