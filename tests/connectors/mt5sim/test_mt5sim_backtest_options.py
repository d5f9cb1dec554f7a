"""The simulator's backtest options: fixed spread, slippage, swap-free accounts, the bar fill
model, replayed data (its holes, in-memory bars), history read ahead of the clock, CSV writing.

Times: THURSDAY is 2024-03-07 10:00 UTC = 12:00 server (UTC+2). Replayed bars are laid on
MONDAY 2024-03-04 (server time); a clock standing at server time ``s`` reads ``s - 7200``.
"""

from __future__ import annotations

import pathlib
from collections.abc import Sequence

import numpy as np
import pytest
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.mt5csv import format_bars, read_export
from forexbot.connectors.mt5sim.replay import ReplayBars, ReplayDataError
from forexbot.connectors.mt5sim.structures import RATES_DTYPE
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

BUY, SELL = mt5.ORDER_TYPE_BUY, mt5.ORDER_TYPE_SELL
POINT = 0.00001  # EURUSD and GBPUSD: 5 digits
SERVER_THURSDAY = int(THURSDAY) + 7200  # 2024-03-07 12:00 server time
THURSDAY_MIDNIGHT = SERVER_THURSDAY - 12 * 3600  # 2024-03-07 00:00 server time
TO_ROLLOVER = 12 * 3600  # 10:00 UTC + 12 h = 22:00 UTC = 00:00 server
MONDAY = 19_786 * 86_400  # 2024-03-04 00:00 server time
TEN = MONDAY + 10 * 3600  # 2024-03-04 10:00 server time
V100 = "Volatility 100 Index"  # a synthetic index: trades every minute of every day
Bar = tuple[int, float, float, float, float]


def _terminal(when: float = THURSDAY, **options: object) -> tuple[SimulatedTerminal, ManualClock]:
    clock = ManualClock(when)
    term = SimulatedTerminal(seed=SEED, clock=clock, **options)  # type: ignore[arg-type]
    assert term.initialize()
    return term, clock


def _at_server(server_seconds: float) -> float:
    """The UTC clock time of a server time on MONDAY's week (server = UTC+2)."""
    return server_seconds - 7200


def _bars(rows: Sequence[Bar], *, spread: int = 10, tick_volume: int = 30) -> np.ndarray:
    """Bars of (server time, open, high, low, close), each with the same spread and volume."""
    out = np.zeros(len(rows), dtype=RATES_DTYPE)
    for i, (time, open_, high, low, close) in enumerate(rows):
        out[i] = (time, open_, high, low, close, tick_volume, spread, 0)
    return out


def _replayed(
    bars: np.ndarray, period: int, server_time: float, **options: object
) -> tuple[SimulatedTerminal, ManualClock]:
    return _terminal(
        _at_server(server_time), replay={"EURUSD": ReplayBars(bars, period)}, **options
    )


def _tick(term: SimulatedTerminal, symbol: str) -> mt5.Tick:
    tick = term.symbol_info_tick(symbol)
    assert tick is not None
    return tick


def _send(
    term: SimulatedTerminal, symbol: str, order_type: int, volume: float, **extra: object
) -> mt5.OrderSendResult:
    result = term.order_send(market_request(symbol, order_type, volume, **extra))
    assert result is not None
    return result


def _deals(term: SimulatedTerminal, position: int) -> tuple[mt5.TradeDeal, ...]:
    return term.history_deals_get(position=position) or ()


# --- fixed spread -------------------------------------------------------------------------


def test_fixed_spread_quotes_the_ask_that_many_points_above_the_bid() -> None:
    term, _ = _terminal(fixed_spread={"EURUSD": 12})
    tick = _tick(term, "EURUSD")
    assert (tick.time_msc, tick.bid) == (SERVER_THURSDAY * 1000 - 1962, 1.1398)
    assert tick.ask == round(tick.bid + 12 * POINT, 5) == 1.13992


