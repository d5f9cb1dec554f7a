"""Specification of position sizing (:mod:`forexbot.engine.sizing`) and
:meth:`forexbot.domain.market.SymbolSpec.floor_volume`.

The rule: ``volume × loss_per_lot ≤ equity × pct / 100 × multiplier``; volume rounded *down* to
the step, capped at the maximum; no trade when even the minimum risks too much.
"""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st
from symbol_specs import EURUSD

from forexbot.domain.market import SymbolSpec
from forexbot.engine.sizing import loss_per_lot, size_position

ENTRY = 1.10000


def spec_with_step(step: float, volume_min: float | None = None) -> SymbolSpec:
    return replace(EURUSD, volume_step=step, volume_min=step if volume_min is None else volume_min)


# --- hand-computed examples ------------------------------------------------------------------


def test_one_percent_of_10k_with_a_50_pip_stop_is_020_lots_risking_100() -> None:
    # 50 pips = 500 ticks × 1.0 = 500 per lot; 100 / 500 = 0.20 lots.
    sizing = size_position(10_000, 1.0, ENTRY, ENTRY - 0.0050, EURUSD)

    assert sizing.accepted
    assert sizing.volume == 0.20
    assert sizing.risk_amount == pytest.approx(100.00, abs=1e-6)
    assert sizing.max_risk == pytest.approx(100.00)


def test_a_sell_is_sized_from_the_distance_above_entry() -> None:
    sizing = size_position(10_000, 1.0, ENTRY, ENTRY + 0.0050, EURUSD)

    assert sizing.volume == 0.20
    assert sizing.risk_amount == pytest.approx(100.00, abs=1e-6)


def test_loss_per_lot_is_ticks_times_tick_value() -> None:
    jpy = replace(EURUSD, tick_size=0.001, tick_value=0.8978)

    assert loss_per_lot(150.000, 149.500, jpy) == pytest.approx(500 * 0.8978)
    assert loss_per_lot(1.1000, 1.0950, EURUSD) == pytest.approx(500.0)


def test_volume_is_rounded_down_to_the_step_never_up() -> None:
    # 29.5 pips → 295 per lot → raw 100 / 295 = 0.3390 lots: nearest step would be 0.34.
    sizing = size_position(10_000, 1.0, ENTRY, ENTRY - 0.00295, EURUSD)

    assert sizing.volume == 0.33
    assert sizing.risk_amount == pytest.approx(0.33 * 295)
    assert sizing.risk_amount <= 100.0


def test_volume_is_rounded_down_to_a_coarse_step() -> None:
    # raw 100 / 295 = 0.339 with a 0.1 step → 0.3
    sizing = size_position(10_000, 1.0, ENTRY, ENTRY - 0.00295, spec_with_step(0.1))

    assert sizing.volume == 0.3


def test_volume_is_capped_at_the_symbol_maximum() -> None:
    # 1 % of 10M = 100,000 at 500 per lot → 200 lots wanted, 100 allowed.
    sizing = size_position(10_000_000, 1.0, ENTRY, ENTRY - 0.0050, EURUSD)

    assert sizing.accepted
    assert sizing.volume == 100.0
    assert sizing.risk_amount == pytest.approx(100.0 * 500)


def test_refuses_when_the_minimum_volume_would_risk_too_much() -> None:
    # 1 % of 100 = 1.00 allowed; 0.01 lot × 500 = 5.00 at risk.
    sizing = size_position(100, 1.0, ENTRY, ENTRY - 0.0050, EURUSD)

    assert not sizing.accepted
    assert sizing.refusal is not None
    assert sizing.refusal.code == "volume_below_minimum"
    assert sizing.volume == 0.0
    assert sizing.risk_amount == 0.0
    assert "5.00" in sizing.refusal.message
    assert "1.00" in sizing.refusal.message


def test_refuses_rather_than_rounding_up_to_a_larger_minimum() -> None:
    # raw 0.20 lots is a multiple of the step but below the symbol minimum of 0.5.
    spec = spec_with_step(0.01, volume_min=0.5)

    sizing = size_position(10_000, 1.0, ENTRY, ENTRY - 0.0050, spec)

    assert sizing.refusal is not None
    assert sizing.refusal.code == "volume_below_minimum"
    assert sizing.volume == 0.0


def test_stop_at_the_entry_price_is_an_invalid_stop() -> None:
    sizing = size_position(10_000, 1.0, ENTRY, ENTRY, EURUSD)

    assert not sizing.accepted
    assert sizing.refusal is not None
    assert sizing.refusal.code == "invalid_stop"
    assert sizing.volume == 0.0


@pytest.mark.parametrize("equity", [0.0, -500.0])
def test_non_positive_equity_is_refused(equity: float) -> None:
    sizing = size_position(equity, 1.0, ENTRY, ENTRY - 0.0050, EURUSD)

    assert not sizing.accepted
    assert sizing.refusal is not None
    assert sizing.refusal.code == "no_equity"
    assert sizing.volume == 0.0


def test_a_symbol_without_tick_value_is_refused() -> None:
    sizing = size_position(10_000, 1.0, ENTRY, ENTRY - 0.0050, replace(EURUSD, tick_value=0.0))

    assert sizing.refusal is not None
    assert sizing.refusal.code == "no_tick_value"
    assert sizing.volume == 0.0


@pytest.mark.parametrize(
    ("multiplier", "volume", "max_risk"),
    [(0.5, 0.10, 50.0), (1.0, 0.20, 100.0), (2.0, 0.40, 200.0)],
)
def test_risk_multiplier_scales_the_allowed_risk(
    multiplier: float, volume: float, max_risk: float
) -> None:
    sizing = size_position(10_000, 1.0, ENTRY, ENTRY - 0.0050, EURUSD, multiplier)

    assert sizing.volume == volume
    assert sizing.max_risk == pytest.approx(max_risk)


