"""Prometheus metrics, collected at scrape time from the components' own counters.

Why pull-based: the components already count what matters (ticks, bars, reconnects, orders,
rejections, bus deliveries and failures); reading those counters when Prometheus scrapes puts
nothing on the tick or order path. The registry is private to the daemon (no global
``prometheus_client.REGISTRY``), so two daemons in one test process never collide.

What is exported is operational only — counts, states, latencies — never balances or
positions' money: ``/metrics`` is public on the API's (loopback by default) address.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client import CollectorRegistry
from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.metrics_core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from forexbot.events.bus import EventBus
from forexbot.events.types import ConnectionState


class ConnectorCounters(Protocol):
    state: ConnectionState
    ticks_published: int
    bars_published: int
    reconnects: int
    poll_failures: int


class WorkerCounters(Protocol):
    calls: int
    timeouts: int


class RiskCounters(Protocol):
    approved: int

    @property
    def kill_switch_trips(self) -> int: ...

    @property
    def state_save_failures(self) -> int: ...

    def problems(self) -> Mapping[str, str]: ...

    @property
    def rejections(self) -> Mapping[str, int]: ...

    def halted(self) -> str | None: ...


class LatencyView(Protocol):
    count: int

    def percentile(self, q: float) -> float | None: ...


class ExecutionCounters(Protocol):
    sent: int
    filled: int
    rejected: int
    unknown: int
    retries: int
    failures: int
    settle_failures: int

    @property
    def tick_to_order(self) -> LatencyView: ...

    @property
    def order_latency(self) -> LatencyView: ...


class AuditCounters(Protocol):
    failed_writes: int


class LoginFailureCounts(Protocol):
    @property
    def counts(self) -> Mapping[str, int]: ...


class PushCounters(Protocol):
    """Web Push alerts (:class:`forexbot.notifications.notifier.Notifier`). Every label comes
    from a fixed vocabulary (alert types, outcomes, failure classes, removal reasons), so the
    series are bounded whatever the subscribers do."""

    database_failures: int
    refused_endpoints: int

    @property
    def push_outcomes(self) -> Mapping[tuple[str, str], int]: ...

    @property
    def push_failures(self) -> Mapping[tuple[str, str], int]: ...

    @property
    def subscriptions_removed(self) -> Mapping[str, int]: ...

    @property
    def failed_logins_coalesced(self) -> int: ...


class AccountSampleCounters(Protocol):
    """The account history's sampler (:class:`forexbot.monitoring.equity_history.EquityHistory`)."""

    written: int
    dropped: int
    failures: int


class PositionCounters(Protocol):
    closed_from_terminal: int
    syncs: int
    sync_failures: int
    trailing_moves: int

    def open_count(self, symbol: str | None = None) -> int: ...

    @property
    def corrections(self) -> int: ...


class AnalysisCounters(Protocol):
    """The strategy manager's analysis ahead of the close (``strategies/speculation.py``)."""

    adopted: int
    speculated: int


