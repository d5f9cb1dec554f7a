"""Running the API application: listen, and stop promptly.

:class:`ApiServer` owns an aiohttp ``AppRunner`` and one ``TCPSite``. ``stop`` closes the
WebSocket clients with 1001 "server shutting down", then waits at most
``ApiSettings.shutdown_timeout_seconds`` for in-flight requests. aiohttp's access log is off:
:mod:`forexbot.api.middleware` writes one structured line per request instead.
"""

from __future__ import annotations

import ssl

import structlog
from aiohttp import web

from forexbot.api.services import ApiSettings
from forexbot.errors import ConfigError

_log = structlog.get_logger("forexbot.api")


class ApiServer:
    """Serves ``app`` (from :func:`forexbot.api.app.create_app`) where ``settings`` say.

    Listening settings are read from ``settings`` (host, port, shutdown timeout); routes may
    still be added to ``app`` until :meth:`start`, when aiohttp freezes it.
    """

    def __init__(self, app: web.Application, settings: ApiSettings) -> None:
        self._settings = settings
        self._app = app
        self._runner: web.AppRunner | None = None
        self._port: int | None = None

    @property
    def app(self) -> web.Application:
        return self._app

    @property
    def bound_port(self) -> int:
        """The port actually listened on (useful with ``port=0``); only while started."""
        if self._port is None:
            raise RuntimeError("the API server is not started")
        return self._port

    async def start(self) -> None:
        """Run start-up hooks and start listening."""
        if self._runner is not None:
            raise RuntimeError("the API server is already started")
        runner = web.AppRunner(
            self._app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self._settings.shutdown_timeout_seconds,
        )
        await runner.setup()
        try:
            site = web.TCPSite(
                runner, self._settings.host, self._settings.port, ssl_context=self._tls()
            )
            await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        _log.info("api listening", host=self._settings.host, port=self._port)

    def _tls(self) -> ssl.SSLContext | None:
        """The server's TLS context when a certificate and key are configured (TLS 1.2+)."""
        certificate, key = self._settings.tls_certificate, self._settings.tls_key
        if certificate is None or key is None:
            return None
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        try:
            context.load_cert_chain(certificate, key)
        except (OSError, ssl.SSLError) as exc:
            raise ConfigError(f"cannot load the TLS certificate {certificate}: {exc}") from None
        return context

    async def stop(self) -> None:
        """Close WebSockets (1001), finish in-flight requests, stop listening. Idempotent."""
        runner, self._runner, self._port = self._runner, None, None
        if runner is None:
            return
        await runner.cleanup()
        _log.info("api stopped")
