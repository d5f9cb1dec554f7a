"""Specification of :func:`forexbot.engine.management.managed_stop` (rules in the module
docstring). Prices are EURUSD (5 digits); the trade's risk R is 100 points unless said."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from symbol_specs import EURUSD

from forexbot.config.models import TradeManagement
from forexbot.domain.market import SymbolSpec
from forexbot.domain.trading import Side
from forexbot.engine.management import managed_stop

ENTRY = 1.10000
BUY_SL = 1.09900  # 1 R = 100 points
SELL_SL = 1.10100

BREAK_EVEN = TradeManagement(break_even_at_r=1.0, break_even_offset_points=5)
TRAILING = TradeManagement(trailing_start_r=1.0, trailing_distance_r=0.5)


def buy(
    price: float,
    settings: TradeManagement,
    current_sl: float = BUY_SL,
    spec: SymbolSpec = EURUSD,
    initial_sl: float = BUY_SL,
) -> float | None:
    return managed_stop(
        side=Side.BUY,
        entry=ENTRY,
        initial_sl=initial_sl,
        current_sl=current_sl,
        price=price,
        spec=spec,
        settings=settings,
    )


def sell(
    price: float,
    settings: TradeManagement,
    current_sl: float = SELL_SL,
    spec: SymbolSpec = EURUSD,
    initial_sl: float = SELL_SL,
) -> float | None:
    return managed_stop(
        side=Side.SELL,
        entry=ENTRY,
        initial_sl=initial_sl,
        current_sl=current_sl,
        price=price,
        spec=spec,
        settings=settings,
    )


# --- when nothing is managed ------------------------------------------------------------------


def test_inactive_settings_leave_the_stop_alone() -> None:
    assert buy(1.10500, TradeManagement()) is None
    assert sell(1.09500, TradeManagement()) is None


def test_a_trade_without_risk_is_not_managed() -> None:
    assert buy(1.10500, BREAK_EVEN, initial_sl=ENTRY) is None
    assert sell(1.09500, TRAILING, initial_sl=ENTRY) is None


# --- break-even -------------------------------------------------------------------------------


def test_break_even_at_one_r_moves_a_buy_stop_to_entry_plus_the_offset() -> None:
    assert buy(1.10101, BREAK_EVEN) == 1.10005


def test_break_even_at_one_r_moves_a_sell_stop_to_entry_minus_the_offset() -> None:
    assert sell(1.09899, BREAK_EVEN) == 1.09995


def test_break_even_fires_at_exactly_its_r_for_a_sell() -> None:
    assert sell(1.09900, BREAK_EVEN) == 1.09995


def test_break_even_fires_at_exactly_its_r_for_a_buy() -> None:
    assert buy(1.10100, BREAK_EVEN) == 1.10005


def test_break_even_waits_for_its_r() -> None:
    assert buy(1.10099, BREAK_EVEN) is None
    assert sell(1.09901, BREAK_EVEN) is None


def test_break_even_without_offset_is_the_entry() -> None:
    assert buy(1.10151, TradeManagement(break_even_at_r=1.5)) == ENTRY
    assert sell(1.09849, TradeManagement(break_even_at_r=1.5)) == ENTRY


def test_break_even_already_in_place_is_left_alone() -> None:
    assert buy(1.10300, BREAK_EVEN, current_sl=1.10005) is None
    assert sell(1.09700, BREAK_EVEN, current_sl=1.09995) is None


# --- trailing ---------------------------------------------------------------------------------


def test_trailing_from_its_start_keeps_the_buy_stop_its_distance_below_the_bid() -> None:
    assert buy(1.10101, TRAILING) == 1.10051
    assert buy(1.10200, TRAILING) == 1.10150


def test_trailing_keeps_the_sell_stop_its_distance_above_the_ask() -> None:
    assert sell(1.09900, TRAILING) == 1.09950
    assert sell(1.09800, TRAILING) == 1.09850


def test_trailing_starts_at_exactly_its_start_for_a_buy() -> None:
    assert buy(1.10100, TRAILING) == 1.10050


def test_trailing_waits_for_its_start() -> None:
    assert buy(1.10099, TRAILING) is None
    assert sell(1.09901, TRAILING) is None


def test_a_trailing_stop_never_gives_back() -> None:
    assert buy(1.10180, TRAILING, current_sl=1.10150) is None
    assert sell(1.09820, TRAILING, current_sl=1.09850) is None


def test_the_stop_moves_by_at_least_one_point() -> None:
    assert buy(1.10200, TRAILING, current_sl=1.10150) is None
    assert buy(1.10201, TRAILING, current_sl=1.10150) == 1.10151
    assert sell(1.09800, TRAILING, current_sl=1.09850) is None
    assert sell(1.09799, TRAILING, current_sl=1.09850) == 1.09849


def test_the_more_favourable_of_break_even_and_trailing_wins() -> None:
    both = TradeManagement(
        break_even_at_r=1.0, break_even_offset_points=0, trailing_start_r=1.0, trailing_distance_r=2
    )

    assert buy(1.10150, both) == ENTRY  # trailing would be 1.09950
    assert buy(1.10400, both) == 1.10200  # trailing now beats break-even
    assert sell(1.09850, both) == ENTRY
    assert sell(1.09600, both) == 1.09800


def test_a_level_off_the_grid_is_rounded_away_from_the_market() -> None:
    trailing = TradeManagement(trailing_start_r=1.0, trailing_distance_r=0.333)

    assert buy(1.10200, trailing) == 1.10166  # 1.101667 down
    assert sell(1.09800, trailing) == 1.09834  # 1.098333 up


def test_a_position_without_a_stop_gets_one() -> None:
    assert buy(1.10200, TRAILING, current_sl=0.0) == 1.10150
    assert sell(1.09800, TRAILING, current_sl=0.0) == 1.09850


# --- the stops level --------------------------------------------------------------------------


def test_the_stop_is_kept_the_stops_level_away_from_the_price() -> None:
    spec = replace(EURUSD, stops_level=30)
    early = TradeManagement(break_even_at_r=0.1)

    assert buy(1.10011, early, spec=spec) == 1.09981  # entry would be 11 points away
    assert sell(1.09989, early, spec=spec) == 1.10019


def test_with_no_stops_level_the_stop_stays_one_point_away() -> None:
    tight = TradeManagement(trailing_start_r=1.0, trailing_distance_r=0.001)

    assert buy(1.10101, tight) == 1.10100
    assert sell(1.09899, tight) == 1.09900


# --- properties -------------------------------------------------------------------------------

management = st.builds(
    TradeManagement,
    break_even_at_r=st.none() | st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0]),
    break_even_offset_points=st.integers(0, 300),
    trailing_start_r=st.none() | st.sampled_from([0.25, 0.5, 1.0, 2.0, 4.0]),
    trailing_distance_r=st.sampled_from([0.1, 0.25, 0.333, 0.5, 1.0, 1.5, 3.0]),
)


@st.composite
def situations(draw: st.DrawFn) -> dict[str, object]:
    side = draw(st.sampled_from(list(Side)))
    sign = side.value
    entry_points = draw(st.integers(100_000, 150_000))
    risk_points = draw(st.integers(5, 500))
    price_points = entry_points + sign * draw(st.integers(1 - risk_points, 3_000))
    # The current stop: the initial one, or anywhere the trade has moved it to since.
    current_points = draw(
        st.just(entry_points - sign * risk_points)
        | (
            st.integers(entry_points - risk_points, price_points - 1)
            if sign > 0
            else st.integers(price_points + 1, entry_points + risk_points)
        )
    )
    return {
        "side": side,
        "entry": entry_points / 1e5,
        "initial_sl": (entry_points - sign * risk_points) / 1e5,
        "current_sl": current_points / 1e5,
        "price": price_points / 1e5,
        "spec": replace(EURUSD, stops_level=draw(st.integers(0, 100))),
        "settings": draw(management),
    }


@settings(max_examples=150, deadline=None)
@given(situations())
def test_the_stop_only_ever_moves_in_the_trades_favour_by_at_least_a_point(
    situation: dict[str, object],
) -> None:
    result = managed_stop(**situation)  # type: ignore[arg-type]

    if result is not None:
        side, current = situation["side"], situation["current_sl"]
        assert isinstance(side, Side)
        assert isinstance(current, float)
        assert round((result - current) * side.value / EURUSD.point, 6) >= 1


@settings(max_examples=150, deadline=None)
@given(situations())
def test_the_stop_is_never_closer_to_the_price_than_the_stops_level(
    situation: dict[str, object],
) -> None:
    result = managed_stop(**situation)  # type: ignore[arg-type]

    if result is not None:
        side, price, spec = situation["side"], situation["price"], situation["spec"]
        assert isinstance(side, Side)
        assert isinstance(price, float)
        assert isinstance(spec, SymbolSpec)
        distance = round((price - result) * side.value / spec.point, 6)
        assert distance >= max(spec.stops_level, 1)


@settings(max_examples=100, deadline=None)
@given(situations())
def test_a_new_stop_is_on_the_symbols_price_grid(situation: dict[str, object]) -> None:
    result = managed_stop(**situation)  # type: ignore[arg-type]

    assert result is None or round(result, EURUSD.digits) == result


@pytest.mark.parametrize(
    ("settings_", "price_r", "current_r"),
    [
        (BREAK_EVEN, 1.01, -1.0),
        (BREAK_EVEN, 2.5, -1.0),
        (TRAILING, 1.01, -1.0),
        (TRAILING, 3.0, 1.0),
        (TRAILING, 3.0, 2.5),
        (TradeManagement(break_even_at_r=0.5, trailing_start_r=2.0), 2.2, 0.0),
        (TradeManagement(trailing_start_r=0.5, trailing_distance_r=0.333), 1.7, -1.0),
    ],
)
def test_a_sell_mirrors_a_buy(settings_: TradeManagement, price_r: float, current_r: float) -> None:
    r = 0.00100

    bought = buy(
        round(ENTRY + price_r * r, 5), settings_, current_sl=round(ENTRY + current_r * r, 5)
    )
    sold = sell(
        round(ENTRY - price_r * r, 5), settings_, current_sl=round(ENTRY - current_r * r, 5)
    )

    if bought is None:
        assert sold is None
    else:
        assert sold == round(2 * ENTRY - bought, 5)
