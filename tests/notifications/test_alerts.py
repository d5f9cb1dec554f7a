"""Which events become which alerts, and what they say."""

from __future__ import annotations

from decimal import Decimal

from trade_records import trade_record

from forexbot.domain.rejection import RejectCode
from forexbot.domain.trading import Side, Signal, TradeStatus
from forexbot.events.types import (
    ConnectionState,
    ConnectionStateEvent,
    KillSwitchEvent,
    ReconciliationEvent,
    RiskLimitEvent,
    RiskRejectedEvent,
    TradeEvent,
)
from forexbot.notifications.alerts import (
    DEFAULTS,
    AlertLevel,
    AlertMemory,
    AlertType,
    alert_for,
)

NOW = 1_700_000_000.0


def closed(reason: str, profit: str = "12.5") -> TradeEvent:
    return TradeEvent(
        trade_record(
            7,
            TradeStatus.CLOSED,
            exit_price=Decimal("1.105"),
            profit=Decimal(profit),
            close_reason=reason,
        )
    )


def test_every_type_defaults_to_on_but_risk_rejections_to_off() -> None:
    assert DEFAULTS[AlertType.RISK_REJECTION] is AlertLevel.OFF
    assert {t for t, level in DEFAULTS.items() if level is AlertLevel.ON} == set(AlertType) - {
        AlertType.RISK_REJECTION
    }


def test_an_open_trade_is_a_fill_told_once() -> None:
    memory = AlertMemory()
    event = TradeEvent(trade_record(3, TradeStatus.OPEN))
    alert = alert_for(event, memory, NOW)
    assert alert is not None
    assert alert.type is AlertType.FILL
    assert alert.title == "EURUSD buy filled"
    assert alert.body == "Buy 0.1 EURUSD at 1.10012 (ma_cross)"
    assert alert.data["trade_id"] == 3
    assert alert_for(event, memory, NOW) is None  # a later change of the open trade


def test_a_close_says_its_profit_or_loss() -> None:
    alert = alert_for(closed("manual_api", "-3.2"), AlertMemory(), NOW)
    assert alert is not None
    assert alert.type is AlertType.CLOSE
    assert alert.body == "P/L -3.20 at 1.105 (manual_api)"
    assert alert.data["profit"] == "-3.2"


def test_a_stop_loss_or_take_profit_close_is_its_own_type() -> None:
    stop = alert_for(closed("stop_loss", "-8"), AlertMemory(), NOW)
    target = alert_for(closed("take_profit"), AlertMemory(), NOW)
    assert stop is not None
    assert target is not None
    assert (stop.type, stop.title) == (AlertType.SL_TP, "Stop loss hit on EURUSD")
    assert (target.type, target.title) == (AlertType.SL_TP, "Take profit hit on EURUSD")


def test_other_trade_states_make_no_alert() -> None:
    for status in (TradeStatus.INTENT, TradeStatus.SUBMITTED, TradeStatus.REJECTED):
        assert alert_for(TradeEvent(trade_record(1, status)), AlertMemory(), NOW) is None


def test_kill_switch_tripped_and_resumed() -> None:
    tripped = KillSwitchEvent(True, "max_drawdown", "drawdown 12% over 10%", NOW)
    resumed = KillSwitchEvent(False, "resumed", "resumed by an admin", NOW, actor="alice")
    a, b = alert_for(tripped, AlertMemory(), NOW), alert_for(resumed, AlertMemory(), NOW)
    assert a is not None
    assert b is not None
    assert (a.type, a.title, a.data) == (
        AlertType.KILL_SWITCH,
        "Kill switch tripped",
        {"active": True, "code": "max_drawdown"},
    )
    assert (b.title, b.body) == ("Trading resumed", "resumed by an admin (by alice)")


def test_only_the_daily_loss_limit_is_a_halt_alert() -> None:
    halt = alert_for(RiskLimitEvent("daily_loss_limit", "until 00:00 UTC", NOW), AlertMemory(), NOW)
    assert halt is not None
    assert halt.type is AlertType.DAILY_LOSS_HALT
    assert alert_for(RiskLimitEvent("cooldown", "until 10:00", NOW), AlertMemory(), NOW) is None


def test_a_risk_rejection_names_the_symbol_and_code() -> None:
    signal = Signal("ma_cross", "GBPUSD", "M15", Side.SELL, 1.27, 1.28, 1.25, 0.6, "cross", 0)
    event = RiskRejectedEvent(signal, RejectCode.NOT_READY, "not ready", NOW)
    alert = alert_for(event, AlertMemory(), NOW)
    assert alert is not None
    assert (alert.type, alert.title, alert.data) == (
        AlertType.RISK_REJECTION,
        "GBPUSD signal refused",
        {"symbol": "GBPUSD", "code": "not_ready"},
    )


def test_reconnection_is_told_only_after_a_disconnection() -> None:
    memory = AlertMemory()
    up = ConnectionStateEvent(ConnectionState.CONNECTED, "", NOW)
    down = ConnectionStateEvent(ConnectionState.DISCONNECTED, "ipc timeout", NOW)
    assert alert_for(up, memory, NOW) is None  # the first connection at start
    lost = alert_for(down, memory, NOW)
    assert lost is not None
    assert (lost.title, lost.body) == ("Terminal disconnected", "ipc timeout")
    assert alert_for(down, memory, NOW) is None  # the same outage
    back = alert_for(up, memory, NOW)
    assert back is not None
    assert back.title == "Terminal reconnected"


def test_a_reconciliation_correction_names_its_kind_and_trade() -> None:
    event = ReconciliationEvent("closed_from_history", 9, "closed by the terminal", {}, NOW)
    alert = alert_for(event, AlertMemory(), NOW)
    assert alert is not None
    assert (alert.type, alert.data) == (
        AlertType.RECONCILIATION,
        {"kind": "closed_from_history", "trade_id": 9},
    )


def test_the_payload_carries_type_tag_time_and_silence() -> None:
    alert = alert_for(TradeEvent(trade_record(3)), AlertMemory(), NOW)
    assert alert is not None
    payload = alert.payload(silent=True)
    assert payload["type"] == "fill"
    assert payload["tag"] == "fill:3"
    assert payload["silent"] is True
    assert payload["time"] == "2023-11-14T22:13:20Z"