def test_fixed_spread_rewrites_every_tick_of_the_history() -> None:
    term, _ = _terminal(fixed_spread={"EURUSD": 12})
    ticks = term.copy_ticks_range(
        "EURUSD", SERVER_THURSDAY - 3600, SERVER_THURSDAY, mt5.COPY_TICKS_ALL
    )
    assert ticks is not None
    assert len(ticks) > 1000
    assert np.array_equal(ticks["ask"], np.round(ticks["bid"] + 12 * POINT, 5))


def test_fixed_spread_is_the_spread_of_every_bar() -> None:
    term, _ = _terminal(THURSDAY + 30, fixed_spread={"EURUSD": 12})  # 12:00:30 server
    m1 = term.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 1500)  # from Wednesday on
    h1 = term.copy_rates_range("EURUSD", mt5.TIMEFRAME_H1, MONDAY, SERVER_THURSDAY)
    assert m1 is not None
    assert h1 is not None
    assert (len(m1), int(m1[-1]["time"])) == (1500, SERVER_THURSDAY)  # with the forming bar
    assert set(m1["spread"].tolist()) == {12}
    assert (len(h1), set(h1["spread"].tolist())) == (3 * 24 + 13, {12})


def test_fixed_spread_leaves_the_bid_path_as_the_feed_has_it() -> None:
    fixed, _ = _terminal(fixed_spread={"EURUSD": 12})
    plain, _ = _terminal()
    args = ("EURUSD", SERVER_THURSDAY - 3600, SERVER_THURSDAY, mt5.COPY_TICKS_ALL)
    fixed_ticks, plain_ticks = fixed.copy_ticks_range(*args), plain.copy_ticks_range(*args)
    assert fixed_ticks is not None
    assert plain_ticks is not None
    assert np.array_equal(fixed_ticks["time_msc"], plain_ticks["time_msc"])
    assert np.array_equal(fixed_ticks["bid"], plain_ticks["bid"])
    assert not np.array_equal(fixed_ticks["ask"], plain_ticks["ask"])
    fixed_bars = fixed.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 1500)
    plain_bars = plain.copy_rates_from_pos("EURUSD", mt5.TIMEFRAME_M1, 0, 1500)
    assert fixed_bars is not None
    assert plain_bars is not None
    prices = ["time", "open", "high", "low", "close", "tick_volume"]
    assert np.array_equal(fixed_bars[prices], plain_bars[prices])


def test_symbols_without_a_fixed_spread_keep_the_feed_spread() -> None:
    fixed, _ = _terminal(fixed_spread={"EURUSD": 12})
    plain, _ = _terminal()
    assert _tick(fixed, "GBPUSD") == _tick(plain, "GBPUSD")
    args = ("GBPUSD", SERVER_THURSDAY - 3600, SERVER_THURSDAY, mt5.COPY_TICKS_ALL)
    fixed_ticks, plain_ticks = fixed.copy_ticks_range(*args), plain.copy_ticks_range(*args)
    assert fixed_ticks is not None
    assert plain_ticks is not None
    assert np.array_equal(fixed_ticks, plain_ticks)


@pytest.mark.parametrize(
    ("spreads", "message"),
    [
        ({"EURUSD": -1}, "must not be negative"),
        ({"EURXXX": 12}, "unknown symbol"),
    ],
    ids=["negative", "unknown-symbol"],
)
def test_a_negative_or_unknown_fixed_spread_is_refused_at_construction(
    spreads: dict[str, int], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        SimulatedTerminal(seed=SEED, clock=ManualClock(THURSDAY), fixed_spread=spreads)


# --- slippage -----------------------------------------------------------------------------


def test_slippage_fills_a_market_buy_that_many_points_above_the_ask() -> None:
    term, _ = _terminal(slippage_points=3)
    tick = _tick(term, "EURUSD")
    assert tick.ask == 1.13989
    result = _send(term, "EURUSD", BUY, 0.1)
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    assert (result.price, result.bid, result.ask) == (1.13992, 1.1398, 1.13989)
    (deal,) = term.history_deals_get(ticket=result.order) or ()
    assert deal.price == 1.13992
    (position,) = term.positions_get(ticket=result.order) or ()
    assert position.price_open == 1.13992


def test_slippage_fills_a_market_sell_that_many_points_below_the_bid() -> None:
    term, _ = _terminal(slippage_points=3)
    assert _tick(term, "EURUSD").bid == 1.1398
    result = _send(term, "EURUSD", SELL, 0.1)
    assert result.retcode == mt5.TRADE_RETCODE_DONE
    assert result.price == 1.13977
    (deal,) = term.history_deals_get(ticket=result.order) or ()
    assert deal.price == 1.13977


def test_there_is_no_slippage_by_default() -> None:
    term, _ = _terminal()
    bought = _send(term, "EURUSD", BUY, 0.1)
    sold = _send(term, "EURUSD", SELL, 0.1)
    assert (bought.price, sold.price) == (1.13989, 1.1398)


def test_negative_slippage_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="slippage must not be negative"):
        SimulatedTerminal(seed=SEED, clock=ManualClock(THURSDAY), slippage_points=-1)


