"""Run-time control of strategy instances: validated, persisted first, effective next bar."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import numpy as np
import pytest
from test_manager import AlwaysBuy, History, trending_bars

from forexbot.clock import ManualClock
from forexbot.config.models import StrategyInstanceSettings
from forexbot.database.strategy_configs import StrategyConfigRecord
from forexbot.domain.market import Timeframe
from forexbot.errors import InvalidInputError, NotFoundError
from forexbot.events.bus import EventBus
from forexbot.events.types import BarEvent, StrategyToggledEvent
from forexbot.strategies import create
from forexbot.strategies.control import StrategyControl, swing_levels
from forexbot.strategies.instances import build_instances
from forexbot.strategies.manager import StrategyInstance, StrategyManager

TF = Timeframe.M15
ID = "ma_rsi:EURUSD:M15"


class Store:
    def __init__(self, fail: bool = False) -> None:
        self.saved: list[dict[str, Any]] = []
        self.fail = fail

    async def save(self, **row: Any) -> None:
        if self.fail:
            raise RuntimeError("database down")
        self.saved.append(row)


def control(store: Store | None = None) -> tuple[StrategyControl, StrategyInstance]:
    instance = StrategyInstance(create("ma_rsi"), "EURUSD", TF)
    manager = StrategyManager([instance], History(trending_bars(300)), EventBus())
    return StrategyControl(manager, store or Store()), instance


async def test_a_parameter_change_is_saved_then_applied() -> None:
    store = Store()
    ctl, instance = control(store)
    result = await ctl.update_strategy(
        ID, params={"fast_period": 10}, risk_multiplier=None, enabled=None, actor="alice"
    )
    assert instance.strategy.params.model_dump()["fast_period"] == 10
    assert result["params"]["fast_period"] == 10
    assert store.saved[0]["params"]["fast_period"] == 10
    assert store.saved[0]["updated_by"] == "alice"


async def test_a_bad_parameter_is_refused_and_changes_nothing() -> None:
    store = Store()
    ctl, instance = control(store)
    before = instance.strategy
    with pytest.raises(InvalidInputError, match="fast_period"):
        await ctl.update_strategy(
            ID, params={"fast_period": 80}, risk_multiplier=None, enabled=None, actor="a"
        )
    assert instance.strategy is before
    assert store.saved == []


async def test_an_out_of_range_risk_multiplier_is_refused() -> None:
    ctl, instance = control()
    with pytest.raises(InvalidInputError, match="risk_multiplier"):
        await ctl.update_strategy(ID, params=None, risk_multiplier=0, enabled=None, actor="a")
    assert instance.risk_multiplier == 1.0


async def test_a_failed_save_leaves_the_instance_as_it_was() -> None:
    ctl, instance = control(Store(fail=True))
    with pytest.raises(RuntimeError):
        await ctl.toggle_strategy(ID, actor="a")
    assert instance.enabled is True


async def test_toggle_flips_enabled() -> None:
    ctl, instance = control()
    assert (await ctl.toggle_strategy(ID, actor="a"))["enabled"] is False
    assert instance.enabled is False
    assert (await ctl.toggle_strategy(ID, actor="a"))["enabled"] is True


async def test_an_unknown_instance_is_not_found() -> None:
    ctl, _ = control()
    assert ctl.get_strategy("jhook:EURUSD:M15") is None
    with pytest.raises(NotFoundError):
        await ctl.toggle_strategy("jhook:EURUSD:M15", actor="a")


async def test_new_parameters_apply_on_the_next_bar_without_a_new_warm_up() -> None:
    bars = trending_bars(302)
    instance = StrategyInstance(AlwaysBuy(), "EURUSD", TF)
    bus = EventBus()
    manager = StrategyManager([instance], History(bars[:300]), bus)
    await manager.warm_up()
    ctl = StrategyControl(manager, Store())
    await ctl.update_strategy(
        "always_buy:EURUSD:M15", params={}, risk_multiplier=2.0, enabled=None, actor="a"
    )
    old_window = len(instance.strategy._window)
    await manager.on_bar(BarEvent(bars[300]))
    assert len(instance.strategy._window) == min(old_window + 1, instance.strategy.window_bars)
    assert instance.signals == 1


async def test_market_analysis_reports_indicators_and_levels() -> None:
    instance = StrategyInstance(create("ma_rsi"), "EURUSD", TF)
    bars = trending_bars(310)
    manager = StrategyManager([instance], History(bars[:300]), EventBus())
    await manager.warm_up()
    for bar in bars[300:]:
        await manager.on_bar(BarEvent(bar))
    analysis = StrategyControl(manager, Store()).market_analysis("EURUSD")
    assert analysis is not None
    m15 = analysis["timeframes"]["M15"]
    assert m15["bars"] == 300
    assert m15["indicators"]["close"] == bars[-1].close
    assert m15["indicators"]["sma_20"] > m15["indicators"]["sma_50"]  # an uptrend
    assert m15["condition"]["trend"] == "bullish"
    highs = [b.high for b in bars[-300:]]
    assert all(min(highs) <= level <= max(highs) for level in m15["levels"]["resistance"])
    assert StrategyControl(manager, Store()).market_analysis("GBPUSD") is None


def _row(**overrides: Any) -> StrategyConfigRecord:
    base: dict[str, Any] = {
        "strategy": "ma_rsi",
        "symbol": "EURUSD",
        "timeframe": "M15",
        "enabled": False,
        "params": {"fast_period": 5},
        "risk_multiplier": Decimal("0.5"),
        "updated_at": None,
        "updated_by": "alice",
    }
    return StrategyConfigRecord(**(base | overrides))


def test_a_stored_row_wins_over_the_file() -> None:
    configured = [StrategyInstanceSettings(strategy="ma_rsi", timeframe="M15")]
    [eur, gbp] = build_instances(configured, [_row()], ["EURUSD", "GBPUSD"])
    assert (eur.symbol, eur.enabled, eur.risk_multiplier) == ("EURUSD", False, 0.5)
    assert eur.strategy.params.model_dump()["fast_period"] == 5
    assert (gbp.symbol, gbp.enabled) == ("GBPUSD", True)


def test_a_stored_row_not_in_the_file_adds_an_instance() -> None:
    instances = build_instances([], [_row(strategy="jhook", params={})], ["EURUSD"])
    assert [i.key for i in instances] == ["jhook:EURUSD:M15"]


def test_an_invalid_stored_row_falls_back_to_the_file() -> None:
    configured = [StrategyInstanceSettings(strategy="ma_rsi", timeframe="M15")]
    [eur] = build_instances(configured, [_row(params={"renamed": 1})], ["EURUSD"])
    assert eur.enabled is True
    assert eur.strategy.params.model_dump()["fast_period"] == 20


def test_a_stored_row_for_an_unwatched_symbol_is_ignored() -> None:
    assert build_instances([], [_row(symbol="USDJPY")], ["EURUSD"]) == []


def test_swing_levels_are_confirmed_extremes() -> None:
    highs = np.array([1, 2, 3, 4, 5, 9, 5, 4, 3, 2, 1, 2, 3, 4, 5, 8, 5, 4, 3], dtype=float)
    assert swing_levels(highs, np.greater_equal) == [9.0]  # 8 is not confirmed: 3 bars after it


async def test_enabling_or_disabling_publishes_a_strategy_toggled_event() -> None:
    bus = EventBus()
    seen: list[StrategyToggledEvent] = []

    async def record(event: StrategyToggledEvent) -> None:
        seen.append(event)

    bus.subscribe(StrategyToggledEvent, record, name="test")
    bus.start()
    instance = StrategyInstance(create("ma_rsi"), "EURUSD", TF)
    manager = StrategyManager([instance], History(trending_bars(300)), bus)
    ctl = StrategyControl(manager, Store(), bus=bus, clock=ManualClock(1_700_000_000.0))
    await ctl.toggle_strategy(ID, actor="alice")
    await ctl.update_strategy(ID, params=None, risk_multiplier=2.0, enabled=None, actor="bob")
    await bus.close(timeout=1.0)
    assert seen == [StrategyToggledEvent(ID, False, 1_700_000_000.0, actor="alice")]
