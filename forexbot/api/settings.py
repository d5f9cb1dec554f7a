"""How the API listens and what it tolerates."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field

from forexbot.api.ports import PERFORMANCE_PERIODS
from forexbot.api.tokens import MIN_SECRET_LENGTH
from forexbot.errors import ConfigError


@dataclass(frozen=True, slots=True, kw_only=True)
class ApiSettings:
    """How the API listens and what it tolerates (keyword-only; checked on construction).

    * ``host``/``port``: where to listen; loopback by default (put a TLS reverse proxy in front
      to expose it). Port 0 picks a free port (see ``ApiServer.bound_port``).
    * ``jwt_secret``: HS256 key, at least 32 characters; never shown in ``repr``.
    * ``max_body_bytes``: larger request bodies get 413.
    * ``cors_allow_origins``: browser origins allowed to call the API (exact match, e.g.
      ``https://dash.example.com``); empty means same-origin only.
    * ``shutdown_timeout_seconds``: how long ``ApiServer.stop`` waits for in-flight requests.
    * ``ws_heartbeat_seconds``: ping interval; a client not answering is disconnected.
    * ``ws_close_timeout_seconds``: how long a close handshake may take before the connection
      is dropped.
    * ``ws_max_clients``: connections beyond it get 503 (each client costs a task and a queue).
    * ``ws_queue_size``: per-client quotes buffered before coalescing to the latest per symbol.
    * ``ws_trade_backlog``: trade messages a client may have pending before it is disconnected
      (trades are never dropped, so a client that cannot keep up must reconnect and reload).
    * ``ws_max_message_bytes``: largest message a client may send (only small control
      messages are expected).
    * ``ws_expiry_check_seconds``: how often WebSockets opened with an access token that has
      expired since are closed (1008), so the client reconnects with a fresh token.
    * ``ws_performance_interval_seconds``: how often ``/ws/performance`` sends fresh account
      figures (it also sends after every closed trade); ``ws_performance_periods``: the
      performance periods its snapshots hold.
    * ``ws_status_interval_seconds``: how often ``/ws/system`` sends the status snapshot.
    * ``login_lock_after``/``login_lock_seconds``: after that many consecutive wrong
      passwords an account is locked for that long (slows down password guessing).
    * ``ip_rate_per_second``/``ip_burst``, ``user_rate_per_second``/``user_burst``: token
      buckets per source address and per user (:mod:`forexbot.api.ratelimit`);
      ``login_attempts_per_minute``: logins per source address (the burst is one minute's).
    * ``refresh_token_ttl_seconds``: how long a session lasts without a new login.
    * ``admin_networks``: when set, admin-only routes answer only these addresses/CIDRs.
    * ``tls_certificate``/``tls_key``: PEM files; when set the API speaks HTTPS itself.
    """

    host: str = "127.0.0.1"
    port: int = 8080
    jwt_secret: str = field(repr=False)
    jwt_previous_secrets: tuple[str, ...] = field(default=(), repr=False)
    access_token_ttl_seconds: int = 3600
    refresh_token_ttl_seconds: int = 30 * 86_400
    max_body_bytes: int = 1024 * 1024
    cors_allow_origins: tuple[str, ...] = ()
    shutdown_timeout_seconds: float = 5.0
    ws_heartbeat_seconds: float = 20.0
    ws_close_timeout_seconds: float = 2.0
    ws_max_clients: int = 200
    ws_queue_size: int = 256
    ws_trade_backlog: int = 1000
    ws_max_message_bytes: int = 16 * 1024
    ws_expiry_check_seconds: float = 5.0
    ws_performance_interval_seconds: float = 5.0
    ws_performance_periods: tuple[str, ...] = PERFORMANCE_PERIODS
    ws_status_interval_seconds: float = 15.0
    login_lock_after: int = 5
    login_lock_seconds: int = 900
    ip_rate_per_second: float = 50.0
    ip_burst: int = 200
    user_rate_per_second: float = 20.0
    user_burst: int = 100
    login_attempts_per_minute: float = 10.0
    admin_networks: tuple[str, ...] = ()
    tls_certificate: str | None = None
    tls_key: str | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if len(self.jwt_secret) < MIN_SECRET_LENGTH:
            raise ConfigError(
                f"api.jwt_secret must be at least {MIN_SECRET_LENGTH} characters, "
                f"got {len(self.jwt_secret)}"
            )
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"api.port must be in 0..65535, got {self.port}")
        positive: Mapping[str, float] = {
            "access_token_ttl_seconds": self.access_token_ttl_seconds,
            "refresh_token_ttl_seconds": self.refresh_token_ttl_seconds,
            "max_body_bytes": self.max_body_bytes,
            "shutdown_timeout_seconds": self.shutdown_timeout_seconds,
            "ws_heartbeat_seconds": self.ws_heartbeat_seconds,
            "ws_close_timeout_seconds": self.ws_close_timeout_seconds,
            "ws_max_clients": self.ws_max_clients,
            "ws_queue_size": self.ws_queue_size,
            "ws_trade_backlog": self.ws_trade_backlog,
            "ws_max_message_bytes": self.ws_max_message_bytes,
            "ws_expiry_check_seconds": self.ws_expiry_check_seconds,
            "ws_performance_interval_seconds": self.ws_performance_interval_seconds,
            "ws_status_interval_seconds": self.ws_status_interval_seconds,
            "login_lock_after": self.login_lock_after,
            "login_lock_seconds": self.login_lock_seconds,
            "ip_rate_per_second": self.ip_rate_per_second,
            "ip_burst": self.ip_burst,
            "user_rate_per_second": self.user_rate_per_second,
            "user_burst": self.user_burst,
            "login_attempts_per_minute": self.login_attempts_per_minute,
        }
        for name, value in positive.items():
            if value <= 0:
                raise ConfigError(f"api.{name} must be > 0, got {value}")
        periods = self.ws_performance_periods
        if (
            not periods
            or len(set(periods)) != len(periods)
            or not set(periods) <= set(PERFORMANCE_PERIODS)
        ):
            raise ConfigError(
                f"api.ws_performance_periods must be distinct values among "
                f"{', '.join(PERFORMANCE_PERIODS)}, got {list(periods)!r}"
            )
        for network in self.admin_networks:
            try:
                ipaddress.ip_network(network, strict=False)
            except ValueError:
                raise ConfigError(
                    f"api.admin_networks entries must be addresses or CIDRs such as "
                    f"'10.0.0.0/8', got {network!r}"
                ) from None
        if (self.tls_certificate is None) != (self.tls_key is None):
            raise ConfigError("api.tls_certificate and api.tls_key go together")
        for origin in self.cors_allow_origins:
            if origin == "*" or "://" not in origin:
                raise ConfigError(
                    f"api.cors_allow_origins entries must be full origins such as "
                    f"'https://dash.example.com', got {origin!r}"
                )