# --- swap-free accounts -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("swap_free", "swap"), [(True, 0.0), (False, -7.2)], ids=["swap-free", "standard"]
)
def test_a_swap_free_account_is_charged_nothing_at_the_rollover(
    swap_free: bool, swap: float
) -> None:
    term, clock = _terminal(swap_free=swap_free)
    opened = _send(term, "EURUSD", BUY, 1.0)
    assert opened.retcode == mt5.TRADE_RETCODE_DONE
    clock.advance(TO_ROLLOVER + 60)  # Thursday's rollover: EURUSD's swap long is -7.2 points
    (position,) = term.positions_get(ticket=opened.order) or ()
    assert position.swap == swap
    closed = _send(term, "EURUSD", SELL, 1.0, position=opened.order)
    (deal,) = term.history_deals_get(ticket=closed.order) or ()
    info = term.account_info()
    assert info is not None
    assert deal.swap == swap
    assert info.balance == round(10_000 + deal.profit + swap, 2)


# --- the bar fill model -------------------------------------------------------------------

QUIET = (1.1000, 1.1005, 1.0995, 1.1000)  # a minute moving 5 points either side of 1.1000


def _quiet_minutes(count: int, **changed: tuple[float, float, float, float]) -> np.ndarray:
    """``count`` M1 bars from 10:00 server, quiet but for ``m<minute>=(o, h, l, c)``."""
    rows = [(TEN + 60 * i, *changed.get(f"m{i}", QUIET)) for i in range(count)]
    return _bars(rows)


def _bar_model_buy(
    bars: np.ndarray, *, sl: float = 0.0, tp: float = 0.0
) -> tuple[SimulatedTerminal, ManualClock, mt5.OrderSendResult]:
    """A bar-model terminal on ``bars`` with a buy opened at 10:00:00.000 server time."""
    term, clock = _replayed(bars, 60, TEN, fill_model="bars")
    opened = _send(term, "EURUSD", BUY, 0.1, sl=sl, tp=tp)
    assert opened.retcode == mt5.TRADE_RETCODE_DONE
    assert opened.price == 1.1001  # the first tick: the bar's open + 10 points of spread
    return term, clock, opened


def test_bar_model_closes_at_the_tp_stamped_at_the_end_of_the_bar_that_reached_it() -> None:
    bars = _quiet_minutes(10, m3=(1.1000, 1.1030, 1.0995, 1.1010))
    term, clock, opened = _bar_model_buy(bars, tp=1.1020)
    clock.advance(2 * 60)
    assert term.positions_total() == 1  # minutes 10:00 and 10:01 stay below the TP
    clock.advance(8 * 60)
    assert term.positions_total() == 0
    opening, closing = _deals(term, opened.order)
    assert opening.time_msc == TEN * 1000
    assert (closing.reason, closing.price, closing.comment) == (
        mt5.DEAL_REASON_TP,
        1.1020,
        "[tp 1.10200]",
    )
    assert (closing.time_msc, closing.time) == ((TEN + 180) * 1000 + 59_999, TEN + 239)
    assert closing.profit == 19.0


