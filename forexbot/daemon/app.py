"""The composition root: builds every component with its collaborators and runs the daemon.

Start order follows the dependencies — data directory, API sockets, database (embedded or
``DATABASE_URL``) and migrations, terminal worker, the components, the API's start-up hooks,
event bus, terminal, strategies, trading engine, API — and every step registers its stop on a
:class:`~forexbot.daemon.lifecycle.Lifecycle` as it starts, so stops run in reverse, each once,
and one that fails does not skip the others (a start failing half-way stops what had started).
On SIGTERM:

1. systemd is told ``STOPPING=1``, ``/api/health`` turns unhealthy and the API refuses new
   orders; the background watches (trading locks, watchdog, market hours) end;
2. polling stops and the strategies stop reading bars, so no new (or stale) signal appears;
3. the event bus drains: signals already approved are executed and recorded (no trade lost);
4. a last position sync records what the terminal closed;
5. the API, the terminal (the simulated account saves itself), the worker thread and the
   database close, and the process exits 0.

``POST /api/system/restart`` takes the same path, then the process exits 75 for systemd to
start it again, or re-executes itself outside systemd (:mod:`forexbot.daemon.restart`).
"""

from __future__ import annotations

import asyncio
import gc
import os
import signal
import socket
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import structlog
from sqlalchemy.ext.asyncio import AsyncEngine

from forexbot.api.app import RATE_LIMITERS_KEY, create_app
from forexbot.api.jwt_secret import load_or_create_jwt_secret, previous_jwt_secrets
from forexbot.api.listen import bind_listeners, tls_context
from forexbot.api.listen import close_all as close_listeners
from forexbot.api.login_failures import LoginFailures
from forexbot.api.mfa import Mfa
from forexbot.api.ports import ApiServices
from forexbot.api.routes.app_shell import app_dir
from forexbot.api.server import ApiServer
from forexbot.api.tokens import JwtKeys
from forexbot.backtest.jobs import BacktestJobs
from forexbot.backtest.service import DaemonBacktests
from forexbot.clock import RealtimeClock
from forexbot.config.loader import load_strategy_instances
from forexbot.config.models import Settings, StrategyInstanceSettings
from forexbot.connectors.backends import open_terminal
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.market_query import MarketQuery
from forexbot.connectors.worker import TerminalWorker
from forexbot.daemon.account_locks import lock_account, watch_locks
from forexbot.daemon.greeting import count_users, greet
from forexbot.daemon.heap import freeze_start_up_heap
from forexbot.daemon.instance_lock import DataDirLock
from forexbot.daemon.lifecycle import Lifecycle
from forexbot.daemon.market_hours import MarketHoursWatch
from forexbot.daemon.provision import ProvisionedDatabase, provision_database
from forexbot.daemon.restart import RestartSwitch, restart_mode
from forexbot.daemon.sdnotify import SystemdNotifier
from forexbot.daemon.shutdown import STOP_REPORT_AFTER, report_slow_stop, wind_down_steps
from forexbot.daemon.system_settings import SystemSettings, rate_limits_applier, set_log_level
from forexbot.daemon.tasks import stop_task
from forexbot.daemon.watchdog import start_watchdog
from forexbot.database.api_keys import ApiKeyRepository
from forexbot.database.backup import Backups
from forexbot.database.encryption import Sealer, load_or_create_data_key
from forexbot.database.engine import Database
from forexbot.database.market_data import MarketDataRepository
from forexbot.database.performance import PerformanceRepository
from forexbot.database.refresh_tokens import RefreshTokenRepository
from forexbot.database.strategy_configs import StrategyConfigRepository
from forexbot.database.system_config import SystemConfigRepository
from forexbot.database.system_logs import SystemLogRepository
from forexbot.database.trades import TradeRepository
from forexbot.database.trading_locks import (
    AdvisoryLock,
    database_lock_name,
)
from forexbot.database.users import UserRepository
from forexbot.database.writers import BarWriter
from forexbot.domain.market import Timeframe
from forexbot.engine.assembly import OrderPath, build_engine
from forexbot.engine.control import TradingControl
from forexbot.engine.kill_latch import LATCH_FILE, KillSwitchLatch
from forexbot.errors import ConfigError
from forexbot.events.bus import EventBus
from forexbot.logs import console_stream
from forexbot.monitoring.equity_history import EquityHistory
from forexbot.monitoring.metrics import DaemonCollector, Metrics
from forexbot.monitoring.performance import PerformanceBook
from forexbot.monitoring.status import DaemonStatus
from forexbot.notifications.endpoints import EndpointPolicy
from forexbot.notifications.notifier import Notifier
from forexbot.notifications.sender import PushSender
from forexbot.notifications.store import PushStore
from forexbot.notifications.vapid import load_or_create_vapid_key, vapid_subject
from forexbot.strategies.control import StrategyControl
from forexbot.strategies.instances import build_instances
from forexbot.strategies.manager import STRATEGIES_SUBSCRIBER, StrategyManager

