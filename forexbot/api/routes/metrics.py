"""``GET /metrics``: Prometheus' text exposition.

Public like ``/api/health`` (a scraper has no user), which is why the daemon exports only
operational figures there — counts, states, queue depths — never money.
"""

from __future__ import annotations

from typing import Protocol

from aiohttp import web

from forexbot.api.auth import public
from forexbot.api.operations import Text, operation


class MetricsSource(Protocol):
    content_type: str

    def render(self) -> bytes: ...


class MetricsRoutes:
    """Serves the metrics of a :class:`MetricsSource`."""

    def __init__(self, source: MetricsSource) -> None:
        self._source = source

    def routes(self) -> list[web.RouteDef]:
        return [web.get("/metrics", self.metrics)]

    @public
    @operation(
        "Prometheus metrics",
        tag="monitoring",
        responses={200: Text("text/plain", "Prometheus text exposition format 0.0.4.")},
    )
    async def metrics(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._source.render())
        response.headers["Content-Type"] = self._source.content_type
        return response
