"""The aiohttp application: middlewares, routes and lifecycle hooks, wired from collaborators.

The middlewares :func:`create_app` installs, outermost first, and why in that order:

1. ``logging_middleware`` (:mod:`~forexbot.api.middleware`): a request id and one log line per
   request, with the final status of everything, errors included;
2. ``error_middleware`` (:mod:`~forexbot.api.errors`): every exception below becomes the JSON
   error body with its status; a bug is a logged 500, never a stack trace to the client;
3. the CORS middleware (:class:`~forexbot.api.cors.Cors`): preflights answered before
   authentication (a preflight carries no token);
4. ``ip_limit_middleware`` (:mod:`~forexbot.api.ratelimit`): the per-address token bucket, 429
   before anything costly, so a flood is not a flood of audit writes;
5. ``request_audit_middleware`` (:mod:`~forexbot.api.audit`): every state-changing request in
   ``system_logs``, refusals from the layers below included, with the status the client got;
6. ``text_middleware`` (:mod:`~forexbot.api.validation`): the text rule on the path, path and
   query parameters and credential headers, before anything reads them (and after the audit,
   which records the refusal);
7. ``auth_middleware`` (:mod:`~forexbot.api.auth`): token or API key, roles, login-session-only
   routes and the admin allow-list, decided before any handler and any WebSocket upgrade;
8. ``user_limit_middleware`` (:mod:`~forexbot.api.ratelimit`): the per-user token bucket, once
   the user is known.

Security and CORS headers are added in ``on_response_prepare`` so every response gets them.
Every route's ``Expect`` handler is :func:`expect_continue_only`. The WebSocket broadcaster
subscribes to the bus on start-up and closes its clients (1001) on shutdown, before aiohttp
waits for in-flight handlers, so stopping is prompt.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta

from aiohttp import hdrs, web
from aiohttp.http import HttpVersion11

from forexbot import __version__
from forexbot.api.audit import request_audit_middleware
from forexbot.api.auth import auth_middleware
from forexbot.api.cors import Cors
from forexbot.api.errors import error_middleware
from forexbot.api.middleware import add_security_headers, logging_middleware
from forexbot.api.ports import ApiServices
from forexbot.api.ratelimit import (
    Limit,
    RateLimiters,
    TokenBuckets,
    ip_limit_middleware,
    login_limit,
    user_limit_middleware,
)
from forexbot.api.responses import error_body, json_response
from forexbot.api.routes.account import AccountRoutes
from forexbot.api.routes.api_keys import ApiKeyRoutes
from forexbot.api.routes.app_shell import AppShellRoutes, app_dir
from forexbot.api.routes.backtests import BacktestRoutes
from forexbot.api.routes.backup import BackupRoutes
from forexbot.api.routes.docs import DocsRoutes
from forexbot.api.routes.login import LoginRoutes
from forexbot.api.routes.market import MarketDataRoutes, MarketRoutes
from forexbot.api.routes.metrics import MetricsRoutes
from forexbot.api.routes.notifications import NotificationRoutes
from forexbot.api.routes.passwords import PasswordRoutes
from forexbot.api.routes.performance import PerformanceRoutes
from forexbot.api.routes.restart import RestartRoutes
from forexbot.api.routes.risk import RiskRoutes
from forexbot.api.routes.settings import SettingsRoutes
from forexbot.api.routes.signals import SignalRoutes
from forexbot.api.routes.strategies import StrategyRoutes
from forexbot.api.routes.streams import StreamRoutes
from forexbot.api.routes.system import SystemRoutes
from forexbot.api.routes.trade_actions import TradeActionRoutes
from forexbot.api.routes.trading import TradingRoutes
from forexbot.api.routes.users import UserRoutes
from forexbot.api.sessions import RevokedSessions
from forexbot.api.tokens import JwtKeys, TokenService
from forexbot.api.validation import text_middleware
from forexbot.api.websockets import Broadcaster
from forexbot.api.ws_performance import PerformanceFeed
from forexbot.api.ws_system import SystemFeed
from forexbot.config.models import ApiSettings

BROADCASTER_KEY = web.AppKey("forexbot_broadcaster", Broadcaster)
TOKENS_KEY = web.AppKey("forexbot_tokens", TokenService)


RATE_LIMITERS_KEY = web.AppKey("forexbot_rate_limiters", RateLimiters)


async def expect_continue_only(request: web.Request) -> web.StreamResponse | None:
    """The routes' ``Expect`` handler: ``100-continue`` as aiohttp does it; anything else
    is 417 in the API's error body. aiohttp's own answer (text echoing the header) would be
    sent before any middleware could reword it."""
    if request.headers.get(hdrs.EXPECT, "").lower() == "100-continue":
        if request.version == HttpVersion11:
            await request.writer.write(b"HTTP/1.1 100 Continue\r\n\r\n")
            request.writer.output_size = 0  # the answer proper has not started
        return None
    body = error_body("expectation_failed", "only 'Expect: 100-continue' is supported")
    return json_response(body, status=417)


def _add_routes(app: web.Application, routes: Iterable[web.RouteDef]) -> None:
    """Add ``routes``, each with :func:`expect_continue_only` as its ``Expect`` handler."""
    app.add_routes(
        [
            web.RouteDef(
                r.method, r.path, r.handler, {**r.kwargs, "expect_handler": expect_continue_only}
            )
            for r in routes
        ]
    )


def create_app(services: ApiServices, settings: ApiSettings, keys: JwtKeys) -> web.Application:
    """Build the API application. Does no I/O; start-up work runs in ``on_startup``."""
    tokens = TokenService(
        keys.secret,
        settings.access_token_ttl_seconds,
        services.wall_clock,
        previous=keys.previous,
    )
    cors = Cors(settings.cors_allow_origins)
    system_feed = SystemFeed(
        services.status, services.clock, interval=settings.ws_status_interval_seconds
    )
    performance_feed = PerformanceFeed(
        services.performance,
        services.account,
        services.clock,
        interval=settings.ws_performance_interval_seconds,
        periods=settings.ws_performance_periods,
    )
    broadcaster = Broadcaster(
        services.bus,
        queue_size=settings.ws_queue_size,
        trade_backlog=settings.ws_trade_backlog,
        close_timeout=settings.ws_close_timeout_seconds,
        max_clients=settings.ws_max_clients,
        feeds=(performance_feed, system_feed),
        wall_clock=services.wall_clock,
        expiry_check_seconds=settings.ws_expiry_check_seconds,
    )
    sessions = RevokedSessions(services.wall_clock, settings.access_token_ttl_seconds)
    sessions.listen(broadcaster.end_session)  # an ended session's WebSockets close too
    clock = services.wall_clock
    per_ip = TokenBuckets(Limit(settings.ip_rate_per_second, settings.ip_burst), clock)
    per_user = TokenBuckets(Limit(settings.user_rate_per_second, settings.user_burst), clock)
    login_attempts = TokenBuckets(login_limit(settings.login_attempts_per_minute), clock)
    login = LoginRoutes(
        services.users,
        services.system_logs,
        tokens,
        services.wall_clock,
        lock_after=settings.login_lock_after,
        lock_for=timedelta(seconds=settings.login_lock_seconds),
        refresh=services.refresh_tokens,
        sessions=sessions,
        attempts=login_attempts,
        mfa=services.mfa,
        failures=services.login_failures,
    )

    app = web.Application(
        client_max_size=settings.max_body_bytes,
        middlewares=[
            logging_middleware,
            error_middleware,
            cors.middleware(),
            ip_limit_middleware(per_ip),
            request_audit_middleware(services.system_logs),
            text_middleware,
            auth_middleware(
                tokens, sessions, services.api_keys, admin_networks=settings.admin_networks
            ),
            user_limit_middleware(per_user),
        ],
    )
    app[BROADCASTER_KEY] = broadcaster
    app[TOKENS_KEY] = tokens
    app[RATE_LIMITERS_KEY] = RateLimiters(per_ip, per_user, login_attempts)
    passwords = PasswordRoutes(
        services.users,
        services.system_logs,
        services.refresh_tokens,
        sessions,
        lock_after=settings.login_lock_after,
        lock_for=timedelta(seconds=settings.login_lock_seconds),
        failures=services.login_failures,
    )
    users = UserRoutes(
        services.users,
        services.system_logs,
        sessions,
        refresh=services.refresh_tokens,
        api_keys=services.api_keys,
        mfa=services.mfa,
        on_keys_revoked=broadcaster.end_api_keys,
    )
    signals = SignalRoutes(services.bus)  # the ring of recent signals listens while we run
    signals.recent.listen(broadcaster.signal_decided)  # decisions follow on /ws/signals
    for group in (
        DocsRoutes(__version__),
        SystemRoutes(services.status),
        login,
        passwords,
        users,
        TradingRoutes(services.trades, services.positions),
        StreamRoutes(broadcaster, settings, services.market),
        AppShellRoutes(app_dir(settings)),
        signals,
    ):
        _add_routes(app, group.routes())
    if services.metrics is not None:
        _add_routes(app, MetricsRoutes(services.metrics).routes())
    if services.trading is not None:
        _add_routes(app, TradeActionRoutes(services.trading, services.system_logs).routes())
        _add_routes(app, RiskRoutes(services.trading, services.system_logs).routes())
    if services.strategies is not None:
        _add_routes(app, StrategyRoutes(services.strategies, services.system_logs).routes())
        _add_routes(app, MarketRoutes(services.strategies).routes())
    if services.market is not None:
        _add_routes(app, MarketDataRoutes(services.market).routes())
    if services.backups is not None:
        _add_routes(app, BackupRoutes(services.backups, services.system_logs).routes())
    if services.performance is not None:
        _add_routes(app, PerformanceRoutes(services.performance).routes())
    if services.equity is not None:
        _add_routes(app, AccountRoutes(services.equity).routes())
    if services.api_keys is not None:
        _add_routes(
            app,
            ApiKeyRoutes(
                services.api_keys,
                services.system_logs,
                services.wall_clock,
                on_revoked=broadcaster.end_api_keys,
            ).routes(),
        )
    if services.backtests is not None:
        _add_routes(app, BacktestRoutes(services.backtests, services.system_logs).routes())
    if services.system_settings is not None:
        _add_routes(app, SettingsRoutes(services.system_settings, services.system_logs).routes())
    if services.restart is not None:
        _add_routes(app, RestartRoutes(services.restart, services.system_logs).routes())
    if services.notifications is not None:
        _add_routes(app, NotificationRoutes(services.notifications, services.system_logs).routes())

    app.on_response_prepare.append(add_security_headers)
    app.on_response_prepare.append(cors.on_response_prepare)
    app.on_startup.append(login.on_startup)
    app.on_startup.append(signals.on_startup)
    app.on_shutdown.append(signals.on_shutdown)

    async def start_broadcaster(_: web.Application) -> None:
        broadcaster.start()

    async def stop_broadcaster(_: web.Application) -> None:
        await broadcaster.stop()

    app.on_startup.append(start_broadcaster)
    app.on_shutdown.append(stop_broadcaster)
    return app
