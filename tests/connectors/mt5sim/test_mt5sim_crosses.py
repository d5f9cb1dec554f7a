"""Crosses are built from their USD legs: the currency triangle holds at every tick."""

from __future__ import annotations

import numpy as np
import pytest
from mt5sim_testkit import THURSDAY

import forexbot.connectors.mt5sim as mt5
from forexbot.connectors.mt5sim.cross import cross_legs
from forexbot.connectors.mt5sim.symbols import Catalogue
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

NOW = int(THURSDAY) + 7200  # server time
HOUR = (NOW - 3600, NOW)


def _mid_at(ticks: np.ndarray, times: np.ndarray) -> np.ndarray:
    at = np.searchsorted(ticks["time_msc"], times, side="right") - 1
    assert (at >= 0).all()
    result: np.ndarray = (ticks["bid"][at] + ticks["ask"][at]) / 2
    return result


def _ticks(terminal: SimulatedTerminal, symbol: str, start: int, end: int) -> np.ndarray:
    ticks = terminal.copy_ticks_range(symbol, start, end, mt5.COPY_TICKS_ALL)
    assert ticks is not None
    assert len(ticks) > 100
    return ticks


@pytest.mark.parametrize(
    ("cross", "first", "second", "product"),
    [
        ("EURJPY", "EURUSD", "USDJPY", lambda a, b: a * b),
        ("EURGBP", "EURUSD", "GBPUSD", lambda a, b: a / b),
        ("CADJPY", "USDJPY", "USDCAD", lambda a, b: a / b),
        ("AUDNZD", "AUDUSD", "NZDUSD", lambda a, b: a / b),
    ],
)
def test_cross_mid_is_its_legs_product_at_every_tick(
    terminal: SimulatedTerminal, cross: str, first: str, second: str, product: object
) -> None:
    ticks = _ticks(terminal, cross, *HOUR)
    legs = [_ticks(terminal, leg, HOUR[0] - 600, HOUR[1]) for leg in (first, second)]
    times = ticks["time_msc"]
    expected = product(_mid_at(legs[0], times), _mid_at(legs[1], times))  # type: ignore[operator]
    point = 0.001 if cross.endswith("JPY") else 0.00001
    mid = (ticks["bid"] + ticks["ask"]) / 2
    assert np.abs(mid - expected).max() <= point / 2 + 1e-12


def test_cross_ticks_when_a_leg_ticks(terminal: SimulatedTerminal) -> None:
    cross = _ticks(terminal, "EURJPY", *HOUR)
    legs = np.union1d(
        _ticks(terminal, "EURUSD", *HOUR)["time_msc"], _ticks(terminal, "USDJPY", *HOUR)["time_msc"]
    )
    assert np.isin(cross["time_msc"], legs).all()
    assert len(cross) > 0.8 * len(legs)  # every leg tick, but those changing nothing


def test_cross_has_its_own_spread(terminal: SimulatedTerminal) -> None:
    ticks = _ticks(terminal, "EURJPY", *HOUR)
    spreads = np.round((ticks["ask"] - ticks["bid"]) / 0.001)
    assert set(np.unique(spreads)) <= {17, 18, 19}  # 17 points at noon, plus 0-2 of jitter


def test_cross_bars_are_built_from_its_ticks(terminal: SimulatedTerminal) -> None:
    ticks = _ticks(terminal, "EURJPY", *HOUR)
    bars = terminal.copy_rates_range("EURJPY", mt5.TIMEFRAME_M1, HOUR[0], HOUR[1] - 60)
    assert bars is not None
    assert len(bars) == 60
    for bar in bars:
        inside = ticks[(ticks["time_msc"] // 60_000) * 60 == bar["time"]]
        assert (bar["open"], bar["close"], bar["high"], bar["low"], bar["tick_volume"]) == (
            inside["bid"][0],
            inside["bid"][-1],
            inside["bid"].max(),
            inside["bid"].min(),
            len(inside),
        )


@pytest.mark.parametrize(
    ("symbol", "legs"),
    [
        ("EURJPY", [("EURUSD", 1.0), ("USDJPY", 1.0)]),
        ("CHFJPY", [("USDCHF", -1.0), ("USDJPY", 1.0)]),
        ("GBPNZD", [("GBPUSD", 1.0), ("NZDUSD", -1.0)]),
        ("EURUSD", None),
        ("XAUUSD", None),
        ("Volatility 75 Index", None),
    ],
)
def test_cross_legs(symbol: str, legs: list[tuple[str, float]] | None) -> None:
    catalogue = Catalogue()
    spec = catalogue.get(symbol)
    assert spec is not None
    assert cross_legs(spec, catalogue) == legs