_log = structlog.get_logger("forexbot.daemon.app")


def _unhandler(signum: int) -> Callable[[], bool]:
    """What removes the daemon's handler of ``signum``."""
    loop = asyncio.get_running_loop()
    return lambda: loop.remove_signal_handler(signum)


@dataclass(frozen=True, slots=True)
class Listening:
    """The API's sockets and TLS context, taken before anything can trade."""

    sockets: list[socket.socket]
    tls: ssl.SSLContext | None


class Daemon:
    """The whole trading daemon in one object; :meth:`run` runs it until asked to stop."""

    def __init__(
        self,
        settings: Settings,
        data_dir: Path,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self._settings = settings
        self._data_dir = data_dir
        self._environ = dict(os.environ if environ is None else environ)
        self._stop = asyncio.Event()
        #: Set when another daemon took a trading lock: the run ends with exit code 3.
        self.lost_account_lock = False
        self.notifier = SystemdNotifier(self._environ)
        # POST /api/system/restart: the same stop, then systemd or an exec starts it again.
        self.restart = RestartSwitch(
            self.request_stop, self._stop.is_set, restart_mode(self._environ)
        )

    def request_stop(self) -> None:
        """Ask the daemon to stop gracefully (what SIGTERM and SIGINT do)."""
        self._stop.set()

    async def run(self) -> None:
        """Start everything, run until stopped, stop everything. Raises on a failed start.

        What can refuse the start is done before anything can trade, cheapest first: the
        data directory and its lock (:class:`~forexbot.errors.InstanceLockedError`), the
        API's sockets (:class:`~forexbot.errors.ListenError`) and TLS certificate, the
        database and its trade-book lock (another daemon trading through this database), the
        API's start-up hooks; once the terminal is connected and before anything trades, the
        account lock (another daemon on this account, through any database of the server).

        Every step registers its stop on a :class:`~forexbot.daemon.lifecycle.Lifecycle` as
        it starts, so a start that fails half-way stops what had started, in reverse; a stop
        step that fails is logged and the others still run."""
        slow: asyncio.TimerHandle | None = None
        try:
            async with Lifecycle() as lifecycle:
                await self._start(lifecycle)
                await self._stop.wait()
                _log.info("stopping")
                # A stop that hangs says where: the stack of every task, once, after this long.
                slow = asyncio.get_running_loop().call_later(STOP_REPORT_AFTER, report_slow_stop)
        finally:
            if slow is not None:
                slow.cancel()
            _log.info("stopped")

    async def _start(self, lifecycle: Lifecycle) -> None:
        s = self._settings
        self._claim_data_dir(lifecycle)
        listeners = bind_listeners(s.api.host, s.api.port)
        lifecycle.on_stop("api sockets closed", lambda: close_listeners(listeners))
        listening = Listening(listeners, tls_context(s.api.tls_certificate, s.api.tls_key))
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, self.request_stop)
            lifecycle.on_stop(f"{signal.Signals(signum).name} handler removed", _unhandler(signum))

        # A configuration that cannot run is refused before the database starts.
        strategy_entries = load_strategy_instances(s)
        _log.info("starting", data_dir=str(self._data_dir), mode=s.mode)
        provisioned = await asyncio.to_thread(provision_database, self._data_dir, self._environ)
        lifecycle.on_stop("database server stopped", provisioned.stop)
        book = AdvisoryLock(provisioned.url, database_lock_name(s.terminal.magic))
        await lifecycle.start("trade-book lock taken", book.acquire(), book.release)
        database = Database(provisioned.url, pool_size=s.database.pool_size)
        await lifecycle.start("database connected", database.connect(), database.close)
        await self._start_with_database(
            lifecycle, database, provisioned, listening, [book], strategy_entries
        )

    def _claim_data_dir(self, lifecycle: Lifecycle) -> None:
        """Create the data directory (0700) and take its single-instance lock."""
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(
                f"the data directory {self._data_dir} cannot be created: {exc.strerror}"
            ) from None
        instance = DataDirLock(self._data_dir)
        try:
            instance.acquire()
        except OSError as exc:
            raise ConfigError(
                f"the data directory {self._data_dir} is not writable: {exc.strerror}"
            ) from None
        lifecycle.on_stop("data directory released", instance.release)

    async def _start_with_database(
        self,
        lifecycle: Lifecycle,
        database: Database,
        provisioned: ProvisionedDatabase,
        listening: Listening,
        locks: list[AdvisoryLock],
        strategy_entries: list[StrategyInstanceSettings],
    ) -> None:
        engine = database.engine
        config_store = SystemConfigRepository(engine)
        # Settings changed at run time (PUT /api/system/settings) win over the files.
        system_settings = SystemSettings(
            self._settings, config_store, appliers={"logging": set_log_level}
        )
        s = await system_settings.load()
        system_settings.apply("logging")
        trades = TradeRepository(engine)
        users = UserRepository(engine)
        system_logs = SystemLogRepository(engine)
        market_data = MarketDataRepository(engine)
        bus = EventBus()

        opened = open_terminal(s.terminal, self._data_dir, self._environ)
        clock = opened.clock
        worker = TerminalWorker(default_timeout=s.terminal.call_timeout_seconds)
        worker.start()
        lifecycle.on_stop("terminal worker stopped", worker.stop)

        strategy_configs = StrategyConfigRepository(engine)
        instances = build_instances(strategy_entries, await strategy_configs.all(), s.watchlist)
        timeframes = {i.timeframe for i in instances} | {Timeframe.M1}
        connector = MT5Connector(
            terminal=opened.terminal,
            worker=worker,
            bus=bus,
            clock=clock,
            symbols=s.watchlist,
            timeframes=sorted(timeframes, key=lambda tf: tf.seconds),
            poll_interval=s.terminal.poll_interval_ms / 1000,
            health_interval=s.terminal.health_interval_seconds,
            initialize_kwargs=opened.initialize_kwargs,
            # The strategies analyse a bar ahead during its last three polls: the last poll
            # before its end finds it analysed, and a bar is analysed about once, not on every
            # tick of a longer window.
            forming_horizon=3 * s.terminal.poll_interval_ms / 1000,
        )
        order_path = OrderPath(bus)
        strategies = StrategyManager(
            instances,
            connector,
            bus,
            defer_to=order_path.busy,
            watchlist=s.watchlist,  # every watched symbol is analysed, traded or not
        )
        strategy_control = StrategyControl(strategies, strategy_configs, bus=bus, clock=clock)
        trading = build_engine(
            connector=connector,
            trades=trades,
            audit=system_logs,
            store=config_store,
            bus=bus,
            clock=clock,
            magic=s.terminal.magic,
            risk=s.risk,
            execution=lambda: system_settings.current.execution,
            management=strategies.management,
            latch=KillSwitchLatch(self._data_dir / LATCH_FILE),
            order_path=order_path,
            settle_after=lambda: bus.busy(STRATEGIES_SUBSCRIBER),
        )
        risk, execution, positions = trading.risk, trading.execution, trading.positions
        equity = EquityHistory.for_daemon(engine, bus, clock, positions, risk, connector)
        system_settings.show_risk_from(risk)
        bar_writer = BarWriter(market_data, bus, flush_interval=s.database.batch_interval_ms / 1000)
        status = DaemonStatus(
            mode=s.mode,
            clock=clock,
            connector=connector,
            positions=positions,
            strategies=strategies,
            bus=bus,
            sim_speed=s.terminal.sim_speed,
            database=provisioned.description,
            risk=risk,
        )
        login_failures = LoginFailures(bus.publish)  # wrong secrets: the owner is told
        notifier = self._build_notifier(bus, engine)
        metrics = Metrics(
            DaemonCollector(
                connector=connector,
                worker=worker,
                bus=bus,
                risk=risk,
                execution=execution,
                positions=positions,
                logins=login_failures,
                audit=system_logs,
                pushes=notifier,
                account_samples=equity,
                analysis=strategies,
            )
        )
        for component in (strategies, trading, bar_writer, equity):
            component.subscribe()

        backtests = DaemonBacktests(
            BacktestJobs(workers=s.backtest.workers, max_active=s.backtest.max_active),
            strategy_control,
            lambda: risk.settings,
            s.terminal,
            market_data,
        )
        lifecycle.on_stop("backtests closed", backtests.close)
        notifier.subscribe()
        # Registered before the bus's close, so it runs after it: the last alerts are pushed.
        lifecycle.on_stop("push alerts stopped", notifier.stop)
        await lifecycle.start("equity history written", equity.start(), equity.close)
        services = ApiServices(
            users=users,
            trades=trades,
            system_logs=system_logs,
            positions=positions,
            status=status,
            bus=bus,
            clock=clock,
            metrics=metrics,
            strategies=strategy_control,
            trading=trading.control,
            backtests=backtests,
            refresh_tokens=RefreshTokenRepository(
                engine, RealtimeClock(), s.api.refresh_token_ttl_seconds
            ),
            api_keys=ApiKeyRepository(engine, RealtimeClock()),
            backups=Backups(
                provisioned.url, self._data_dir / "backups", s.backup.keep, RealtimeClock()
            ),
            login_failures=login_failures,
            market=MarketQuery(connector, worker, opened.terminal, market_data, clock, timeframes),
            account=positions,
            performance=PerformanceBook(
                trades,
                PerformanceRepository(engine),
                lambda: None if positions.account is None else positions.account.balance,
                clock,
                lambda: connector.server_offset,  # "today" is the broker's day
            ),
            mfa=Mfa(
                users,
                Sealer(load_or_create_data_key(self._data_dir, self._environ)),
                RealtimeClock(),
            ),
            system_settings=system_settings,
            restart=self.restart,
            notifications=notifier,
            equity=equity,
        )
        keys = JwtKeys(
            load_or_create_jwt_secret(self._data_dir, self._environ),
            previous_jwt_secrets(self._environ),
        )
        api_app = create_app(services, s.api, keys)
        system_settings.add_applier("api", rate_limits_applier(api_app[RATE_LIMITERS_KEY]))
        api = ApiServer(api_app, s.api, sockets=listening.sockets, ssl_context=listening.tls)
        # Its start-up hooks run before anything can trade.
        await lifecycle.start("api stopped", api.prepare(), api.stop)

        bus.start()
        lifecycle.on_stop("event bus closed", bus.close)
        lifecycle.on_stop("market data writer closed", bar_writer.close)
        await lifecycle.start("terminal closed", connector.start(), connector.close)
        if s.terminal.backend != "simulator":  # the paper account is the data directory's
            account = await lock_account(provisioned.url, connector, s.terminal.magic)
            lifecycle.on_stop("account lock released", account.release)
            locks.append(account)
        await strategies.warm_up()
        lifecycle.on_stop("strategies stopped", strategies.stop)
        # Before trading starts: the collection pauses the loop (~0.1 s) while no order waits.
        freeze_start_up_heap()  # full GC passes no longer scan the start-up heap
        lifecycle.on_stop("start-up heap unfrozen", gc.unfreeze)
        # Registered first: a start that fails half-way may have started the position sync.
        lifecycle.on_stop("trading stopped", trading.stop)
        await trading.start()
        await api.start()
        # On a normal stop these run first, in the order that loses nothing (steps 2 to 5 of
        # the module docstring), each its own step; the stops registered above then find
        # their part done.
        for name, step in reversed(
            wind_down_steps(connector, strategies, bar_writer, bus, positions, api)
        ):
            lifecycle.on_stop(name, step)
        market_hours = MarketHoursWatch(s.watchlist, clock)
        greeting = greet(
            s.api.host,
            api.bound_port,
            tls=listening.tls is not None,
            users=await count_users(users),
            data_dir=self._data_dir,
            environ=self._environ,
            market=market_hours.now(),
            app_served=app_dir(s.api).is_dir(),
        )
        _log.info(
            "forexbot ready",
            **greeting.fields(),
            symbols=list(s.watchlist),
            strategies=[i.key for i in instances if i.enabled],
            sim_speed=s.terminal.sim_speed,
            database=provisioned.description,
        )
        greeting.show(console_stream())  # readable lines, on a console only
        market_hours.start()
        lifecycle.on_stop("market hours watch ended", market_hours.stop)
        self.notifier.ready(f"trading {len(s.watchlist)} symbols")
        watchdog = start_watchdog(self.notifier, status)
        if watchdog is not None:
            lifecycle.on_stop("watchdog ended", lambda: stop_task(watchdog))
        lock_watch = asyncio.get_running_loop().create_task(
            watch_locks(locks, self._lose_account_lock), name="trading-locks"
        )
        lifecycle.on_stop("lock watch ended", lambda: stop_task(lock_watch))
        # Registered last, so it runs first: nothing new is accepted once stopping.
        lifecycle.on_stop(
            "stopping announced", lambda: self._announce_stopping(status, trading.control)
        )

    def _build_notifier(self, bus: EventBus, engine: AsyncEngine) -> Notifier:
        """Web Push alerts: the data directory's VAPID key, subscriptions in the database."""
        key = load_or_create_vapid_key(self._data_dir)
        clock = RealtimeClock()
        sender = PushSender(key, subject=vapid_subject(self._environ), clock=clock)
        n = self._settings.notifications
        policy = EndpointPolicy(n.push_hosts, allow_loopback=n.allow_loopback_push)
        return Notifier(bus, PushStore(engine), sender, key, clock, endpoints=policy)

    def _announce_stopping(self, status: DaemonStatus, control: TradingControl) -> None:
        """Health turns unhealthy, the API refuses new orders, systemd hears ``STOPPING=1``."""
        status.stopping = True
        control.stop_accepting()
        self.notifier.stopping()

    def _lose_account_lock(self) -> None:
        """Another daemon took a trading lock: stop at once, exit code 3."""
        self.lost_account_lock = True
        self.request_stop()
