"""Prometheus exposition of the components' counters (read at scrape time)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families

from forexbot.api.login_failures import LoginFailures
from forexbot.engine.latency import LatencyWindow
from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState, TickEvent
from forexbot.monitoring.metrics import DaemonCollector, Metrics


@dataclass
class Connector:
    state: ConnectionState = ConnectionState.CONNECTED
    ticks_published: int = 1234
    bars_published: int = 56
    reconnects: int = 2
    poll_failures: int = 1


@dataclass
class Worker:
    calls: int = 900
    timeouts: int = 3


@dataclass
class Risk:
    approved: int = 7
    kill_switch_trips: int = 1
    rejections: Counter[str] = field(
        default_factory=lambda: Counter({"max_open_positions": 4, "invalid_stop": 1})
    )

    state_save_failures: int = 2

    def halted(self) -> str | None:
        return "kill switch: drawdown"

    def problems(self) -> dict[str, str]:
        return {"risk_state_not_saved": "the risk state could not be saved: connection refused"}


@dataclass
class Execution:
    sent: int = 7
    filled: int = 6
    rejected: int = 1
    unknown: int = 1
    retries: int = 3
    failures: int = 5
    settle_failures: int = 7
    tick_to_order: LatencyWindow = field(default_factory=LatencyWindow)
    order_latency: LatencyWindow = field(default_factory=LatencyWindow)


@dataclass
class Positions:
    closed_from_terminal: int = 5
    syncs: int = 40
    sync_failures: int = 2
    trailing_moves: int = 4
    corrections: int = 3

    def open_count(self, symbol: str | None = None) -> int:
        return 2


def _samples(metrics: Metrics) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out = {}
    for family in text_string_to_metric_families(metrics.render().decode()):
        for sample in family.samples:
            out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
    return out


def _metrics(connector: Connector | None = None, **components: Any) -> Metrics:
    """The collector over fake components; ``components`` replace the defaults by name."""
    bus = EventBus()
    bus.subscribe(TickEvent, _noop, name="risk")
    defaults: dict[str, Any] = {
        "connector": connector or Connector(),
        "worker": Worker(),
        "bus": bus,
        "risk": Risk(),
        "execution": Execution(),
        "positions": Positions(),
        "logins": LoginFailures(),
    }
    return Metrics(DaemonCollector(**{**defaults, **components}))


async def _noop(event: TickEvent) -> None:
    return None


def test_counters_are_read_from_the_components_at_scrape_time() -> None:
    connector = Connector()
    metrics = _metrics(connector)
    assert _samples(metrics)[("forexbot_ticks_total", ())] == 1234
    connector.ticks_published = 2000
    assert _samples(metrics)[("forexbot_ticks_total", ())] == 2000


def test_exported_figures() -> None:
    s = _samples(_metrics())
    assert s[("forexbot_bars_total", ())] == 56
    assert s[("forexbot_terminal_reconnects_total", ())] == 2
    assert s[("forexbot_terminal_call_timeouts_total", ())] == 3
    assert s[("forexbot_signals_rejected_total", (("code", "max_open_positions"),))] == 4
    assert s[("forexbot_orders_filled_total", ())] == 6
    assert s[("forexbot_open_positions", ())] == 2
    assert s[("forexbot_bus_delivered_total", (("subscriber", "risk"),))] == 0


def test_connection_state_is_one_hot() -> None:
    s = _samples(_metrics(Connector(state=ConnectionState.DISCONNECTED)))
    assert s[("forexbot_terminal_state", (("state", "disconnected"),))] == 1
    assert s[("forexbot_terminal_state", (("state", "connected"),))] == 0


def test_no_money_is_exported() -> None:
    text = _metrics().render().decode()
    for word in ("balance", "equity", "profit", "margin"):
        assert word not in text


def test_trading_engine_figures() -> None:
    s = _samples(_metrics())
    assert s[("forexbot_kill_switch_trips_total", ())] == 1
    assert s[("forexbot_trading_halted", ())] == 1
    assert s[("forexbot_risk_state_save_failures_total", ())] == 2
    assert s[("forexbot_risk_state_unsaved", ())] == 1
    assert s[("forexbot_orders_unknown_total", ())] == 1
    assert s[("forexbot_order_retries_total", ())] == 3
    assert s[("forexbot_order_intent_failures_total", ())] == 5
    assert s[("forexbot_order_settle_failures_total", ())] == 7
    assert s[("forexbot_reconciliation_corrections_total", ())] == 3
    assert s[("forexbot_position_syncs_total", ())] == 40
    assert s[("forexbot_position_sync_failures_total", ())] == 2
    assert s[("forexbot_trailing_stop_moves_total", ())] == 4


def test_tick_to_order_latency_is_exported_as_quantiles_of_recent_orders() -> None:
    execution = Execution()
    for ms in range(1, 101):
        execution.tick_to_order.add(ms / 1000)
    metrics = _metrics(execution=execution)
    s = _samples(metrics)
    assert s[("forexbot_tick_to_order_seconds", (("quantile", "0.50"),))] == 0.0505
    assert s[("forexbot_tick_to_order_seconds", (("quantile", "0.99"),))] == pytest.approx(0.09901)
    assert s[("forexbot_tick_to_order_samples_total", ())] == 100
    assert ("forexbot_order_send_seconds", (("quantile", "0.50"),)) not in s  # no order yet


@dataclass
class SystemLogs:
    failed_writes: int = 3


def test_lost_audit_records_are_counted() -> None:
    metrics = _metrics(audit=SystemLogs())
    assert _samples(metrics)[("forexbot_audit_write_failures_total", ())] == 3


def test_refused_sign_ins_are_counted_by_reason() -> None:
    logins = LoginFailures()
    for reason in ("bad_password", "bad_password", "unknown_user"):
        logins.record(reason)
    metrics = _metrics(logins=logins)
    s = _samples(metrics)
    assert s[("forexbot_login_failures_total", (("reason", "bad_password"),))] == 2
    assert s[("forexbot_login_failures_total", (("reason", "unknown_user"),))] == 1


@dataclass
class AccountSamples:
    written: int = 120
    dropped: int = 0
    failures: int = 2


def test_the_account_history_sampler_is_counted() -> None:
    s = _samples(_metrics(account_samples=AccountSamples()))
    assert s[("forexbot_account_samples_written_total", ())] == 120
    assert s[("forexbot_account_samples_dropped_total", ())] == 0
    assert s[("forexbot_account_sample_write_failures_total", ())] == 2


def test_the_account_history_sampler_exports_no_money() -> None:
    text = _metrics(account_samples=AccountSamples()).render().decode()
    for word in ("balance", "equity", "profit", "margin"):
        assert word not in text


@dataclass
class Analysis:
    adopted: int = 1682
    speculated: int = 5687


def test_the_analysis_ahead_of_the_close_is_counted() -> None:
    samples = _samples(_metrics(analysis=Analysis()))
    assert samples[("forexbot_bars_analysed_ahead_total", ())] == 1682
    assert samples[("forexbot_bar_speculations_total", ())] == 5687


def test_no_analysis_counters_without_a_strategy_manager() -> None:
    names = {name for name, _labels in _samples(_metrics())}
    assert "forexbot_bars_analysed_ahead_total" not in names
