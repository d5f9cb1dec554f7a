"""Specification of :mod:`forexbot.engine.orders` (rules in the module docstring)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from symbol_specs import EURUSD

from forexbot.connectors import mt5_constants as mt5c
from forexbot.domain.market import Tick
from forexbot.domain.trading import Side
from forexbot.engine.orders import (
    MAX_COMMENT,
    Stops,
    filling_type,
    market_order,
    modify_stops,
    new_client_order_id,
    normalise_stops,
    round_toward,
)

LEVEL_50 = replace(EURUSD, stops_level=50)
USDJPY = replace(EURUSD, name="USDJPY", digits=3, point=0.001, tick_size=0.001)


def tick(bid: float, ask: float, symbol: str = "EURUSD") -> Tick:
    return Tick(symbol=symbol, time=1_767_225_600.0, bid=bid, ask=ask)


# --- normalise_stops: rounding ---------------------------------------------------------------


def order(**changes: Any) -> dict[str, Any]:
    """A market order request with test defaults (EURUSD buy of 0.1 at 1.1), some changed."""
    fields: dict[str, Any] = {
        "symbol": "EURUSD",
        "side": Side.BUY,
        "volume": 0.1,
        "price": 1.1,
        "stops": Stops(0.0, 0.0),
        "spec": EURUSD,
        "deviation": 10,
        "magic": 7,
        "comment": "x",
    }
    return market_order(**{**fields, **changes})


def test_sl_and_tp_are_rounded_to_the_symbol_digits() -> None:
    stops = normalise_stops(Side.BUY, 1.0950012, 1.1050049, tick(1.10000, 1.10010), EURUSD)

    assert stops == Stops(1.09500, 1.10500, sl_moved=False, tp_moved=False)


def test_rounding_follows_the_symbol_digits_of_a_three_digit_pair() -> None:
    stops = normalise_stops(Side.SELL, 151.23449, 149.87651, tick(150.000, 150.010), USDJPY)

    assert stops == Stops(151.234, 149.877)


def test_zero_means_no_sl_and_no_tp() -> None:
    stops = normalise_stops(Side.BUY, 0.0, 0.0, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(0.0, 0.0, sl_moved=False, tp_moved=False)


def test_a_missing_tp_stays_missing_while_the_sl_is_moved() -> None:
    stops = normalise_stops(Side.BUY, 1.09990, 0.0, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.09950, 0.0, sl_moved=True, tp_moved=False)


# --- normalise_stops: the stops level --------------------------------------------------------


def test_levels_far_enough_from_the_market_are_unchanged() -> None:
    stops = normalise_stops(Side.BUY, 1.09800, 1.10300, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.09800, 1.10300, sl_moved=False, tp_moved=False)


def test_levels_exactly_at_the_stops_level_are_unchanged() -> None:
    stops = normalise_stops(Side.BUY, 1.09950, 1.10050, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.09950, 1.10050, sl_moved=False, tp_moved=False)


def test_buy_sl_inside_the_stops_level_moves_out_to_the_edge_below_the_bid() -> None:
    stops = normalise_stops(Side.BUY, 1.09980, 1.10300, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.09950, 1.10300, sl_moved=True, tp_moved=False)


def test_buy_tp_inside_the_stops_level_moves_out_to_the_edge_above_the_bid() -> None:
    stops = normalise_stops(Side.BUY, 1.09800, 1.10030, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.09800, 1.10050, sl_moved=False, tp_moved=True)


def test_sell_sl_inside_the_stops_level_moves_out_to_the_edge_above_the_ask() -> None:
    stops = normalise_stops(Side.SELL, 1.10040, 1.09700, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.10060, 1.09700, sl_moved=True, tp_moved=False)


def test_sell_tp_inside_the_stops_level_moves_out_to_the_edge_below_the_ask() -> None:
    stops = normalise_stops(Side.SELL, 1.10300, 1.09990, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.10300, 1.09960, sl_moved=False, tp_moved=True)


def test_a_buy_is_measured_from_the_bid_not_the_ask() -> None:
    # 40 points below the bid, 140 below the ask: inside the level of 50 for a buy.
    stops = normalise_stops(Side.BUY, 1.09960, 1.10040, tick(1.10000, 1.10100), LEVEL_50)

    assert stops == Stops(1.09950, 1.10050, sl_moved=True, tp_moved=True)


def test_a_sell_is_measured_from_the_ask_not_the_bid() -> None:
    # SL 30 points above the ask (130 above the bid); TP 30 below the ask (70 above the bid).
    stops = normalise_stops(Side.SELL, 1.10130, 1.10070, tick(1.10000, 1.10100), LEVEL_50)

    assert stops == Stops(1.10150, 1.10050, sl_moved=True, tp_moved=True)


def test_a_buy_level_far_from_the_ask_but_not_from_the_bid_is_still_moved() -> None:
    """Measured from the ask the SL would look fine; the server measures a buy from the bid."""
    stops = normalise_stops(Side.BUY, 1.09930, 0.0, tick(1.10000, 1.10080), LEVEL_50)

    assert stops.sl == 1.09930  # 70 points below the bid: fine
    stops = normalise_stops(Side.BUY, 1.09960, 0.0, tick(1.10000, 1.10080), LEVEL_50)
    assert stops == Stops(1.09950, 0.0, sl_moved=True)  # 120 below the ask, 40 below the bid


def test_a_moved_buy_level_is_rounded_away_from_the_market() -> None:
    # The edge below the bid is 1.099907: down to 1.09990 (nearest would be 1.09991, closer).
    # The edge above it is 1.100107: up to 1.10011.
    stops = normalise_stops(
        Side.BUY, 1.09995, 1.10005, tick(1.100007, 1.100107), replace(EURUSD, stops_level=10)
    )

    assert stops == Stops(1.09990, 1.10011, sl_moved=True, tp_moved=True)


def test_a_moved_sell_level_is_rounded_away_from_the_market() -> None:
    # The edge above the ask is 1.100103: up to 1.10011; below it 1.099903: down to 1.09990.
    stops = normalise_stops(
        Side.SELL, 1.10005, 1.09995, tick(1.099903, 1.100003), replace(EURUSD, stops_level=10)
    )

    assert stops == Stops(1.10011, 1.09990, sl_moved=True, tp_moved=True)


def test_a_stops_level_of_zero_still_demands_one_point() -> None:
    # Bid 1.100004: an SL at 1.10000 is 0.4 point away, moved to 1.09999 (1.4 points).
    stops = normalise_stops(Side.BUY, 1.10000, 1.10001, tick(1.100004, 1.100104), EURUSD)

    assert stops == Stops(1.09999, 1.10002, sl_moved=True, tp_moved=True)


def test_a_stops_level_of_zero_accepts_one_point() -> None:
    stops = normalise_stops(Side.BUY, 1.09999, 1.10001, tick(1.10000, 1.10010), EURUSD)

    assert stops == Stops(1.09999, 1.10001, sl_moved=False, tp_moved=False)


def test_an_sl_on_the_wrong_side_of_the_price_is_returned_as_is() -> None:
    stops = normalise_stops(Side.BUY, 1.10020, 0.0, tick(1.10000, 1.10010), LEVEL_50)

    assert stops == Stops(1.10020, 0.0, sl_moved=False)


@given(
    side=st.sampled_from(list(Side)),
    bid_points=st.integers(100_000, 200_000),
    spread=st.integers(0, 100),
    level=st.integers(0, 200),
    sl_distance=st.integers(1, 400),
    tp_distance=st.integers(1, 400),
)
def test_normalised_levels_are_on_the_right_side_and_at_least_the_level_away(
    side: Side, bid_points: int, spread: int, level: int, sl_distance: int, tp_distance: int
) -> None:
    spec = replace(EURUSD, stops_level=level)
    quote = tick(bid_points / 1e5, (bid_points + spread) / 1e5)
    reference = quote.bid if side is Side.BUY else quote.ask
    sign = side.value
    sl = round(reference - sign * sl_distance * spec.point, 5)
    tp = round(reference + sign * tp_distance * spec.point, 5)

    stops = normalise_stops(side, sl, tp, quote, spec)

    minimum = max(level, 1)
    assert round((reference - stops.sl) * sign / spec.point, 6) >= minimum
    assert round((stops.tp - reference) * sign / spec.point, 6) >= minimum
    assert stops.sl_moved == (sl_distance < minimum)
    assert stops.tp_moved == (tp_distance < minimum)
    if stops.sl_moved:
        assert round((reference - stops.sl) * sign / spec.point, 6) == minimum
    else:
        assert stops.sl == sl
    if stops.tp_moved:
        assert round((stops.tp - reference) * sign / spec.point, 6) == minimum
    else:
        assert stops.tp == tp


# --- filling_type -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("mask", "expected"),
    [
        (1, mt5c.ORDER_FILLING_FOK),
        (3, mt5c.ORDER_FILLING_FOK),
        (2, mt5c.ORDER_FILLING_IOC),
        (0, mt5c.ORDER_FILLING_RETURN),
        (4, mt5c.ORDER_FILLING_RETURN),
        (6, mt5c.ORDER_FILLING_IOC),
    ],
)
def test_filling_type_is_fok_then_ioc_then_return_by_the_symbol_bitmask(
    mask: int, expected: int
) -> None:
    assert filling_type(replace(EURUSD, filling_mode=mask)) == expected


def test_the_filling_bitmask_is_not_passed_through_as_an_order_filling_value() -> None:
    """The classic 10030 bug: bitmask 1 (FOK allowed) is ORDER_FILLING_FOK = 0, not 1 (IOC)."""
    assert filling_type(replace(EURUSD, filling_mode=1)) != 1
    assert filling_type(replace(EURUSD, filling_mode=2)) != 2


# --- market_order -----------------------------------------------------------------------------


def test_market_order_for_an_opening_buy_has_every_field() -> None:
    request = order(
        volume=0.25,
        price=1.1000149,
        stops=Stops(1.09500, 1.11000),
        spec=replace(EURUSD, filling_mode=2),
        deviation=20,
        magic=2_026_001,
        comment="fxb-0123456789abcdef0123",
    )

    assert request == {
        "action": mt5c.TRADE_ACTION_DEAL,
        "symbol": "EURUSD",
        "volume": 0.25,
        "type": mt5c.ORDER_TYPE_BUY,
        "price": 1.10001,
        "sl": 1.09500,
        "tp": 1.11000,
        "deviation": 20,
        "magic": 2_026_001,
        "comment": "fxb-0123456789abcdef0123",
        "type_time": mt5c.ORDER_TIME_GTC,
        "type_filling": mt5c.ORDER_FILLING_IOC,
    }


def test_market_order_without_a_position_has_no_position_key() -> None:
    request = order(side=Side.SELL, volume=1)

    assert "position" not in request
    assert request["type"] == mt5c.ORDER_TYPE_SELL


def test_market_order_with_a_position_closes_that_position() -> None:
    request = order(side=Side.SELL, comment="close", position=123456789)

    assert request["position"] == 123456789
    assert request["action"] == mt5c.TRADE_ACTION_DEAL
    assert request["type"] == mt5c.ORDER_TYPE_SELL


def test_market_order_volume_is_a_float() -> None:
    request = order(volume=2)

    assert request["volume"] == 2.0
    assert type(request["volume"]) is float


def test_market_order_comment_is_truncated_to_the_maximum() -> None:
    request = order(comment="c" * 40)

    assert request["comment"] == "c" * MAX_COMMENT
    assert MAX_COMMENT == 27


# --- modify_stops -----------------------------------------------------------------------------


def test_modify_stops_is_an_sltp_request_on_the_position() -> None:
    request = modify_stops(
        symbol="EURUSD", position=42, sl=1.095, tp=0, magic=2_026_001, comment="m" * 30
    )

    assert request == {
        "action": mt5c.TRADE_ACTION_SLTP,
        "symbol": "EURUSD",
        "position": 42,
        "sl": 1.095,
        "tp": 0.0,
        "magic": 2_026_001,
        "comment": "m" * MAX_COMMENT,
    }
    assert type(request["tp"]) is float


# --- client order ids -------------------------------------------------------------------------


def test_client_order_id_fits_the_comment_field() -> None:
    assert all(len(new_client_order_id()) <= MAX_COMMENT for _ in range(1000))


def test_client_order_id_is_the_prefix_and_twenty_hex_digits() -> None:
    prefix, _, digits = new_client_order_id().partition("-")

    assert prefix == "fxb"
    assert len(digits) == 20
    assert int(digits, 16) >= 0


def test_client_order_id_takes_another_prefix() -> None:
    assert new_client_order_id("man").startswith("man-")


def test_client_order_ids_are_unique() -> None:
    ids = [new_client_order_id() for _ in range(20_000)]

    assert len(set(ids)) == len(ids)


# --- round_toward -----------------------------------------------------------------------------


def test_round_toward_up_and_down() -> None:
    assert round_toward(1.099907, 1, EURUSD) == 1.09991
    assert round_toward(1.099907, -1, EURUSD) == 1.09990


def test_round_toward_leaves_a_price_on_the_grid_alone_despite_float_noise() -> None:
    # 1.1 - 50 points is 1.0995000000000001 in floats, and 1.0995 * 1e5 is 109949.99999999999.
    noisy = 1.1 - 50 * 0.00001

    assert round_toward(noisy, 1, EURUSD) == 1.0995
    assert round_toward(noisy, -1, EURUSD) == 1.0995
    assert round_toward(1.0995, 1, EURUSD) == 1.0995
    assert round_toward(1.0995, -1, EURUSD) == 1.0995


@given(steps=st.integers(0, 10_000_000), fraction=st.floats(0.0, 0.999))
def test_round_toward_brackets_the_price_within_one_step(steps: int, fraction: float) -> None:
    price = (steps + fraction) / 1e5

    up = round_toward(price, 1, EURUSD)
    down = round_toward(price, -1, EURUSD)

    # Within a millionth of a point, a price counts as on the grid (float noise, by design).
    assert down <= price + 1e-6 * EURUSD.point
    assert up >= price - 1e-6 * EURUSD.point
    assert round((up - down) * 1e5, 6) in (0.0, 1.0)
    assert round(up, 5) == up
    assert round(down, 5) == down
