"""Specification of :mod:`forexbot.engine.risk_checks`: each rule at its boundary.

Prices are on a grid of 0.25 (an index-like symbol), so every distance in points is exact and
"at the limit" means exactly at it. The order the rules run in, and what they are fed, is
specified through the risk manager in ``test_risk.py``.
"""

from __future__ import annotations

from dataclasses import replace

import pytest
from symbol_specs import EURUSD

from forexbot.config.models import RiskSettings
from forexbot.domain.market import Tick
from forexbot.domain.rejection import RejectCode, Rejection
from forexbot.domain.trading import AccountState, Side, Signal
from forexbot.engine import risk_checks as checks
from forexbot.engine.exposure import Holding

NOW = 1_767_225_600.0
IDX = replace(
    EURUSD,
    name="IDX",
    digits=2,
    point=0.25,
    tick_size=0.25,
    stops_level=10,
    currency_base="IDX",
    currency_profit="IDX",
)
TICK = Tick("IDX", NOW, bid=1000.0, ask=1002.5)  # a spread of 10 points


def signal(side: Side = Side.BUY, sl: float = 990.0, tp: float = 0.0, **kw: object) -> Signal:
    fields: dict[str, object] = {
        "strategy": "s",
        "symbol": "IDX",
        "timeframe": "M15",
        "side": side,
        "entry": 1000.0,
        "sl": sl,
        "tp": tp,
        "confidence": 0.5,
        "reason": "test",
        "bar_time": int(NOW) - 900,
    }
    return Signal(**{**fields, **kw})  # type: ignore[arg-type]


def account(**kw: object) -> AccountState:
    values: dict[str, object] = {
        "currency": "USD",
        "balance": 10_000.0,
        "equity": 10_000.0,
        "margin": 0.0,
        "margin_free": 10_000.0,
        "leverage": 100,
    }
    return AccountState(**{**values, **kw})  # type: ignore[arg-type]


def code(rejection: Rejection | None) -> RejectCode | None:
    return None if rejection is None else rejection.code


# -- readiness and the signal's age --------------------------------------------------------------


def test_nothing_is_approved_before_the_engine_is_ready() -> None:
    assert code(checks.readiness(False)) is RejectCode.NOT_READY
    assert checks.readiness(True) is None


def test_a_signal_exactly_the_grace_period_after_its_bar_closed_is_acted_on() -> None:
    closed_at = NOW  # signal()'s M15 bar opened 900 s before NOW

    assert checks.signal_age(signal(), closed_at + 120, 120) is None
    assert code(checks.signal_age(signal(), closed_at + 121, 120)) is RejectCode.STALE_SIGNAL


# -- the market condition ------------------------------------------------------------------------


def test_a_trade_without_a_market_condition_passes_every_filter() -> None:
    strict = RiskSettings(allowed_sessions=("London",), blocked_liquidity=("thin",))

    assert checks.market_condition({}, strict) is None


def test_a_closed_market_is_refused_before_the_sessions_are_looked_at() -> None:
    strict = RiskSettings(allowed_sessions=("London",))

    refused = checks.market_condition({"market_open": False, "sessions": []}, strict)

    assert code(refused) is RejectCode.MARKET_CLOSED


def test_one_allowed_session_open_is_enough() -> None:
    settings = RiskSettings(allowed_sessions=("London",))

    assert checks.market_condition({"sessions": ["Tokyo", "London"]}, settings) is None
    refused = checks.market_condition({"sessions": ["Tokyo"]}, settings)
    assert code(refused) is RejectCode.SESSION_NOT_ALLOWED


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"liquidity": "thin"}, RejectCode.LIQUIDITY_BLOCKED),
        ({"volatility": "high"}, RejectCode.VOLATILITY_BLOCKED),
        ({"liquidity": "normal", "volatility": "normal"}, None),
    ],
)
def test_blocked_liquidity_and_volatility_are_refused(
    condition: dict[str, str], expected: RejectCode | None
) -> None:
    settings = RiskSettings(blocked_liquidity=("thin",), blocked_volatility=("high",))

    assert code(checks.market_condition(condition, settings)) is expected


# -- the quote and the spread --------------------------------------------------------------------


def test_a_quote_exactly_the_maximum_age_old_is_still_a_price() -> None:
    assert checks.quote("IDX", replace(TICK, time=NOW - 120), NOW, 120) is None
    assert code(checks.quote("IDX", replace(TICK, time=NOW - 121), NOW, 120)) is (
        RejectCode.STALE_QUOTE
    )


def test_no_quote_at_all_is_refused() -> None:
    assert code(checks.quote("IDX", None, NOW, 120)) is RejectCode.NO_QUOTE


def test_a_spread_of_exactly_the_symbols_maximum_passes() -> None:
    assert checks.spread("IDX", TICK, IDX, 10) is None
    assert code(checks.spread("IDX", TICK, IDX, 9)) is RejectCode.SPREAD_TOO_WIDE


def test_a_symbol_without_a_maximum_spread_allows_any() -> None:
    assert checks.spread("IDX", replace(TICK, ask=1100.0), IDX, None) is None


def test_the_spread_may_be_exactly_the_allowed_share_of_the_stop() -> None:
    # A buy enters at the ask 1002.5; a stop at 990 is 50 points away; 10 points is 20 %.
    assert checks.spread_share_of_stop(signal(sl=990.0), TICK, IDX, 20.0) is None
    refused = checks.spread_share_of_stop(signal(sl=990.0), TICK, IDX, 19.9)
    assert code(refused) is RejectCode.SPREAD_TOO_WIDE