def test_bar_model_checks_a_position_opened_at_a_minute_start_against_that_minute() -> None:
    bars = _quiet_minutes(10, m0=(1.1000, 1.1030, 1.0995, 1.1010))
    term, clock, opened = _bar_model_buy(bars, tp=1.1020)
    clock.advance(5 * 60)
    _, closing = _deals(term, opened.order)
    assert (closing.reason, closing.price) == (mt5.DEAL_REASON_TP, 1.1020)
    assert closing.time_msc == TEN * 1000 + 59_999


@pytest.mark.parametrize(
    ("bar_open", "reason", "price", "profit"),
    [
        (1.0985, mt5.DEAL_REASON_SL, 1.0980, -21.0),  # 5 points from the SL, 45 from the TP
        (1.1025, mt5.DEAL_REASON_TP, 1.1030, 29.0),  # 5 points from the TP, 45 from the SL
    ],
    ids=["open-near-sl", "open-near-tp"],
)
def test_bar_model_takes_the_level_nearer_the_bar_open_when_a_bar_reaches_both(
    bar_open: float, reason: int, price: float, profit: float
) -> None:
    bars = _quiet_minutes(10, m2=(bar_open, 1.1035, 1.0975, 1.1000))
    term, clock, opened = _bar_model_buy(bars, sl=1.0980, tp=1.1030)
    clock.advance(10 * 60)
    _, closing = _deals(term, opened.order)
    assert (closing.reason, closing.price, closing.profit) == (reason, price, profit)
    assert closing.time_msc == (TEN + 120) * 1000 + 59_999


def test_bar_model_checks_the_rest_of_the_opening_minute_after_a_jump() -> None:
    # Minute 10:00 rises to 1.1030 late in the bar (open -> low -> high -> close); a buy
    # opened at 10:00:30 sees its bid pass the TP at 10:00:34 (the tick model closes there).
    bars = _quiet_minutes(10, m0=(1.1000, 1.1030, 1.0995, 1.1010))
    term, clock = _replayed(bars, 60, TEN + 30, fill_model="bars")
    opened = _send(term, "EURUSD", BUY, 0.1, tp=1.1020)
    assert opened.retcode == mt5.TRADE_RETCODE_DONE
    clock.advance(5 * 60)
    assert [deal.reason for deal in _deals(term, opened.order)] == [
        mt5.DEAL_REASON_EXPERT,
        mt5.DEAL_REASON_TP,
    ]


def test_an_unknown_fill_model_is_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="fill model must be one of"):
        SimulatedTerminal(seed=SEED, clock=ManualClock(THURSDAY), fill_model="candles")


# --- replayed data: closed in its holes -----------------------------------------------------


def _retcode_at(term: SimulatedTerminal, clock: ManualClock, server_time: float) -> int:
    clock.set(_at_server(server_time))
    return _send(term, "EURUSD", BUY, 0.01).retcode


def _h1_with_a_missing_hour() -> np.ndarray:
    """H1 bars at 10:00, 11:00 and 13:00 server time: 12:00 is missing."""
    return _bars([(TEN + h * 3600, 1.1000, 1.1010, 1.0990, 1.1005) for h in (0, 1, 3)])


@pytest.mark.parametrize(
    ("server_time", "retcode"),
    [
        (TEN + 3599, mt5.TRADE_RETCODE_DONE),  # 10:59:59, inside the 10:00 bar
        (TEN + 5400, mt5.TRADE_RETCODE_DONE),  # 11:30
        (TEN + 7200, mt5.TRADE_RETCODE_MARKET_CLOSED),  # 12:00, the missing bar's open
        (TEN + 9000, mt5.TRADE_RETCODE_MARKET_CLOSED),  # 12:30
        (TEN + 10_800, mt5.TRADE_RETCODE_DONE),  # 13:00, the next bar
    ],
    ids=["10:59:59", "11:30", "12:00", "12:30", "13:00"],
)
def test_a_missing_h1_bar_is_a_closed_market(server_time: int, retcode: int) -> None:
    term, clock = _replayed(_h1_with_a_missing_hour(), 3600, TEN)
    assert _retcode_at(term, clock, server_time) == retcode


