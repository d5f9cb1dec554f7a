"""``/app/``: the phone app's files (the installable web app of ``mobile/``), served as they are.

Why the daemon serves them: the app needs no other server, and it is then same-origin with the
API, so its policy can allow ``'self'`` and nothing else (no CORS, no third-party origin).

Rules:

* ``/app`` redirects to ``/app/``; ``/app/`` is ``index.html``; ``/app/{path}`` is that file of
  the app directory (``api.app_dir``, by default the ``mobile/`` directory of the source
  checkout). The routes are public: the files hold no data, and the sign-in screen is one of
  them.
* Strictly inside the directory: a path with an empty, ``.``, ``..`` or hidden (dot) segment,
  a backslash, or that resolves (symlinks followed) outside the directory is not served; nor
  is a directory (no listing) or a file type the app does not use. All of these, and a missing
  file or a missing directory (the log says where it looked), are 404 in the API's JSON
  error body.
* Only the app is served, by an allow-list (:func:`is_app_path`): ``index.html``,
  ``styles.css``, ``manifest.webmanifest`` and ``sw.js`` at the top, and what is under
  ``src/`` and ``icons/``. What lives beside the app — its checks (``tests/``), their tooling
  (``node_modules/``, ``package.json``, ``tsconfig*.json``, ``eslint.config.js``), the README —
  is 404 although some of it is of a served type: a phone has no use for it, and a list of
  what to hide would miss the next tool. Reached through a symlink, too.
* Content types are set here, not guessed from the system's tables (``.js`` is
  ``text/javascript``, ``.webmanifest`` ``application/manifest+json``).
* ``Cache-Control: no-cache`` with ``ETag`` and ``Last-Modified`` (conditional requests answer
  304): a browser revalidates every file, so a new release is picked up at once.
* Text files (:data:`COMPRESSIBLE`: html, js, css, webmanifest, json, svg; images are
  compressed already) go gzip-compressed to a client whose ``Accept-Encoding`` allows it
  (``gzip`` or ``*`` with a q-value above 0; ``gzip;q=0`` is a refusal), with
  ``Content-Encoding: gzip`` and an ETag of their own (the file's, suffixed ``-gzip``: a cache
  must not mistake one encoding for the other). Every text file says ``Vary:
  Accept-Encoding``, compressed or not. Each file is compressed once, off the event loop, and
  kept in memory until it changes (keyed by its path, modification time and size: the app is a
  few hundred KB, and the cache holds one entry per file of the directory at most). A
  ``Range`` request for a compressed file gets the whole of it (a server may ignore ``Range``).
* The app's own Content-Security-Policy (:data:`APP_CSP`) replaces the API's deny-all one on
  these responses only (the other security headers stay, :mod:`forexbot.api.middleware`):
  everything from this origin, nothing inline, nothing from elsewhere. ``connect-src 'self'``
  covers the WebSockets of the same host and port (``ws:``/``wss:``, CSP level 3; the browser
  test proves it in Chromium).
* ``sw.js`` carries ``Service-Worker-Allowed: /app/``: the service worker may control the
  app and nothing else of the origin.
* Not in the OpenAPI document: these are files for a browser, not the API.
"""

from __future__ import annotations

import asyncio
import gzip
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import structlog
from aiohttp import web

import forexbot
from forexbot.api.auth import public
from forexbot.api.errors import ApiError
from forexbot.config.models import ApiSettings

#: Where the app is served.
APP_PATH = "/app/"
#: The app's Content-Security-Policy: its own files only, no inline script or style.
APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
_INDEX = "index.html"
_SERVICE_WORKER = "sw.js"
#: The file types the app is made of, and their content types.
CONTENT_TYPES: Mapping[str, str] = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".mjs": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".webmanifest": "application/manifest+json",
    ".json": "application/json",
    ".png": "image/png",
    ".svg": "image/svg+xml",
    ".webp": "image/webp",
    ".ico": "image/x-icon",
    ".woff2": "font/woff2",
}

#: The file types served gzip-compressed when the client accepts it: text (PNG, WebP, WOFF2
#: are compressed formats already).
COMPRESSIBLE = frozenset({".html", ".js", ".mjs", ".css", ".webmanifest", ".json", ".svg"})

_log = structlog.get_logger("forexbot.api.app_shell")
_QVALUE = re.compile(r"^(?:0(?:\.\d{0,3})?|1(?:\.0{0,3})?)$")
#: The app's files at the top of its directory, and its directories (everything under them).
APP_TOP_FILES = frozenset({_INDEX, "styles.css", "manifest.webmanifest", _SERVICE_WORKER})
APP_DIRECTORIES = frozenset({"src", "icons"})


def is_app_path(parts: tuple[str, ...]) -> bool:
    """Whether a path of the app directory (its segments) is part of the app: one of
    :data:`APP_TOP_FILES`, or anything below one of :data:`APP_DIRECTORIES`. Exact case."""
    if len(parts) == 1:
        return parts[0] in APP_TOP_FILES
    return len(parts) > 1 and parts[0] in APP_DIRECTORIES


def accepts_gzip(accept_encoding: str) -> bool:
    """Whether an ``Accept-Encoding`` value allows gzip (RFC 9110, 12.5.3): ``gzip`` (or
    ``x-gzip``) with a q-value above 0, or else ``*`` with one. A malformed q-value counts as
    0: when in doubt, the file goes as it is."""
    named: float | None = None
    anything: float | None = None
    for item in accept_encoding.split(","):
        coding, *params = (part.strip() for part in item.split(";"))
        weight = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                value = value.strip()
                weight = float(value) if _QVALUE.match(value) else 0.0
        coding = coding.lower()
        if coding in ("gzip", "x-gzip"):
            named = weight if named is None else max(named, weight)
        elif coding == "*":
            anything = weight
    if named is not None:
        return named > 0
    return anything is not None and anything > 0