class DaemonCollector(Collector):
    """Turns the components' counters into Prometheus metric families."""

    def __init__(
        self,
        *,
        connector: ConnectorCounters,
        worker: WorkerCounters,
        bus: EventBus,
        risk: RiskCounters,
        execution: ExecutionCounters,
        positions: PositionCounters,
        logins: LoginFailureCounts,
        audit: AuditCounters | None = None,
        pushes: PushCounters | None = None,
        account_samples: AccountSampleCounters | None = None,
        analysis: AnalysisCounters | None = None,
    ) -> None:
        self._logins = logins
        self._analysis = analysis
        self._account_samples = account_samples
        self._audit = audit
        self._pushes = pushes
        self._connector = connector
        self._worker = worker
        self._bus = bus
        self._risk = risk
        self._execution = execution
        self._positions = positions

    def collect(self) -> Iterator[Metric]:
        c = self._connector
        yield _counter("forexbot_ticks", "Ticks received from the terminal.", c.ticks_published)
        yield _counter("forexbot_bars", "Bars closed and published.", c.bars_published)
        yield _counter("forexbot_terminal_reconnects", "Reconnections.", c.reconnects)
        yield _counter(
            "forexbot_terminal_poll_failures", "Polls that failed unexpectedly.", c.poll_failures
        )
        state = GaugeMetricFamily(
            "forexbot_terminal_state", "1 for the connection's current state.", labels=["state"]
        )
        for candidate in ConnectionState:
            state.add_metric([candidate.value], 1.0 if c.state is candidate else 0.0)
        yield state
        yield _counter("forexbot_terminal_calls", "Terminal calls.", self._worker.calls)
        yield _counter(
            "forexbot_terminal_call_timeouts", "Terminal calls timed out.", self._worker.timeouts
        )

        yield _counter("forexbot_signals_approved", "Signals approved.", self._risk.approved)
        yield _counter(
            "forexbot_kill_switch_trips", "Kill switch trips.", self._risk.kill_switch_trips
        )
        yield _counter(
            "forexbot_risk_state_save_failures",
            "Failed writes of the risk state or the kill switch latch.",
            self._risk.state_save_failures,
        )
        yield GaugeMetricFamily(
            "forexbot_risk_state_unsaved",
            "1 while the risk state or the kill switch latch is not persisted.",
            value=1.0 if self._risk.problems() else 0.0,
        )
        yield GaugeMetricFamily(
            "forexbot_trading_halted",
            "1 while the kill switch halts trading.",
            value=1.0 if self._risk.halted() else 0.0,
        )
        rejected = CounterMetricFamily(
            "forexbot_signals_rejected", "Signals rejected by the risk manager.", labels=["code"]
        )
        for code, count in sorted(self._risk.rejections.items()):
            rejected.add_metric([code], count)
        yield rejected
        e = self._execution
        yield _counter("forexbot_orders_sent", "Orders sent to the terminal.", e.sent)
        yield _counter("forexbot_orders_filled", "Orders filled.", e.filled)
        yield _counter("forexbot_orders_rejected", "Orders rejected.", e.rejected)
        yield _counter(
            "forexbot_orders_unknown",
            "Orders whose outcome the terminal could not tell (settled by reconciliation).",
            e.unknown,
        )
        yield _counter("forexbot_order_retries", "Orders sent again (retryable codes).", e.retries)
        yield _counter(
            "forexbot_order_intent_failures",
            "Approved orders that failed before or while being sent (refused by the database, "
            "the write failed, an error); a written one is settled by reconciliation.",
            e.failures,
        )
        yield _counter(
            "forexbot_order_settle_failures",
            "Sent orders whose outcome could not be recorded (settled by reconciliation).",
            e.settle_failures,
        )
        yield from _latency(
            "forexbot_tick_to_order_seconds",
            "From the tick that closed a signal's bar to order_send (recent orders).",
            e.tick_to_order,
        )
        yield from _latency(
            "forexbot_order_send_seconds",
            "order_send round trips (recent orders).",
            e.order_latency,
        )
        yield GaugeMetricFamily(
            "forexbot_open_positions", "Open positions.", value=self._positions.open_count()
        )
        yield _counter(
            "forexbot_trades_closed_at_terminal",
            "Trades closed at the terminal (SL/TP/manual) and settled from its deals.",
            self._positions.closed_from_terminal,
        )
        p = self._positions
        yield _counter(
            "forexbot_reconciliation_corrections",
            "Corrections made by reconciliation (adopted, closed from history, cancelled...).",
            p.corrections,
        )
        yield _counter("forexbot_position_syncs", "Reconciliation passes.", p.syncs)
        yield _counter(
            "forexbot_position_sync_failures",
            "Syncs skipped (terminal or database).",
            p.sync_failures,
        )
        yield _counter(
            "forexbot_trailing_stop_moves", "Stops moved by break-even/trailing.", p.trailing_moves
        )

        failures = CounterMetricFamily(
            "forexbot_login_failures", "Refused sign-ins, by reason.", labels=["reason"]
        )
        for reason, count in sorted(self._logins.counts.items()):
            failures.add_metric([reason], count)
        yield failures
        if self._audit is not None:
            yield _counter(
                "forexbot_audit_write_failures",
                "system_logs rows (audit records included) the database did not take.",
                self._audit.failed_writes,
            )

        if self._analysis is not None:
            yield _counter(
                "forexbot_bars_analysed_ahead",
                "Closed bars whose analysis was adopted from the analysis made before their close.",
                self._analysis.adopted,
            )
            yield _counter(
                "forexbot_bar_speculations",
                "Forming bars analysed ahead of their close (adopted or not).",
                self._analysis.speculated,
            )
        if self._pushes is not None:
            yield from _push_metrics(self._pushes)
        if self._account_samples is not None:
            yield from _account_sample_metrics(self._account_samples)

        delivered = CounterMetricFamily(
            "forexbot_bus_delivered", "Events handled per subscriber.", labels=["subscriber"]
        )
        failed = CounterMetricFamily(
            "forexbot_bus_handler_failures", "Handler exceptions.", labels=["subscriber"]
        )
        coalesced = CounterMetricFamily(
            "forexbot_bus_coalesced", "Quotes replaced by newer ones.", labels=["subscriber"]
        )
        pending = GaugeMetricFamily(
            "forexbot_bus_pending", "Events queued per subscriber.", labels=["subscriber"]
        )
        for stats in self._bus.stats():
            delivered.add_metric([stats.name], stats.delivered)
            failed.add_metric([stats.name], stats.failed)
            coalesced.add_metric([stats.name], stats.coalesced)
            pending.add_metric([stats.name], stats.pending)
        yield from (delivered, failed, coalesced, pending)