def test_the_market_is_closed_in_the_hole_with_a_quote_from_the_bar_before() -> None:
    term, clock = _replayed(_h1_with_a_missing_hour(), 3600, TEN + 9000)  # 12:30
    tick = _tick(term, "EURUSD")
    # The 11:00 bar's close, on its last active minute (30 ticks: one minute in two, 11:58).
    assert (tick.time_msc, tick.bid, tick.ask) == ((TEN + 7080) * 1000, 1.1005, 1.1006)
    assert _retcode_at(term, clock, TEN + 9000) == mt5.TRADE_RETCODE_MARKET_CLOSED


def _m1_with_quiet_minutes() -> np.ndarray:
    """M1 bars 10:00-10:09 and 10:13-10:19 server time: 10:10 to 10:12 have no bar."""
    minutes = [*range(10), *range(13, 20)]
    return _bars([(TEN + 60 * m, *QUIET) for m in minutes])


@pytest.mark.parametrize(
    ("server_time", "retcode"),
    [
        (TEN + 610, mt5.TRADE_RETCODE_DONE),  # 10:10:10, in the three missing minutes
        (TEN + 779, mt5.TRADE_RETCODE_DONE),  # 10:12:59
        (TEN + 1199, mt5.TRADE_RETCODE_DONE),  # 10:19:59, the last bar's last second
        (TEN + 1200, mt5.TRADE_RETCODE_MARKET_CLOSED),  # 10:20, the last bar's end
        (TEN + 3600, mt5.TRADE_RETCODE_MARKET_CLOSED),  # 11:00
    ],
    ids=["10:10:10", "10:12:59", "10:19:59", "10:20", "11:00"],
)
def test_quiet_minutes_stay_open_and_the_end_of_the_data_is_closed(
    server_time: int, retcode: int
) -> None:
    term, clock = _replayed(_m1_with_quiet_minutes(), 60, TEN)
    assert _retcode_at(term, clock, server_time) == retcode


# --- ReplayBars -----------------------------------------------------------------------------


def test_replayed_bars_out_of_time_order_are_refused() -> None:
    bars = _h1_with_a_missing_hour()[[0, 2, 1]]
    with pytest.raises(ReplayDataError, match="not in time order"):
        _replayed(bars, 3600, TEN)


@pytest.mark.parametrize("period", [90, 7 * 86_400], ids=["90s", "W1"])
def test_replayed_bars_of_an_unsupported_period_are_refused(period: int) -> None:
    with pytest.raises(ReplayDataError, match="use M1 to D1"):
        _replayed(_h1_with_a_missing_hour(), period, TEN)


@pytest.mark.parametrize(
    ("bars", "period", "timeframe"),
    [
        (_h1_with_a_missing_hour(), 3600, mt5.TIMEFRAME_H1),
        (_m1_with_quiet_minutes(), 60, mt5.TIMEFRAME_M1),
    ],
    ids=["H1", "M1"],
)
def test_replayed_bars_come_back_exactly_through_copy_rates_range(
    bars: np.ndarray, period: int, timeframe: int
) -> None:
    term, _ = _replayed(bars, period, MONDAY + 2 * 86_400)
    rates = term.copy_rates_range("EURUSD", timeframe, MONDAY, MONDAY + 86_399)
    assert rates is not None
    assert rates.dtype == RATES_DTYPE
    assert np.array_equal(rates, bars)


# --- history_as_of --------------------------------------------------------------------------

AS_OF = THURSDAY + 4 * 3600 + 30  # 16:00:30 server time, 4 h after the terminal's clock


def test_history_as_of_returns_bars_past_the_terminal_clock() -> None:
    term, _ = _terminal()
    ahead = term.history_as_of(
        "EURUSD", mt5.TIMEFRAME_M1, THURSDAY_MIDNIGHT, THURSDAY_MIDNIGHT + 86_399, AS_OF
    )
    own = term.copy_rates_range(
        "EURUSD", mt5.TIMEFRAME_M1, THURSDAY_MIDNIGHT, THURSDAY_MIDNIGHT + 86_399
    )
    assert ahead is not None
    assert own is not None
    assert (len(ahead), int(ahead[0]["time"]), int(ahead[-1]["time"])) == (
        961,
        THURSDAY_MIDNIGHT,
        SERVER_THURSDAY + 4 * 3600,  # 16:00, forming at as_of
    )
    assert (len(own), int(own[-1]["time"])) == (720, SERVER_THURSDAY - 60)  # 11:59
    assert np.array_equal(ahead[:720], own)


