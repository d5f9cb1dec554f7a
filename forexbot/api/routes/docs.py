"""``/api/openapi.json`` and ``/api/docs``: the API describing itself.

Both are public: they say what the API accepts, nothing about the account, and a client
developer needs them before having a token. The document is built from the application's
router on first request (routes are fixed once the application runs) and kept.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web
from pydantic import BaseModel, ConfigDict

from forexbot.api.auth import public
from forexbot.api.docs_page import render_docs
from forexbot.api.middleware import PAGE_CSP
from forexbot.api.openapi import build_document
from forexbot.api.operations import Text, operation
from forexbot.api.responses import json_response


class OpenApiDocument(BaseModel):
    """The OpenAPI 3.1 document."""

    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
    components: dict[str, Any]


class DocsRoutes:
    """Serves the OpenAPI document and its reference page."""

    def __init__(self, version: str) -> None:
        self._version = version
        self._document: dict[str, Any] | None = None
        self._page: str | None = None

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/api/openapi.json", self.openapi),
            web.get("/api/docs", self.docs),
        ]

    def _built(self, app: web.Application) -> dict[str, Any]:
        if self._document is None:
            self._document = build_document(app, version=self._version)
        return self._document

    @public
    @operation("The OpenAPI 3.1 document of this API", tag="docs", responses={200: OpenApiDocument})
    async def openapi(self, request: web.Request) -> web.Response:
        return json_response(self._built(request.app))

    @public
    @operation(
        "The API reference, as a web page",
        tag="docs",
        responses={200: Text("text/html", "The reference page (no script, no external asset).")},
    )
    async def docs(self, request: web.Request) -> web.Response:
        if self._page is None:
            self._page = render_docs(self._built(request.app))
        response = web.Response(text=self._page, content_type="text/html", charset="utf-8")
        response.headers["Content-Security-Policy"] = PAGE_CSP
        return response