#: The push outcomes exported per alert type, and their metrics (failures have their own,
#: by class; ``gone`` is one of those classes).
_PUSH_OUTCOMES = {
    "sent": ("forexbot_pushes_sent", "Pushes the push service accepted, by alert type."),
    "rate_limited": (
        "forexbot_pushes_rate_limited",
        "Pushes not sent: the device's rate limit was spent, by alert type.",
    ),
    "dropped": (
        "forexbot_pushes_dropped",
        "Pushes not sent: too many were under way, by alert type.",
    ),
}


def _push_metrics(pushes: PushCounters) -> Iterator[Metric]:
    outcomes = pushes.push_outcomes
    for outcome, (name, documentation) in _PUSH_OUTCOMES.items():
        family = CounterMetricFamily(name, documentation, labels=["type"])
        for (alert_type, seen), count in sorted(outcomes.items()):
            if seen == outcome:
                family.add_metric([alert_type], count)
        yield family
    failures = CounterMetricFamily(
        "forexbot_push_failures",
        "Pushes not delivered, by alert type and reason (gone: 404/410, the subscription is "
        "removed; 4xx; 5xx; network: no answer; other).",
        labels=["type", "reason"],
    )
    for (alert_type, reason), count in sorted(pushes.push_failures.items()):
        failures.add_metric([alert_type, reason], count)
    yield failures
    removed = CounterMetricFamily(
        "forexbot_push_subscriptions_removed",
        "Push subscriptions removed, by why (gone: the push service said so; user).",
        labels=["reason"],
    )
    for reason, count in sorted(pushes.subscriptions_removed.items()):
        removed.add_metric([reason], count)
    yield removed
    yield _counter(
        "forexbot_failed_login_alerts_coalesced",
        "Failed sign-ins folded into a summary alert rather than pushed one by one.",
        pushes.failed_logins_coalesced,
    )
    yield _counter(
        "forexbot_pushes_refused_endpoint",
        "Pushes not sent: the subscription's host is no longer in notifications.push_hosts.",
        pushes.refused_endpoints,
    )
    yield _counter(
        "forexbot_push_database_failures",
        "Push recipients unreadable or gone subscriptions not removed (database errors).",
        pushes.database_failures,
    )


def _account_sample_metrics(samples: AccountSampleCounters) -> Iterator[Metric]:
    yield _counter(
        "forexbot_account_samples_written",
        "Account history samples (one a trading-clock minute) written to the database.",
        samples.written,
    )
    yield _counter(
        "forexbot_account_samples_dropped",
        "Account history samples dropped: the database was away and the backlog full.",
        samples.dropped,
    )
    yield _counter(
        "forexbot_account_sample_write_failures",
        "Batches of account history samples the database refused (kept and retried).",
        samples.failures,
    )


def _latency(name: str, documentation: str, window: LatencyView) -> Iterator[Metric]:
    """A summary of a latency window: p50/p90/p99 and the count of samples ever taken."""
    summary = GaugeMetricFamily(name, documentation, labels=["quantile"])
    for q in (50, 90, 99):
        value = window.percentile(q)
        if value is not None:
            summary.add_metric([f"0.{q}"], value)
    yield summary
    yield _counter(name.removesuffix("_seconds") + "_samples", f"Samples of {name}.", window.count)


def _counter(name: str, documentation: str, value: float) -> CounterMetricFamily:
    return CounterMetricFamily(name, documentation, value=value)


class Metrics:
    """The daemon's registry and its text exposition."""

    content_type = CONTENT_TYPE_LATEST

    def __init__(self, collector: Collector) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(collector)

    def render(self) -> bytes:
        return generate_latest(self.registry)