# -- stops ---------------------------------------------------------------------------------------


def test_a_buy_stop_exactly_the_stops_level_below_the_bid_passes() -> None:
    # stops_level 10 points × 0.25 = 2.5 below the bid 1000.
    assert checks.stop_loss(signal(sl=997.5), TICK, IDX) is None
    assert code(checks.stop_loss(signal(sl=997.75), TICK, IDX)) is RejectCode.STOP_TOO_CLOSE


def test_a_buy_stop_at_the_bid_is_on_the_wrong_side() -> None:
    assert code(checks.stop_loss(signal(sl=1000.0), TICK, IDX)) is RejectCode.INVALID_STOP


def test_a_sell_stop_is_measured_from_the_ask() -> None:
    # Above the bid but below the ask: the position would be stopped out at once.
    refused = checks.stop_loss(signal(Side.SELL, sl=1001.0), TICK, IDX)

    assert code(refused) is RejectCode.INVALID_STOP
    assert checks.stop_loss(signal(Side.SELL, sl=1005.0), TICK, IDX) is None


def test_a_take_profit_exactly_the_stops_level_above_the_bid_passes() -> None:
    assert checks.take_profit(signal(tp=1002.5), TICK, IDX) is None
    refused = checks.take_profit(signal(tp=1002.25), TICK, IDX)
    assert code(refused) is RejectCode.TAKE_PROFIT_TOO_CLOSE


def test_a_take_profit_at_the_price_that_triggers_it_is_on_the_wrong_side() -> None:
    refused = checks.take_profit(signal(tp=1000.0), TICK, IDX)

    assert code(refused) is RejectCode.INVALID_TAKE_PROFIT


def test_no_take_profit_is_allowed() -> None:
    assert checks.take_profit(signal(tp=0.0), TICK, IDX) is None


# -- positions -----------------------------------------------------------------------------------


def test_positions_one_below_the_limit_leave_room_for_one_more() -> None:
    settings = RiskSettings(max_open_positions=3, max_positions_per_symbol=2)

    assert checks.position_counts("IDX", 2, 1, settings, hedging=True) is None
    refused = checks.position_counts("IDX", 3, 0, settings, hedging=True)
    assert code(refused) is RejectCode.MAX_OPEN_POSITIONS
    refused = checks.position_counts("IDX", 2, 2, settings, hedging=True)
    assert code(refused) is RejectCode.MAX_POSITIONS_PER_SYMBOL


def test_a_netting_account_holds_one_position_per_symbol_whatever_the_setting() -> None:
    settings = RiskSettings(max_open_positions=10, max_positions_per_symbol=5)

    refused = checks.position_counts("IDX", 1, 1, settings, hedging=False)

    assert code(refused) is RejectCode.MAX_POSITIONS_PER_SYMBOL
    assert refused is not None
    assert "netting" in refused.message


# -- a person's volume ---------------------------------------------------------------------------


def test_a_volume_off_the_step_grid_is_invalid() -> None:
    assert code(checks.manual_volume(0.015, EURUSD)) is RejectCode.INVALID_VOLUME
    assert checks.manual_volume(0.02, EURUSD) is None


def test_a_chosen_volume_may_risk_exactly_the_per_trade_limit() -> None:
    assert checks.risk_per_trade(0.2, 100.0, 100.0, 1.0) is None
    refused = checks.risk_per_trade(0.21, 105.0, 100.0, 1.0)
    assert code(refused) is RejectCode.RISK_PER_TRADE_EXCEEDED


# -- exposure and margin -------------------------------------------------------------------------


def test_exposure_beyond_the_limit_is_refused_only_when_it_grows() -> None:
    # 1 lot EURUSD at 1.10 is 110,000 USD long EUR; the limit is 1,000 % of 10,000 = 100,000.
    long_eur = Holding("EURUSD", Side.BUY, 1.0, 1.10)
    short_eur = Holding("EURUSD", Side.SELL, 0.05, 1.10)  # still 104,500 after it
    spec_of = {"EURUSD": EURUSD}.__getitem__

    refused = checks.exposure(long_eur, [], spec_of, account(), 1000.0)
    assert code(refused) is RejectCode.MAX_CURRENCY_EXPOSURE
    assert checks.exposure(short_eur, [long_eur], spec_of, account(), 1000.0) is None


def test_margin_exactly_the_free_margin_fits() -> None:
    acc = account(margin_free=500.0)

    assert checks.margin(500.0, 1.0, acc, 0.0, 100.0) is None
    assert code(checks.margin(500.01, 1.0, acc, 0.0, 100.0)) is RejectCode.INSUFFICIENT_MARGIN


def test_margin_reserved_by_orders_in_flight_is_not_free() -> None:
    acc = account(margin_free=500.0)

    refused = checks.margin(300.0, 1.0, acc, 250.0, 100.0)

    assert code(refused) is RejectCode.INSUFFICIENT_MARGIN
    assert refused is not None
    assert "250.00 is free" in refused.message


def test_margin_in_use_may_reach_exactly_the_usage_limit() -> None:
    # 50 % of 10,000 equity: 4,000 in use (1,000 of it reserved) + 1,000 required = 5,000.
    acc = account(margin=3_000.0, margin_free=7_000.0)

    assert checks.margin(1_000.0, 1.0, acc, 1_000.0, 50.0) is None
    assert code(checks.margin(1_000.25, 1.0, acc, 1_000.0, 50.0)) is RejectCode.MARGIN_LIMIT