@dataclass(frozen=True, slots=True)
class Gzipped:
    """A file's gzip variant, and the file's state it was made from."""

    mtime_ns: int
    size: int
    mtime: float
    body: bytes

    @property
    def etag(self) -> str:
        """Unquoted, like aiohttp's own for the file, plus ``-gzip``."""
        return f"{self.mtime_ns:x}-{self.size:x}-gzip"


class GzipCache:
    """Each file's gzip variant, made once per version of the file (its path, modification
    time and size). Reads and compresses in the calling thread: call it off the event loop."""

    def __init__(self, level: int = 9) -> None:
        self._level = level
        self._entries: dict[Path, Gzipped] = {}

    def get(self, path: Path) -> Gzipped:
        with path.open("rb") as file:
            st = os.fstat(file.fileno())
            cached = self._entries.get(path)
            if cached is not None and (cached.mtime_ns, cached.size) == (
                st.st_mtime_ns,
                st.st_size,
            ):
                return cached
            data = file.read()
        body = gzip.compress(data, compresslevel=self._level, mtime=0)
        made = Gzipped(st.st_mtime_ns, st.st_size, st.st_mtime, body)
        self._entries[path] = made  # one entry per file: a new version replaces the old
        return made

    def __len__(self) -> int:
        return len(self._entries)


def default_app_dir() -> Path:
    """The ``mobile/`` directory of the source checkout this package runs from."""
    return Path(forexbot.__file__).parent.parent / "mobile"


def app_dir(settings: ApiSettings) -> Path:
    """The directory served at ``/app/``: ``api.app_dir`` (a relative path is taken from the
    working directory), else :func:`default_app_dir`."""
    return Path(settings.app_dir) if settings.app_dir is not None else default_app_dir()


def _not_found(message: str) -> ApiError:
    return ApiError(404, "not_found", message)


class AppShellRoutes:
    """Serves the files of ``directory`` under ``/app/`` (rules in the module docstring)."""

    def __init__(self, directory: Path, gzipped: GzipCache | None = None) -> None:
        self._directory = directory
        self._gzipped = gzipped or GzipCache()

    def routes(self) -> list[web.RouteDef]:
        return [
            web.get("/app", self.redirect),
            web.get("/app/", self.index),
            web.get("/app/{path:.+}", self.file),
        ]

    @public
    async def redirect(self, request: web.Request) -> web.Response:
        """``/app`` → ``/app/``, so the app's relative addresses resolve under it."""
        return web.Response(status=308, headers={"Location": APP_PATH})

    @public
    async def index(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, _INDEX)

    @public
    async def file(self, request: web.Request) -> web.StreamResponse:
        return await self._serve(request, request.match_info["path"])

    async def _serve(self, request: web.Request, relative: str) -> web.StreamResponse:
        suffix = PurePosixPath(relative).suffix.lower()
        content_type = CONTENT_TYPES.get(suffix)
        if content_type is None:
            raise _not_found(f"no such file in the app: {relative}")
        # The checks stat the file system: off the event loop, like FileResponse's own I/O.
        path = await asyncio.to_thread(self._inside, relative)
        response: web.StreamResponse
        if suffix in COMPRESSIBLE and accepts_gzip(request.headers.get("Accept-Encoding", "")):
            response = _gzip_response(request, await asyncio.to_thread(self._gzipped.get, path))
        else:
            response = web.FileResponse(path)
        if suffix in COMPRESSIBLE:
            response.headers["Vary"] = "Accept-Encoding"
        response.headers["Content-Type"] = content_type
        response.headers["Cache-Control"] = "no-cache"
        response.headers["Content-Security-Policy"] = APP_CSP
        if relative == _SERVICE_WORKER:
            response.headers["Service-Worker-Allowed"] = APP_PATH
        return response

    def _inside(self, relative: str) -> Path:
        """The regular file ``relative`` names strictly inside the app directory, or 404."""
        try:
            root = self._directory.resolve(strict=True)
        except OSError:
            root = None
        if root is None or not root.is_dir():
            # Where it looked is the operator's business, not an anonymous client's: logged.
            _log.warning("the app directory is missing", app_dir=str(self._directory))
            raise _not_found("the app is not installed on this server (see the daemon's log)")
        parts = relative.split("/")
        if "\\" in relative or any(not part or part.startswith(".") for part in parts):
            raise _not_found(f"no such file in the app: {relative}")
        if not is_app_path(tuple(parts)):
            raise _not_found(f"no such file in the app: {relative}")
        try:
            path = root.joinpath(*parts).resolve(strict=True)
        except (OSError, RuntimeError):  # missing, or a symlink loop
            raise _not_found(f"no such file in the app: {relative}") from None
        if not path.is_relative_to(root) or not path.is_file():
            raise _not_found(f"no such file in the app: {relative}")
        if not is_app_path(path.relative_to(root).parts):  # a symlink out of the app
            raise _not_found(f"no such file in the app: {relative}")
        return path


def _gzip_response(request: web.Request, variant: Gzipped) -> web.Response:
    """The gzip variant, or 304 when the client holds it (``If-None-Match`` compared weakly,
    else ``If-Modified-Since``, as aiohttp does for the file itself)."""
    if_none_match = request.if_none_match
    if if_none_match is not None:
        fresh = any(tag.value in (variant.etag, "*") for tag in if_none_match)
    else:
        since = request.if_modified_since
        fresh = since is not None and variant.mtime <= since.timestamp()
    response = web.Response(status=304) if fresh else web.Response(body=variant.body)
    if not fresh:
        response.headers["Content-Encoding"] = "gzip"
    response.etag = variant.etag
    response.last_modified = variant.mtime
    return response