# --- SymbolSpec.floor_volume -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("step", "volume", "expected"),
    [
        (0.1, 0.3, 0.3),  # 0.3 / 0.1 = 2.9999999999999996 must not become 0.2
        (0.01, 0.29, 0.29),  # 0.29 / 0.01 = 28.999999999999996
        (0.01, 0.07, 0.07),
        (0.1, 0.39, 0.3),
        (0.01, 0.2999, 0.29),
        (0.001, 1.2345, 1.234),
        (1.0, 2.7, 2.0),
        (1.0, 0.99, 0.0),
        (0.01, 1.0, 1.0),
    ],
)
def test_floor_volume_rounds_down_to_the_step(step: float, volume: float, expected: float) -> None:
    assert spec_with_step(step).floor_volume(volume) == expected


# --- properties ------------------------------------------------------------------------------

STEPS = (0.01, 0.1, 0.001, 1.0)


def decimals_of(step: float) -> int:
    return max(0, -math.floor(math.log10(step) + 1e-12))


@st.composite
def symbol_specs(draw: st.DrawFn) -> SymbolSpec:
    """Valid specs the way a terminal reports them: min and max multiples of the step,
    printed at the step's precision, max ≥ min."""
    step = draw(st.sampled_from(STEPS))
    dec = decimals_of(step)
    min_steps = draw(st.integers(1, 100))
    extra_steps = draw(st.integers(0, 200_000))
    tick_size = draw(st.sampled_from((0.00001, 0.001, 0.01, 0.1, 1.0)))
    return SymbolSpec(
        name="SYM",
        digits=5,
        point=tick_size,
        tick_size=tick_size,
        tick_value=draw(st.floats(0.01, 100.0)),
        contract_size=100_000,
        volume_min=round(min_steps * step, dec),
        volume_max=round((min_steps + extra_steps) * step, dec),
        volume_step=step,
    )


sizing_cases = st.tuples(
    st.floats(1.0, 1e9),  # equity
    st.floats(0.0, 10.0, exclude_min=True),  # risk percent in (0, 10]
    st.floats(0.01, 100_000.0),  # entry
    st.floats(0.0001, 0.5),  # stop distance as a fraction of entry
    st.sampled_from((1, -1)),  # buy: stop below; sell: stop above
    st.floats(0.1, 3.0),  # risk multiplier
    symbol_specs(),
)


@given(sizing_cases)
def test_property_accepted_volume_is_within_the_symbol_limits(case: tuple) -> None:
    equity, pct, entry, frac, side, mult, spec = case
    sizing = size_position(equity, pct, entry, entry - side * frac * entry, spec, mult)
    assume(sizing.accepted)

    assert spec.volume_min <= sizing.volume <= spec.volume_max


@given(sizing_cases)
def test_property_accepted_volume_is_a_multiple_of_the_step(case: tuple) -> None:
    equity, pct, entry, frac, side, mult, spec = case
    sizing = size_position(equity, pct, entry, entry - side * frac * entry, spec, mult)
    assume(sizing.accepted)

    steps = sizing.volume / spec.volume_step
    assert abs(steps - round(steps)) <= 1e-9 * max(1.0, steps)


@given(sizing_cases)
def test_property_accepted_volume_never_risks_more_than_allowed(case: tuple) -> None:
    equity, pct, entry, frac, side, mult, spec = case
    stop = entry - side * frac * entry
    sizing = size_position(equity, pct, entry, stop, spec, mult)
    assume(sizing.accepted)

    allowed = equity * pct / 100 * mult
    assert sizing.volume * loss_per_lot(entry, stop, spec) <= allowed * (1 + 1e-9)
    assert sizing.risk_amount <= allowed * (1 + 1e-9)


@given(sizing_cases)
def test_property_accepted_volume_is_the_largest_allowed(case: tuple) -> None:
    """Rounding *down* means one more step would break the risk rule or the maximum."""
    equity, pct, entry, frac, side, mult, spec = case
    stop = entry - side * frac * entry
    sizing = size_position(equity, pct, entry, stop, spec, mult)
    assume(sizing.accepted)

    bigger = sizing.volume + spec.volume_step
    allowed = equity * pct / 100 * mult
    assert bigger * loss_per_lot(entry, stop, spec) > allowed * (
        1 - 1e-9
    ) or bigger > spec.volume_max * (1 + 1e-9)


@given(sizing_cases)
def test_property_refusal_returns_no_volume(case: tuple) -> None:
    equity, pct, entry, frac, side, mult, spec = case
    stop = entry - side * frac * entry
    sizing = size_position(equity, pct, entry, stop, spec, mult)
    assume(not sizing.accepted)

    assert sizing.volume == 0.0
    assert sizing.risk_amount == 0.0
    assert sizing.refusal is not None
    assert sizing.refusal.code == "volume_below_minimum"
    # Refused only when the minimum truly risks more than allowed.
    allowed = equity * pct / 100 * mult
    assert spec.volume_min * loss_per_lot(entry, stop, spec) > allowed * (1 - 1e-9)


@given(
    st.sampled_from(STEPS),
    st.floats(0.0, 10_000.0),
)
def test_property_floor_volume_is_the_largest_step_multiple_not_above(
    step: float, volume: float
) -> None:
    floored = spec_with_step(step).floor_volume(volume)
    steps = floored / step

    assert abs(steps - round(steps)) <= 1e-9 * max(1.0, steps)
    assert floored <= volume * (1 + 1e-9) + 1e-12
    assert volume - floored < step * (1 + 1e-9)
