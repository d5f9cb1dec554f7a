"""Market condition detector: the analysers combined on a closed bar, the favourable rule."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from forexbot.domain.market import Timeframe
from forexbot.market_condition.detector import DetectorParams, MarketCondition, detect
from forexbot.market_condition.liquidity import LiquidityLevel
from forexbot.market_condition.trend import TrendDirection
from forexbot.market_condition.volatility import VolatilityBand

N = 150


def bars_closing_at(
    close_utc: datetime, *, widening: bool = True, last_spread: int = 10
) -> pd.DataFrame:
    """150 rising M15 bars whose last bar closes at ``close_utc``.

    Wicks widen bar by bar (ATR at its 100th percentile) or narrow (0th percentile); spread 10
    and tick volume 100 throughout except the last spread.
    """
    step = 0.01 if widening else -0.004
    c = 100.0 + np.arange(N, dtype="float64")
    o = np.concatenate(([c[0]], c[:-1]))
    wick = 0.8 + step * np.arange(N)
    spread = np.full(N, 10, dtype="int64")
    spread[-1] = last_spread
    first_open = pd.Timestamp(close_utc) - pd.Timedelta(minutes=15 * N)
    return pd.DataFrame(
        {
            "time": pd.date_range(first_open, periods=N, freq="15min"),
            "open": o,
            "high": np.maximum(o, c) + wick,
            "low": np.minimum(o, c) - wick,
            "close": c,
            "tick_volume": np.full(N, 100, dtype="int64"),
            "spread": spread,
            "real_volume": np.zeros(N, dtype="int64"),
        }
    )


WEDNESDAY_OVERLAP = datetime(2026, 3, 18, 14, 0, tzinfo=UTC)
SATURDAY = datetime(2026, 3, 21, 12, 0, tzinfo=UTC)


def test_open_market_in_the_overlap_with_normal_liquidity_and_high_volatility_is_favourable() -> (
    None
):
    cond = detect(bars_closing_at(WEDNESDAY_OVERLAP), "EURUSD", Timeframe.M15)

    assert cond.favourable is True
    assert cond.trend is TrendDirection.BULLISH
    assert cond.volatility is VolatilityBand.HIGH
    assert cond.liquidity is LiquidityLevel.NORMAL
    assert cond.sessions == ("London", "New York")
    assert cond.overlaps == ("London/New York",)
    assert cond.reasons == (
        "market open",
        "sessions: London, New York",
        "liquidity normal (spread 1.00× typical, volume 1.00× typical)",
        "volatility high (ATR percentile 100)",
        f"trend bullish (ADX {cond.adx:.1f})",
    )


def test_sessions_are_judged_at_the_bar_close_not_its_open() -> None:
    cond = detect(bars_closing_at(WEDNESDAY_OVERLAP), "EURUSD", Timeframe.M15)

    assert cond.bar_time == datetime(2026, 3, 18, 13, 45, tzinfo=UTC)
    assert cond.evaluated_at == WEDNESDAY_OVERLAP
    assert cond.timeframe == "M15"
    assert cond.symbol == "EURUSD"


def test_the_bar_closing_at_the_friday_close_is_unfavourable() -> None:
    cond = detect(bars_closing_at(datetime(2026, 3, 6, 22, 0, tzinfo=UTC)), "EURUSD", Timeframe.M15)

    assert cond.market_open is False
    assert cond.favourable is False
    assert cond.reasons == ("market closed (forex weekend)",)


def test_the_bar_closing_a_quarter_before_the_friday_close_is_open() -> None:
    cond = detect(
        bars_closing_at(datetime(2026, 3, 6, 21, 45, tzinfo=UTC)), "EURUSD", Timeframe.M15
    )

    assert cond.market_open is True
    assert cond.sessions == ("New York",)


def test_synthetic_index_at_the_weekend_is_favourable() -> None:
    cond = detect(bars_closing_at(SATURDAY), "Volatility 75 Index", Timeframe.M15, synthetic=True)

    assert cond.favourable is True
    assert cond.reasons[0] == "market open (synthetic, 24/7)"
    assert cond.sessions == ()


def test_a_doubled_spread_is_thin_and_unfavourable() -> None:
    cond = detect(bars_closing_at(WEDNESDAY_OVERLAP, last_spread=20), "EURUSD", Timeframe.M15)

    assert cond.favourable is False
    assert cond.reasons == ("liquidity thin (spread 2.00× typical, volume 1.00× typical)",)


def test_narrowing_ranges_are_low_volatility_and_unfavourable() -> None:
    cond = detect(bars_closing_at(WEDNESDAY_OVERLAP, widening=False), "EURUSD", Timeframe.M15)

    assert cond.volatility is VolatilityBand.LOW
    assert cond.favourable is False
    assert cond.reasons == ("volatility low (ATR percentile 0)",)


def test_every_failed_check_is_a_reason() -> None:
    bars = bars_closing_at(SATURDAY, widening=False, last_spread=20)

    cond = detect(bars, "EURUSD", Timeframe.M15)

    assert cond.reasons == (
        "market closed (forex weekend)",
        "liquidity thin (spread 2.00× typical, volume 1.00× typical)",
        "volatility low (ATR percentile 0)",
    )


def test_a_live_spread_is_used_for_liquidity() -> None:
    cond = detect(bars_closing_at(WEDNESDAY_OVERLAP), "EURUSD", Timeframe.M15, current_spread=30)

    assert cond.liquidity is LiquidityLevel.THIN
    assert cond.spread_ratio == 3.0


def test_to_dict_is_json_ready() -> None:
    cond = detect(bars_closing_at(WEDNESDAY_OVERLAP), "EURUSD", Timeframe.M15)

    data = json.loads(json.dumps(cond.to_dict(), allow_nan=False))

    assert data["trend"] == "bullish"
    assert data["volatility"] == "high"
    assert data["liquidity"] == "normal"
    assert data["sessions"] == ["London", "New York"]
    assert data["evaluated_at"] == "2026-03-18T14:00:00+00:00"
    assert data["favourable"] is True
    assert data["reasons"] == list(cond.reasons)


def test_to_dict_turns_an_infinite_ratio_into_null() -> None:
    bars = bars_closing_at(WEDNESDAY_OVERLAP)
    bars["spread"] = 0
    bars.loc[N - 1, "spread"] = 3

    data = detect(bars, "EURUSD", Timeframe.M15).to_dict()

    assert data["spread_ratio"] is None
    json.dumps(data, allow_nan=False)


def test_to_dict_writes_each_time_in_its_own_zone() -> None:
    # The same instant in two zones: equal datetimes, two texts (to_dict remembers the texts
    # of recent times, so the zone is part of what it remembers them by).
    cond = detect(bars_closing_at(WEDNESDAY_OVERLAP), "EURUSD", Timeframe.M15)
    paris = ZoneInfo("Europe/Paris")
    moved = dataclasses.replace(
        cond, bar_time=cond.bar_time.astimezone(paris), evaluated_at=cond.evaluated_at
    )

    assert cond.to_dict()["bar_time"] == "2026-03-18T13:45:00+00:00"
    assert moved.to_dict()["bar_time"] == "2026-03-18T14:45:00+01:00"
    assert cond.to_dict()["bar_time"] == "2026-03-18T13:45:00+00:00"


def test_too_few_bars_are_refused_naming_the_minimum() -> None:
    assert DetectorParams().min_bars == 115

    with pytest.raises(ValueError, match="at least 115 bars, got 114"):
        detect(bars_closing_at(WEDNESDAY_OVERLAP).iloc[-114:], "EURUSD", Timeframe.M15)


def test_condition_is_frozen() -> None:
    cond: MarketCondition = detect(bars_closing_at(WEDNESDAY_OVERLAP), "EURUSD", Timeframe.M15)

    with pytest.raises(dataclasses.FrozenInstanceError):
        cond.favourable = False  # type: ignore[misc]