def test_history_as_of_does_not_move_the_terminal_clock() -> None:
    term, _ = _terminal()
    before = _tick(term, "EURUSD")
    term.history_as_of(
        "EURUSD", mt5.TIMEFRAME_M1, THURSDAY_MIDNIGHT, THURSDAY_MIDNIGHT + 86_399, AS_OF
    )
    assert _tick(term, "EURUSD") == before
    assert before.time_msc == SERVER_THURSDAY * 1000 - 1962


def test_history_as_of_has_no_chart_limit() -> None:
    term, _ = _terminal()
    start = THURSDAY_MIDNIGHT - 75 * 86_400  # 2023-12-23 00:00 server time
    full = term.history_as_of(V100, mt5.TIMEFRAME_M1, start, SERVER_THURSDAY, THURSDAY)
    charted = term.copy_rates_range(V100, mt5.TIMEFRAME_M1, start, SERVER_THURSDAY)
    assert full is not None
    assert charted is not None
    assert (len(full), int(full[0]["time"]), int(full[-1]["time"])) == (
        75 * 1440 + 12 * 60 + 1,
        start,
        SERVER_THURSDAY,
    )
    assert len(charted) < 100_002 < len(full)
    assert np.array_equal(charted, full[-len(charted) :])


@pytest.mark.parametrize(
    "timeframe", [mt5.TIMEFRAME_M1, mt5.TIMEFRAME_M5, mt5.TIMEFRAME_H1], ids=["M1", "M5", "H1"]
)
def test_history_as_of_equals_copy_rates_range_with_the_clock_at_as_of(timeframe: int) -> None:
    early, _ = _terminal()
    late, _ = _terminal(AS_OF)
    span = (SERVER_THURSDAY - 2 * 3600, SERVER_THURSDAY + 5 * 3600)  # 10:00 to 17:00 server
    ahead = early.history_as_of("EURUSD", timeframe, *span, AS_OF)
    ranged = late.copy_rates_range("EURUSD", timeframe, *span)
    assert ahead is not None
    assert ranged is not None
    assert len(ranged) > 0
    assert np.array_equal(ahead, ranged)


def test_history_as_of_refuses_a_calendar_timeframe() -> None:
    term, _ = _terminal()
    weeks = term.history_as_of("EURUSD", mt5.TIMEFRAME_W1, MONDAY, SERVER_THURSDAY, AS_OF)
    assert weeks is None
    assert term.last_error() == (-2, "Terminal: Invalid params")


# --- format_bars ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("timeframe", "daily", "header"),
    [
        (
            mt5.TIMEFRAME_H1,
            False,
            "<DATE>\t<TIME>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>",
        ),
        (
            mt5.TIMEFRAME_D1,
            True,
            "<DATE>\t<OPEN>\t<HIGH>\t<LOW>\t<CLOSE>\t<TICKVOL>\t<VOL>\t<SPREAD>",
        ),
    ],
    ids=["H1", "D1"],
)
def test_formatted_bars_read_back_to_the_same_bars(
    tmp_path: pathlib.Path, timeframe: int, daily: bool, header: str
) -> None:
    term, _ = _terminal()
    bars = term.copy_rates_range(
        "EURUSD", timeframe, THURSDAY_MIDNIGHT - 21 * 86_400, THURSDAY_MIDNIGHT - 1
    )
    assert bars is not None
    assert len(bars) == (15 if daily else 15 * 24)  # three forex weeks
    text = format_bars(bars, 5, daily=daily)
    assert text.splitlines()[0] == header
    path = tmp_path / "EURUSD_export.csv"
    path.write_text(text, newline="")
    export = read_export(path)
    assert export.kind == "bars"
    assert np.array_equal(export.data, bars)
