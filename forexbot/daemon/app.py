"""The composition root: builds every component with its collaborators and runs the daemon.

Start order follows the dependencies — database (embedded or ``DATABASE_URL``) and migrations,
event bus, clock and terminal, connector, strategies, risk, execution, positions, API — and stop
order is the reverse, so that on SIGTERM:

1. systemd is told ``STOPPING=1`` and ``/api/health`` turns unhealthy;
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
import contextlib
import faulthandler
import os
import signal
import socket
import ssl
import time
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import structlog

from forexbot.api.app import RATE_LIMITERS_KEY, create_app
from forexbot.api.jwt_secret import load_or_create_jwt_secret, previous_jwt_secrets
from forexbot.api.listen import bind_listeners, tls_context
from forexbot.api.listen import close_all as close_listeners
from forexbot.api.login_failures import LoginFailures
from forexbot.api.mfa import Mfa
from forexbot.api.ports import ApiServices
from forexbot.api.server import ApiServer
from forexbot.api.settings import ApiSettings
from forexbot.backtest.jobs import BacktestJobs
from forexbot.backtest.service import DaemonBacktests
from forexbot.clock import RealtimeClock
from forexbot.config.loader import load_strategy_instances
from forexbot.config.models import Settings
from forexbot.connectors.backends import open_terminal
from forexbot.connectors.connector import MT5Connector
from forexbot.connectors.market_query import MarketQuery
from forexbot.connectors.worker import TerminalWorker
from forexbot.daemon.instance_lock import DataDirLock
from forexbot.daemon.provision import ProvisionedDatabase, provision_database
from forexbot.daemon.restart import RestartSwitch, restart_mode
from forexbot.daemon.sdnotify import SystemdNotifier
from forexbot.daemon.system_settings import SystemSettings, rate_limits_applier, set_log_level
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
    account_lock_name,
    database_lock_name,
    maintenance_url,
)
from forexbot.database.users import UserRepository
from forexbot.database.writers import BarWriter
from forexbot.domain.market import Timeframe
from forexbot.engine.assembly import ORDER_PATH, build_engine
from forexbot.engine.kill_latch import LATCH_FILE, KillSwitchLatch
from forexbot.errors import ConfigError, DatabaseError
from forexbot.events.bus import EventBus
from forexbot.monitoring.metrics import DaemonCollector, Metrics
from forexbot.monitoring.performance import PerformanceBook
from forexbot.monitoring.status import DaemonStatus
from forexbot.strategies.control import StrategyControl
from forexbot.strategies.instances import build_instances
from forexbot.strategies.manager import StrategyManager

_log = structlog.get_logger("forexbot.daemon.app")

#: After this many seconds of stopping, the daemon logs what every task is waiting on.
STOP_REPORT_AFTER = 10.0
#: How often the trading locks are proven held (seconds).
ACCOUNT_LOCK_CHECK = 5.0

T = TypeVar("T")


async def _step(name: str, work: Awaitable[T]) -> T:
    """Await one step of the shutdown, logging how long it took (debug)."""
    started = time.monotonic()
    result = await work
    _log.debug("shutdown step", step=name, seconds=round(time.monotonic() - started, 3))
    return result


def _report_slow_stop() -> None:
    """Log the stack of every task: a stop this slow is a bug to find."""
    stacks = {}
    for task in asyncio.all_tasks():
        frames = task.get_stack(limit=8)
        stacks[task.get_name()] = [
            f"{f.f_code.co_filename}:{f.f_lineno} {f.f_code.co_name}" for f in frames
        ]
    _log.error("the daemon is slow to stop", after_seconds=STOP_REPORT_AFTER, tasks=stacks)
    faulthandler.dump_traceback(all_threads=True)  # the threads too (the terminal worker)


async def _end(task: asyncio.Task[None] | None) -> None:
    """Cancel a background task and wait for it; whatever it died of is logged, never raised
    (the stop sequence must run in full)."""
    if task is None:
        return
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    except Exception:
        _log.exception("a background task had failed", task=task.get_name())


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
        account lock (another daemon on this account, through any database of the server)."""
        s = self._settings
        try:
            self._data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        except OSError as exc:
            raise ConfigError(
                f"the data directory {self._data_dir} cannot be created: {exc.strerror}"
            ) from None
        stack = contextlib.AsyncExitStack()
        loop = asyncio.get_running_loop()
        try:
            instance = DataDirLock(self._data_dir)
            try:
                instance.acquire()
            except OSError as exc:
                raise ConfigError(
                    f"the data directory {self._data_dir} is not writable: {exc.strerror}"
                ) from None
            stack.callback(instance.release)
            listeners = bind_listeners(s.api.host, s.api.port)
            stack.callback(close_listeners, listeners)
            tls = tls_context(s.api.tls_certificate, s.api.tls_key)
            for signum in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(signum, self.request_stop)
                stack.callback(loop.remove_signal_handler, signum)

            _log.info("starting", data_dir=str(self._data_dir), mode=s.mode)
            provisioned = await asyncio.to_thread(provision_database, self._data_dir, self._environ)
            stack.callback(provisioned.stop)
            book = AdvisoryLock(provisioned.url, database_lock_name(s.terminal.magic))
            await book.acquire()
            stack.push_async_callback(book.release)
            database = Database(provisioned.url, pool_size=s.database.pool_size)
            await database.connect()
            stack.push_async_callback(database.close)
            await self._run_with_database(
                database, provisioned, Listening(listeners, tls), [book], stack
            )
        finally:
            await stack.aclose()
            _log.info("stopped")

    async def _run_with_database(
        self,
        database: Database,
        provisioned: ProvisionedDatabase,
        listening: Listening,
        locks: list[AdvisoryLock],
        stack: contextlib.AsyncExitStack,
    ) -> None:
        engine = database.engine
        config_store = SystemConfigRepository(engine)
        # Settings changed at run time (PUT /api/system/settings) win over the files.
        system_settings = SystemSettings(
            self._settings,
            config_store,
            appliers={
                "logging": set_log_level,
                "api": rate_limits_applier(lambda: api_app[RATE_LIMITERS_KEY]),
            },
            risk=lambda: trading.risk.settings,
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
        stack.push_async_callback(worker.stop)

        strategy_configs = StrategyConfigRepository(engine)
        instances = build_instances(
            load_strategy_instances(s), await strategy_configs.all(), s.watchlist
        )
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
        )
        strategies = StrategyManager(
            instances,
            connector,
            bus,
            defer_to=lambda: bus.busy(*ORDER_PATH),
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
        )
        risk, execution, positions = trading.risk, trading.execution, trading.positions
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
        login_failures = LoginFailures()
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
            )
        )
        for component in (strategies, trading, bar_writer):
            component.subscribe()

        api_settings = ApiSettings(
            host=s.api.host,
            port=s.api.port,
            jwt_secret=load_or_create_jwt_secret(self._data_dir, self._environ),
            jwt_previous_secrets=previous_jwt_secrets(self._environ),
            access_token_ttl_seconds=s.api.access_token_ttl_seconds,
            refresh_token_ttl_seconds=s.api.refresh_token_ttl_seconds,
            ip_rate_per_second=s.api.ip_rate_per_second,
            ip_burst=s.api.ip_burst,
            user_rate_per_second=s.api.user_rate_per_second,
            user_burst=s.api.user_burst,
            login_attempts_per_minute=s.api.login_attempts_per_minute,
            admin_networks=s.api.admin_networks,
            cors_allow_origins=s.api.cors_allow_origins,
            tls_certificate=s.api.tls_certificate,
            tls_key=s.api.tls_key,
            max_body_bytes=s.api.max_body_bytes,
            ws_performance_interval_seconds=s.api.ws_performance_interval_seconds,
            ws_status_interval_seconds=s.api.ws_status_interval_seconds,
        )
        backtests = DaemonBacktests(
            BacktestJobs(workers=s.backtest.workers, max_active=s.backtest.max_active),
            strategy_control,
            lambda: risk.settings,
            s.terminal,
            market_data,
        )
        stack.push_async_callback(backtests.close)
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
            ),
            mfa=Mfa(
                users,
                Sealer(load_or_create_data_key(self._data_dir, self._environ)),
                RealtimeClock(),
            ),
            system_settings=system_settings,
            restart=self.restart,
        )
        api_app = create_app(services, api_settings)
        api = ApiServer(api_app, api_settings, sockets=listening.sockets, ssl_context=listening.tls)
        await api.prepare()  # its start-up hooks run before anything can trade
        stack.push_async_callback(api.stop)

        bus.start()
        await connector.start()
        stack.push_async_callback(connector.close)
        if s.terminal.backend != "simulator":  # the paper account is the data directory's
            locks.append(await self._lock_account(provisioned.url, connector, stack))
        await strategies.warm_up()
        await trading.start()
        await api.start()
        _log.info(
            "forexbot ready",
            api=f"http://{s.api.host}:{api.bound_port}",
            symbols=list(s.watchlist),
            strategies=[i.key for i in instances if i.enabled],
            sim_speed=s.terminal.sim_speed,
            database=provisioned.description,
        )
        self.notifier.ready(f"trading {len(s.watchlist)} symbols")
        watchdog = self._start_watchdog(status)
        lock_watch = asyncio.get_running_loop().create_task(
            self._watch_locks(locks), name="trading-locks"
        )
        await self._stop.wait()

        _log.info("stopping")
        status.stopping = True
        trading.control.stop_accepting()  # the API refuses new orders from now on
        self.notifier.stopping()
        for task in (watchdog, lock_watch):
            await _end(task)
        # A stop that hangs says where: the stack of every task, once, after this long.
        slow = asyncio.get_running_loop().call_later(STOP_REPORT_AFTER, _report_slow_stop)
        try:
            await _step("polling stopped", connector.stop_polling())
            strategies.stop()  # bars still queued would only produce stale signals
            await _step("market data flushed", bar_writer.flush())
            # Orders in flight settle within this; the whole stop stays under systemd's goal.
            undelivered = await _step("event bus drained", bus.close(timeout=8.0))
            if undelivered:
                _log.error("events left undelivered at shutdown", undelivered=undelivered)
            await _step("position sync stopped", positions.stop())
            with contextlib.suppress(Exception):
                await _step("last reconciliation", positions.sync())
            await _step("market data writer closed", bar_writer.close())
            await _step("api stopped", api.stop())
        finally:
            slow.cancel()

    async def _lock_account(
        self, url: str, connector: MT5Connector, stack: contextlib.AsyncExitStack
    ) -> AdvisoryLock:
        """Take the lock of the account the terminal is logged into, server-wide (see
        :mod:`~forexbot.database.trading_locks`); before reconciliation or any strategy."""
        server, login = await connector.account_identity()
        name = account_lock_name(server, login, self._settings.terminal.magic)
        lock = AdvisoryLock(maintenance_url(url), name)
        try:
            await lock.acquire()
        except DatabaseError as exc:
            _log.warning(
                "the account lock cannot cover the whole PostgreSQL server: only this database",
                error=str(exc),
            )
            lock = AdvisoryLock(url, name)
            await lock.acquire()
        stack.push_async_callback(lock.release)
        return lock

    async def _watch_locks(self, locks: list[AdvisoryLock]) -> None:
        """Every ``ACCOUNT_LOCK_CHECK`` seconds, prove each trading lock is still held (see
        :mod:`~forexbot.database.trading_locks`); lost to another daemon, this one stops
        trading at once, with exit code 3. A check that cannot tell (the database away, a
        stuck connection) is logged and tried again: without the database no order can be
        sent anyway (its intent is written first)."""
        while True:
            await asyncio.sleep(ACCOUNT_LOCK_CHECK)
            for lock in locks:
                try:
                    held = await asyncio.wait_for(lock.check(), ACCOUNT_LOCK_CHECK)
                except (DatabaseError, TimeoutError) as exc:
                    _log.warning("a trading lock cannot be checked", lock=lock.name, error=str(exc))
                    continue
                except Exception:
                    _log.exception("a trading lock check failed", lock=lock.name)
                    continue
                if not held:
                    self.lost_account_lock = True
                    self.request_stop()
                    return

    def _start_watchdog(self, status: DaemonStatus) -> asyncio.Task[None] | None:
        interval = self.notifier.watchdog_interval
        if interval is None:
            return None

        async def ping() -> None:
            # The watchdog proves the event loop is alive, nothing more: a broker outage is
            # not a reason for systemd to kill the daemon mid-order (health reports it).
            said = "healthy"  # READY's own status stands until something changes
            while True:
                healthy, details = status.is_healthy()
                self.notifier.watchdog()
                if not healthy:
                    words = f"unhealthy: terminal {details.get('terminal')}"
                elif details.get("problems"):
                    words = f"degraded: {details['problems'][0]}"
                else:
                    words = "healthy"
                if words != said:
                    self.notifier.status(words)  # what `systemctl status` shows
                    said = words
                await asyncio.sleep(interval)

        return asyncio.get_running_loop().create_task(ping(), name="watchdog")
