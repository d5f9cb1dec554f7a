"""Running the API application: listen, and stop promptly.

:class:`ApiServer` owns an aiohttp ``AppRunner`` and one ``TCPSite``. ``stop`` closes the
WebSocket clients with 1001 "server shutting down", then waits at most
``ApiSettings.shutdown_timeout_seconds`` for in-flight requests. aiohttp's access log is off:
:mod:`forexbot.api.middleware` writes one structured line per request instead.

**What aiohttp answers by itself.** A request its HTTP parser refuses (a bare CR in a header,
an invalid method, a line or header too long...) never reaches the application: no middleware
and no ``on_response_prepare`` hook runs, and aiohttp's ``RequestHandler.handle_error``
answers with its own text body and ``Server: Python/3.x aiohttp/3.x`` — the versions the API
promises never to advertise. The same method answers an exception that escapes every
middleware (500) or a handler timeout (504). aiohttp 3.14 has no option for this (aio-libs/
aiohttp#6463, #3287), so the runner makes its connections with :class:`_Protocol`, whose
``handle_error`` answers with the API's JSON error body, ``Server: forexbot``, the security
headers, and one structured log line instead of aiohttp's traceback. The plumbing is
aiohttp's own extension points: ``AppRunner._make_server`` (the hook ``BaseRunner`` leaves to
its subclasses) and a ``web.Server`` whose connections are of a ``RequestHandler`` subclass;
nothing is patched globally. The raw-socket tests in ``tests/api`` fail if an aiohttp upgrade
breaks it.
"""

from __future__ import annotations

import socket
import ssl
from collections.abc import Sequence
from http import HTTPStatus

import structlog
from aiohttp import web

from forexbot.api.listen import tls_context
from forexbot.api.middleware import set_security_headers
from forexbot.api.responses import error_body, json_response
from forexbot.config.models import ApiSettings

_log = structlog.get_logger("forexbot.api")

#: The error code and message of what aiohttp answers by itself, by status. The parser's own
#: message is logged, never echoed: it quotes the client's bytes.
_PROTOCOL_ERRORS = {
    400: ("bad_request", "the request is not valid HTTP"),
    500: ("internal_error", "internal server error"),
    504: ("timeout", "the request took too long"),
}


class _Protocol(web.RequestHandler):
    """aiohttp's connection handler, answering its own errors as the API does."""

    __slots__ = ()

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        """The JSON error body, ``Server: forexbot`` and the security headers; the
        connection closes afterwards, as aiohttp's own answer does."""
        if request.writer.output_size > 0:  # as aiohttp: the answer had begun, nothing to send
            raise ConnectionError("the response had begun; cannot send an error instead")
        if status >= 500:
            _log.error(
                "http request failed outside the application",
                status=status,
                remote=request.remote,
                exc_info=exc,
            )
        else:
            _log.info(
                "http request refused by the parser",
                status=status,
                reason=message or (str(exc) if exc is not None else None),
                remote=request.remote,
            )
        code, text = _PROTOCOL_ERRORS.get(status, ("client_error", HTTPStatus(status).phrase))
        response = json_response(error_body(code, text), status=status)
        set_security_headers(request, response)
        response.headers["Cache-Control"] = "no-store"
        response.force_close()
        return response


class _Server(web.Server):
    """The application's ``web.Server``, making :class:`_Protocol` connections."""

    @classmethod
    def like(cls, server: web.Server) -> _Server:
        """A server doing what ``server`` does (same handler, request factory, options)."""
        return cls(
            server.request_handler,
            request_factory=server.request_factory,
            handler_cancellation=server.handler_cancellation,
            **server._kwargs,
        )

    def __call__(self) -> web.RequestHandler:
        return _Protocol(self, loop=self._loop, **self._kwargs)


class _AppRunner(web.AppRunner):
    """An ``AppRunner`` serving through :class:`_Server`."""

    async def _make_server(self) -> web.Server:
        return _Server.like(await super()._make_server())


class ApiServer:
    """Serves ``app`` (from :func:`forexbot.api.app.create_app`) where ``settings`` say, or
    on ``sockets`` already listening (:func:`forexbot.api.listen.bind_listeners`: the daemon
    takes its port before anything can trade).

    Listening settings are read from ``settings`` (host, port, shutdown timeout); routes may
    still be added to ``app`` until :meth:`start`, when aiohttp freezes it.
    """

    def __init__(
        self,
        app: web.Application,
        settings: ApiSettings,
        *,
        sockets: Sequence[socket.socket] = (),
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._settings = settings
        self._app = app
        self._sockets = tuple(sockets)
        # Loaded now, not at start: a bad certificate must stop the daemon before it trades.
        self._tls_context = (
            tls_context(settings.tls_certificate, settings.tls_key)
            if ssl_context is None
            else ssl_context
        )
        self._prepared: web.AppRunner | None = None
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

    async def prepare(self) -> None:
        """Run the application's start-up hooks, without serving yet: the daemon does this
        before its terminal and engine start, so a failing hook stops it before it trades."""
        if self._prepared is not None:
            return
        runner = _AppRunner(
            self._app,
            access_log=None,
            handle_signals=False,
            shutdown_timeout=self._settings.shutdown_timeout_seconds,
        )
        await runner.setup()
        self._prepared = runner

    async def start(self) -> None:
        """Run start-up hooks (unless :meth:`prepare` did) and start listening."""
        if self._runner is not None:
            raise RuntimeError("the API server is already started")
        await self.prepare()
        runner = self._prepared
        assert runner is not None
        self._prepared = None
        try:
            tls = self._tls_context
            sites: list[web.BaseSite] = [
                web.SockSite(runner, sock, ssl_context=tls) for sock in self._sockets
            ] or [web.TCPSite(runner, self._settings.host, self._settings.port, ssl_context=tls)]
            for site in sites:
                await site.start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        address = runner.addresses[0]
        self._port = int(address[1])
        _log.info("api listening", host=self._settings.host, port=self._port)

    async def stop(self) -> None:
        """Close WebSockets (1001), finish in-flight requests, stop listening. Idempotent."""
        if self._prepared is not None:  # prepared, never served: its hooks still clean up
            prepared, self._prepared = self._prepared, None
            await prepared.cleanup()
        runner, self._runner, self._port = self._runner, None, None
        if runner is None:
            return
        await runner.cleanup()
        _log.info("api stopped")
