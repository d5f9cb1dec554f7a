"""Performance statistics (forexbot.backtest.statistics) and the marked-to-market equity curve
(forexbot.backtest.equity), checked against values worked out by hand from the definitions in
the module docstrings."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from symbol_specs import EURUSD

from forexbot.backtest.equity import mark_to_market
from forexbot.backtest.prices import PriceSeries
from forexbot.backtest.statistics import (
    SECONDS_PER_YEAR,
    ClosedTrade,
    EquityCurve,
    balance_curve,
    compute_statistics,
    daily_returns,
)
from forexbot.domain.market import Timeframe

HOUR = 3600.0
DAY = 86_400.0
START = 1_704_067_200.0  # 2024-01-01 00:00 UTC, a day boundary


def trade(
    trade_id: int = 1,
    *,
    profit: float = 0.0,
    swap: float = 0.0,
    commission: float = 0.0,
    open_time: float = START,
    close_time: float = START + HOUR,
    side: str = "buy",
    volume: float = 0.1,
    entry_price: float = 1.1,
    exit_price: float = 1.1,
) -> ClosedTrade:
    return ClosedTrade(
        id=trade_id,
        strategy="ma_cross",
        symbol="EURUSD",
        side=side,
        volume=volume,
        open_time=open_time,
        close_time=close_time,
        entry_price=entry_price,
        exit_price=exit_price,
        profit=profit,
        swap=swap,
        commission=commission,
        close_reason="take_profit",
    )


def curve(*points: tuple[float, float]) -> EquityCurve:
    """An equity curve from (time, equity) points."""
    times, values = zip(*points, strict=True)
    return EquityCurve(np.array(times, dtype=np.float64), np.array(values, dtype=np.float64))


def stats_of(
    equity: EquityCurve,
    trades: list[ClosedTrade] | None = None,
    initial_balance: float | None = None,
    end: float | None = None,
) -> Any:
    return compute_statistics(
        trades or [],
        equity,
        initial_balance=float(equity.equity[0]) if initial_balance is None else initial_balance,
        start=float(equity.time[0]),
        end=float(equity.time[-1]) if end is None else end,
    )


# Four trades of one run: nets +40, -10, +25, -15 on a 1000 balance.
FOUR_TRADES = [
    trade(1, profit=41.0, swap=-0.5, commission=-0.5, close_time=START + 1 * HOUR),
    trade(2, profit=-9.0, commission=-1.0, close_time=START + 2 * HOUR),
    trade(3, profit=25.0, close_time=START + 3 * HOUR),
    trade(4, profit=-14.5, commission=-0.5, close_time=START + 4 * HOUR),
]


def four_trade_statistics() -> Any:
    end = START + 10 * DAY
    return compute_statistics(
        FOUR_TRADES, balance_curve(FOUR_TRADES, 1000.0, START, end), 1000.0, START, end
    )


# --- ClosedTrade ------------------------------------------------------------------------------


def test_a_trades_net_is_profit_plus_swap_plus_commission() -> None:
    assert trade(profit=10.0, swap=-1.5, commission=-0.5).net == 8.0


def test_a_trades_dict_carries_its_net_rounded_to_cents() -> None:
    as_dict = trade(profit=10.004, swap=-1.0, commission=-0.001).to_dict()

    assert as_dict["net"] == 9.0
    assert (as_dict["id"], as_dict["side"], as_dict["profit"]) == (1, "buy", 10.004)


# --- EquityCurve ------------------------------------------------------------------------------


def test_an_equity_curve_needs_as_many_times_as_values() -> None:
    with pytest.raises(ValueError, match="as many times as values"):
        EquityCurve(np.array([START, START + DAY]), np.array([100.0]))


def test_an_equity_curve_needs_at_least_one_point() -> None:
    with pytest.raises(ValueError, match="at least one"):
        EquityCurve(np.array([], dtype=np.float64), np.array([], dtype=np.float64))


def test_drawdown_pct_is_the_percent_below_the_running_peak() -> None:
    equity = curve(
        (START, 100.0), (START + DAY, 120.0), (START + 2 * DAY, 90.0), (START + 3 * DAY, 130.0)
    )

    assert equity.drawdown_pct().tolist() == [0.0, 0.0, -25.0, 0.0]


# --- money figures ----------------------------------------------------------------------------


def test_net_profit_is_final_equity_less_the_initial_balance() -> None:
    stats = four_trade_statistics()

    assert (stats.initial_balance, stats.final_equity) == (1000.0, 1040.0)
    assert stats.net_profit == 40.0


def test_return_pct_is_net_profit_over_the_initial_balance() -> None:
    assert four_trade_statistics().return_pct == 4.0


def test_return_pct_of_a_losing_run_is_negative() -> None:
    stats = stats_of(curve((START, 2000.0), (START + DAY, 1500.0)))

    assert (stats.net_profit, stats.return_pct) == (-500.0, -25.0)


def test_return_pct_without_an_initial_balance_is_zero() -> None:
    stats = stats_of(curve((START, 0.0), (START + DAY, 50.0)))

    assert (stats.net_profit, stats.return_pct) == (50.0, 0.0)


def test_the_figures_come_from_the_curve_given_not_from_the_trades() -> None:
    # A marked-to-market curve can end elsewhere than the sum of the nets (an open trade).
    stats = stats_of(curve((START, 1000.0), (START + DAY, 1100.0)), [trade(profit=40.0)])

    assert stats.net_profit == 100.0
    assert stats.gross_profit == 40.0


def test_gross_profit_and_gross_loss_sum_the_winning_and_losing_nets() -> None:
    stats = four_trade_statistics()

    assert (stats.gross_profit, stats.gross_loss) == (65.0, -25.0)


def test_profit_factor_is_gross_profit_over_absolute_gross_loss() -> None:
    assert four_trade_statistics().profit_factor == 2.6


def test_profit_factor_is_none_without_a_losing_trade() -> None:
    trades = [trade(1, profit=10.0), trade(2, profit=5.0)]

    stats = stats_of(curve((START, 1000.0), (START + DAY, 1015.0)), trades)

    assert stats.profit_factor is None


def test_profit_factor_is_zero_without_a_winning_trade() -> None:
    trades = [trade(1, profit=-10.0), trade(2, profit=-5.0)]

    stats = stats_of(curve((START, 1000.0), (START + DAY, 985.0)), trades)

    assert stats.profit_factor == 0.0


def test_expectancy_is_the_mean_net_per_trade() -> None:
    assert four_trade_statistics().expectancy == 10.0


def test_win_rate_is_the_share_of_trades_with_a_positive_net() -> None:
    assert four_trade_statistics().win_rate_pct == 50.0


def test_a_trade_netting_zero_is_neither_a_win_nor_a_loss_but_counts_as_a_trade() -> None:
    # profit 0.5 less 0.5 commission: exactly flat.
    trades = [
        trade(1, profit=10.0),
        trade(2, profit=0.5, commission=-0.5),
        trade(3, profit=-5.0),
        trade(4, profit=20.0),
    ]

    stats = stats_of(curve((START, 1000.0), (START + DAY, 1025.0)), trades)

    assert (stats.trades, stats.wins, stats.losses) == (4, 2, 1)
    assert stats.win_rate_pct == 50.0
    assert stats.expectancy == 6.25


def test_average_win_and_average_loss_are_the_mean_nets_of_each_side() -> None:
    stats = four_trade_statistics()

    assert (stats.average_win, stats.average_loss) == (32.5, -12.5)


def test_best_and_worst_trades_are_the_largest_and_smallest_nets() -> None:
    stats = four_trade_statistics()

    assert (stats.best_trade, stats.worst_trade) == (40.0, -15.0)


def test_trade_counts() -> None:
    stats = four_trade_statistics()

    assert (stats.trades, stats.wins, stats.losses) == (4, 2, 2)


def test_a_run_without_trades_has_no_per_trade_figures() -> None:
    stats = stats_of(curve((START, 1000.0), (START + DAY, 1000.0)))

    assert (stats.trades, stats.wins, stats.losses) == (0, 0, 0)
    assert (stats.gross_profit, stats.gross_loss) == (0.0, 0.0)
    assert stats.profit_factor is None
    assert stats.expectancy is None
    assert stats.win_rate_pct is None
    assert (stats.average_win, stats.average_loss) == (None, None)
    assert (stats.best_trade, stats.worst_trade) == (None, None)
    assert stats.exposure_pct == 0.0


def test_a_run_must_end_after_it_starts() -> None:
    equity = curve((START, 1000.0))

    with pytest.raises(ValueError, match="a run must end after it starts"):
        compute_statistics([], equity, 1000.0, START, START)


# --- drawdown ---------------------------------------------------------------------------------


def test_max_drawdown_pct_is_the_largest_fall_from_a_running_peak() -> None:
    # 100 → 120 → 90 → 130: from the peak of 120 down to 90 is 25 %.
    equity = curve(
        (START, 100.0), (START + DAY, 120.0), (START + 2 * DAY, 90.0), (START + 3 * DAY, 130.0)
    )

    assert stats_of(equity).max_drawdown_pct == 25.0


def test_max_drawdown_pct_is_the_largest_of_several_drawdowns_not_the_last() -> None:
    # 25 % from 120, then 10 % from 130 (to 117).
    equity = curve(
        (START, 100.0),
        (START + DAY, 120.0),
        (START + 2 * DAY, 90.0),
        (START + 3 * DAY, 130.0),
        (START + 4 * DAY, 117.0),
    )

    assert stats_of(equity).max_drawdown_pct == 25.0


def test_max_drawdown_is_measured_from_the_peak_not_from_the_initial_balance() -> None:
    # Never below the start (100), but 50 % below the peak of 200.
    equity = curve((START, 100.0), (START + DAY, 200.0), (START + 2 * DAY, 100.0))

    assert stats_of(equity).max_drawdown_pct == 50.0


def test_a_curve_that_only_rises_has_no_drawdown() -> None:
    equity = curve((START, 100.0), (START + DAY, 110.0), (START + 2 * DAY, 110.0))

    stats = stats_of(equity)

    assert (stats.max_drawdown_pct, stats.max_drawdown_duration_seconds) == (0.0, 0.0)


def test_a_drawdown_never_recovered_lasts_from_its_peak_to_the_end_of_the_run() -> None:
    equity = curve((START, 100.0), (START + 10 * DAY, 120.0), (START + 11 * DAY, 90.0))

    assert stats_of(equity, end=START + 100 * DAY).max_drawdown_duration_seconds == 90 * DAY


def test_the_longest_drawdown_duration_wins() -> None:
    # One day under water from day 1, then under water from day 3 to the end of day 10.
    equity = curve(
        (START, 100.0),
        (START + 1 * DAY, 120.0),
        (START + 2 * DAY, 90.0),
        (START + 3 * DAY, 130.0),
        (START + 4 * DAY, 120.0),
    )

    assert stats_of(equity, end=START + 10 * DAY).max_drawdown_duration_seconds == 7 * DAY


def test_a_recovered_drawdown_lasts_from_its_peak_until_equity_regains_it() -> None:
    # A balance curve: 90 from the close on day 11 until the close on day 100.
    equity = curve(
        (START, 100.0),
        (START + 10 * DAY, 120.0),
        (START + 11 * DAY, 90.0),
        (START + 100 * DAY, 130.0),
    )

    assert stats_of(equity).max_drawdown_duration_seconds == 90 * DAY


# --- CAGR -------------------------------------------------------------------------------------


def test_cagr_of_a_one_year_doubling_is_100_pct() -> None:
    equity = curve((START, 1000.0), (START + SECONDS_PER_YEAR, 2000.0))

    assert stats_of(equity).cagr_pct == 100.0


def test_cagr_of_a_half_year_doubling_is_300_pct() -> None:
    # Doubling twice a year: (2000 / 1000) ^ 2 − 1 = 3.
    equity = curve((START, 1000.0), (START + SECONDS_PER_YEAR / 2, 2000.0))

    assert stats_of(equity).cagr_pct == 300.0


def test_cagr_of_a_two_year_loss_of_three_quarters_is_minus_50_pct() -> None:
    equity = curve((START, 1000.0), (START + 2 * SECONDS_PER_YEAR, 250.0))

    assert stats_of(equity).cagr_pct == -50.0


def test_cagr_is_none_when_the_account_is_wiped_out() -> None:
    equity = curve((START, 1000.0), (START + DAY, 0.0))

    assert stats_of(equity).cagr_pct is None


def test_a_short_run_with_a_large_return_still_has_statistics() -> None:
    # +10 % in one hour: the CAGR is beyond any float, so the dict reports none.
    equity = curve((START, 1000.0), (START + HOUR, 1100.0))

    stats = stats_of(equity)

    assert stats.net_profit == 100.0
    assert stats.to_dict()["cagr_pct"] is None


# --- exposure ---------------------------------------------------------------------------------


def test_exposure_is_the_share_of_the_run_with_a_trade_open() -> None:
    trades = [trade(open_time=START + 10 * HOUR, close_time=START + 20 * HOUR)]

    stats = stats_of(curve((START, 1000.0), (START + 40 * HOUR, 1000.0)), trades)

    assert stats.exposure_pct == 25.0


def test_overlapping_trades_are_counted_once_in_the_exposure() -> None:
    # Open 0–10 h and 5–15 h (together 0–15 h), then 20–30 h: 25 of 40 hours.
    trades = [
        trade(1, open_time=START, close_time=START + 10 * HOUR),
        trade(2, open_time=START + 5 * HOUR, close_time=START + 15 * HOUR),
        trade(3, open_time=START + 20 * HOUR, close_time=START + 30 * HOUR),
    ]

    stats = stats_of(curve((START, 1000.0), (START + 40 * HOUR, 1000.0)), trades)

    assert stats.exposure_pct == 62.5


def test_a_trade_inside_another_adds_no_exposure() -> None:
    trades = [
        trade(1, open_time=START + 4 * HOUR, close_time=START + 6 * HOUR),
        trade(2, open_time=START, close_time=START + 20 * HOUR),
    ]

    stats = stats_of(curve((START, 1000.0), (START + 40 * HOUR, 1000.0)), trades)

    assert stats.exposure_pct == 50.0


def test_exposure_counts_only_the_time_within_the_run() -> None:
    # Open from 10 h before the start to 10 h after it, in a 40 h run.
    trades = [trade(open_time=START - 10 * HOUR, close_time=START + 10 * HOUR)]

    stats = stats_of(curve((START, 1000.0), (START + 40 * HOUR, 1000.0)), trades)

    assert stats.exposure_pct == 25.0


# --- daily returns, Sharpe, Sortino -----------------------------------------------------------


def test_daily_returns_run_from_the_start_to_the_last_equity_of_each_day() -> None:
    equity = curve(
        (START, 100.0),
        (START + 6 * HOUR, 150.0),  # overtaken by the day's last point
        (START + 20 * HOUR, 110.0),
        (START + DAY + 12 * HOUR, 99.0),
        (START + 2 * DAY + 23 * HOUR, 118.8),
    )

    assert daily_returns(equity) == pytest.approx([0.1, -0.1, 0.2], rel=1e-12)


def test_daily_returns_skip_days_without_data() -> None:
    # Friday's close to Monday's: one return, not three.
    equity = curve((START, 100.0), (START + 12 * HOUR, 100.0), (START + 3 * DAY + HOUR, 105.0))

    assert daily_returns(equity).tolist() == [0.0, 0.05]


def test_a_day_starting_from_zero_equity_has_no_return() -> None:
    equity = curve((START, 0.0), (START + HOUR, 0.0), (START + DAY, 10.0), (START + 2 * DAY, 15.0))

    assert daily_returns(equity).tolist() == [0.5]


def test_sharpe_and_sortino_are_none_with_fewer_than_two_daily_returns() -> None:
    equity = curve((START, 100.0), (START + HOUR, 120.0), (START + 2 * HOUR, 90.0))

    stats = stats_of(equity)

    assert (stats.sharpe, stats.sortino) == (None, None)


def test_sharpe_and_sortino_are_none_without_variation() -> None:
    equity = curve(*((START + n * DAY, 100.0) for n in range(4)))

    stats = stats_of(equity)

    assert (stats.sharpe, stats.sortino) == (None, None)


def test_sortino_is_none_without_a_losing_day() -> None:
    equity = curve((START, 100.0), (START + HOUR, 101.0), (START + DAY, 103.0))

    stats = stats_of(equity)

    assert stats.sharpe is not None
    assert stats.sortino is None


DAILY_CLOSES = [100.0, 102.0, 99.0, 104.0, 103.0]


def daily_curve(closes: list[float]) -> EquityCurve:
    """The start at midnight, then one point at noon of each day."""
    return curve(
        (START, closes[0]),
        *((START + n * DAY + 12 * HOUR, value) for n, value in enumerate(closes[1:])),
    )


def test_sharpe_is_mean_over_standard_deviation_of_daily_returns_annualised() -> None:
    closes = np.array(DAILY_CLOSES)
    returns = np.diff(closes) / closes[:-1]
    expected = returns.mean() / returns.std(ddof=1) * math.sqrt(252)

    sharpe = stats_of(daily_curve(DAILY_CLOSES)).sharpe

    assert expected > 0
    assert sharpe == pytest.approx(expected, rel=1e-12)


def test_sortino_is_mean_over_downside_deviation_of_daily_returns_annualised() -> None:
    closes = np.array(DAILY_CLOSES)
    returns = np.diff(closes) / closes[:-1]
    downside = math.sqrt(np.mean(np.minimum(returns, 0.0) ** 2))
    expected = returns.mean() / downside * math.sqrt(252)

    sortino = stats_of(daily_curve(DAILY_CLOSES)).sortino

    assert expected > 0
    assert sortino == pytest.approx(expected, rel=1e-12)


def test_sharpe_and_sortino_of_a_losing_curve_are_negative() -> None:
    closes = [100.0, 98.0, 99.0, 95.0, 96.0]

    stats = stats_of(daily_curve(closes))

    assert stats.sharpe is not None
    assert stats.sortino is not None
    assert stats.sharpe < 0
    assert stats.sortino < 0


def test_statistics_dict_rounds_floats_to_six_places() -> None:
    trades = [trade(1, profit=10.0), trade(2, profit=-5.0), trade(3, profit=-5.0)]

    stats = stats_of(curve((START, 1000.0), (START + DAY, 1000.0)), trades)

    assert stats.win_rate_pct == pytest.approx(100 / 3)
    assert stats.to_dict()["win_rate_pct"] == 33.333333
    assert stats.to_dict()["trades"] == 3


# --- balance_curve ----------------------------------------------------------------------------


def test_balance_curve_steps_at_each_close_in_time_order() -> None:
    trades = [
        trade(1, profit=30.0, close_time=START + 5 * HOUR),
        trade(2, profit=-10.0, commission=-2.0, close_time=START + 2 * HOUR),
    ]

    balance = balance_curve(trades, 1000.0, START, START + DAY)

    assert balance.time.tolist() == [START, START + 2 * HOUR, START + 5 * HOUR, START + DAY]
    assert balance.equity.tolist() == [1000.0, 988.0, 1018.0, 1018.0]


def test_balance_curve_ends_at_the_last_close_when_that_is_the_end() -> None:
    balance = balance_curve([trade(profit=5.0, close_time=START + DAY)], 100.0, START, START + DAY)

    assert balance.time.tolist() == [START, START + DAY]
    assert balance.equity.tolist() == [100.0, 105.0]


def test_balance_curve_without_trades_is_flat_from_start_to_end() -> None:
    balance = balance_curve([], 500.0, START, START + DAY)

    assert balance.time.tolist() == [START, START + DAY]
    assert balance.equity.tolist() == [500.0, 500.0]


# --- mark_to_market ---------------------------------------------------------------------------

# H1 bars opening at START (warm-up) and START + 1 h … START + 4 h (tested): the tested bars
# close at START + 2 h, 3 h, 4 h and 5 h.
BAR_CLOSES = [START + 2 * HOUR, START + 3 * HOUR, START + 4 * HOUR, START + 5 * HOUR]


def prices(closes: list[float], spreads: list[int]) -> PriceSeries:
    """One warm-up bar closing at 1.2 then the tested bars with these closes and spreads."""
    n = len(closes) + 1
    close = np.array([1.2, *closes], dtype=np.float64)
    return PriceSeries(
        symbol="EURUSD",
        timeframe=Timeframe.H1,
        time=(START + HOUR * np.arange(n)).astype(np.int64),
        open=close,
        high=close,
        low=close,
        close=close,
        tick_volume=np.ones(n, dtype=np.int64),
        spread=np.array([0, *spreads], dtype=np.int64),
        real_volume=np.zeros(n, dtype=np.int64),
        first=1,
    )


FLAT = prices([1.1, 1.1, 1.1, 1.1], [10, 10, 10, 10])


def test_the_curve_starts_at_the_initial_balance_then_has_a_point_per_tested_bar_close() -> None:
    equity = mark_to_market(FLAT, [], EURUSD, 1000.0, START)

    assert equity.time.tolist() == [START, *BAR_CLOSES]
    assert equity.equity.tolist() == [1000.0] * 5


def test_a_buy_is_marked_at_the_bid_close_and_its_net_booked_at_its_close_bar() -> None:
    # 0.1 lot bought at 1.1000 within the first tested bar, sold at 1.1020 (+20) within the
    # third; marked at bid 1.1010 (+10) and 1.0990 (−10) at the first two closes.
    bars = prices([1.1010, 1.0990, 1.1030, 1.1040], [10, 10, 10, 10])
    buy = trade(
        profit=20.0,
        swap=-1.0,
        commission=-0.5,
        open_time=START + 1.5 * HOUR,
        close_time=START + 3.5 * HOUR,
        entry_price=1.1000,
        exit_price=1.1020,
    )

    equity = mark_to_market(bars, [buy], EURUSD, 1000.0, START)

    assert equity.equity.tolist() == pytest.approx(
        [1000.0, 1010.0, 990.0, 1018.5, 1018.5], rel=1e-9
    )


def test_a_sell_is_marked_at_the_ask_close_plus_spread() -> None:
    # 0.1 lot sold at 1.1000, bought back at 1.0980 (+20); asks 1.0990 + 10 points = 1.0991
    # (+9) and 1.1005 + 20 points = 1.1007 (−7).
    bars = prices([1.0990, 1.1005, 1.0980, 1.0980], [10, 20, 5, 5])
    sell = trade(
        side="sell",
        profit=20.0,
        open_time=START + 1.5 * HOUR,
        close_time=START + 3.5 * HOUR,
        entry_price=1.1000,
        exit_price=1.0980,
    )

    equity = mark_to_market(bars, [sell], EURUSD, 1000.0, START)

    assert equity.equity.tolist() == pytest.approx(
        [1000.0, 1009.0, 993.0, 1020.0, 1020.0], rel=1e-9
    )


def test_a_trade_closing_at_a_bar_close_is_booked_at_that_bar_not_marked() -> None:
    bars = prices([1.1010, 1.1050, 1.1050, 1.1050], [0, 0, 0, 0])
    buy = trade(
        profit=20.0,
        commission=-0.7,
        open_time=START + 1.5 * HOUR,
        close_time=START + 3 * HOUR,
        entry_price=1.1000,
        exit_price=1.1020,
    )

    equity = mark_to_market(bars, [buy], EURUSD, 1000.0, START)

    assert equity.equity.tolist() == pytest.approx(
        [1000.0, 1010.0, 1019.3, 1019.3, 1019.3], rel=1e-9
    )


def test_the_floating_profit_uses_the_trades_own_money_per_price() -> None:
    # 15 account-currency units for a 0.0020 move: 7500 per unit of price, so a +0.0010 mark
    # is worth 7.5 (not the 10 of a USD account).
    bars = prices([1.1010, 1.1020, 1.1020, 1.1020], [0, 0, 0, 0])
    buy = trade(
        profit=15.0,
        open_time=START + 1.5 * HOUR,
        close_time=START + 2.5 * HOUR,
        entry_price=1.1000,
        exit_price=1.1020,
    )

    equity = mark_to_market(bars, [buy], EURUSD, 1000.0, START)

    assert equity.equity.tolist() == pytest.approx(
        [1000.0, 1007.5, 1015.0, 1015.0, 1015.0], rel=1e-9
    )


def test_a_trade_closed_where_it_opened_is_marked_with_volume_times_contract_size() -> None:
    # 0.1 lot × 100 000 = 10 000 per unit of price: +0.0010 is worth 10; it closes flat and
    # books only its commission.
    bars = prices([1.1010, 1.1000, 1.1000, 1.1000], [0, 0, 0, 0])
    buy = trade(
        profit=0.0,
        commission=-0.7,
        open_time=START + 1.5 * HOUR,
        close_time=START + 2.5 * HOUR,
        entry_price=1.1000,
        exit_price=1.1000,
    )

    equity = mark_to_market(bars, [buy], EURUSD, 1000.0, START)

    assert equity.equity.tolist() == pytest.approx([1000.0, 1010.0, 999.3, 999.3, 999.3], rel=1e-9)


def test_overlapping_trades_add_up_in_the_equity() -> None:
    bars = prices([1.1010, 1.1020, 1.1020, 1.1020], [0, 0, 0, 0])
    first = trade(
        1,
        profit=20.0,
        open_time=START + 1.5 * HOUR,
        close_time=START + 3.5 * HOUR,
        entry_price=1.1000,
        exit_price=1.1020,
    )
    second = trade(
        2,
        profit=10.0,
        open_time=START + 1.5 * HOUR,
        close_time=START + 2.5 * HOUR,
        entry_price=1.1010,
        exit_price=1.1020,
    )

    equity = mark_to_market(bars, [first, second], EURUSD, 1000.0, START)

    assert equity.equity.tolist() == pytest.approx(
        [1000.0, 1010.0, 1030.0, 1030.0, 1030.0], rel=1e-9
    )
