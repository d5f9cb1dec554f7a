"""``/app/``: the phone app's files, strictly from its directory, under the app's own policy
(rules in :mod:`forexbot.api.routes.app_shell`).

Most tests serve a small app made in a temporary directory (``api.app_dir``); the last ones
check the shipped app of ``mobile/``, served by default, against the policy it runs under.
"""

from __future__ import annotations

import gzip
import json
import re
import struct
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import orjson
import pytest
import pytest_asyncio
from multidict import CIMultiDict
from structlog.testing import LogCapture

from forexbot.api.routes.app_shell import GzipCache, default_app_dir, is_app_path

from ._support import Api, MakeApi, RawAnswer, send_raw

pytestmark = pytest.mark.db

APP_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; manifest-src 'self'; worker-src 'self'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
API_CSP = "default-src 'none'; frame-ancestors 'none'"
INDEX = b"<!doctype html><title>app</title><script type=module src=src/main.js></script>"
SECRET = b"export const secret = 'outside the app';"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(range(256))  # the server does not look inside


@pytest.fixture
def app_dir(tmp_path: Path) -> Path:
    """An app beside a file that is not part of it (``secret.js``)."""
    (tmp_path / "secret.js").write_bytes(SECRET)
    app = tmp_path / "app"
    (app / "src").mkdir(parents=True)
    (app / "icons").mkdir()
    (app / "index.html").write_bytes(INDEX)
    (app / "src" / "main.js").write_text("import './ui.js';\n")
    (app / "styles.css").write_text("body { margin: 0 }\n")
    (app / "sw.js").write_text("self.addEventListener('fetch', () => {});\n")
    (app / "manifest.webmanifest").write_text('{"name": "forexbot"}')
    (app / "icons" / "icon-192.png").write_bytes(PNG)
    (app / "icons" / "make_icons.py").write_text("print('not part of the app')\n")
    (app / ".env.js").write_text("export const hidden = true;\n")
    return app


@pytest_asyncio.fixture(loop_scope="function")
async def served(make_api: MakeApi, app_dir: Path) -> Api:
    return await make_api(app_dir=str(app_dir))


async def raw_get(api: Api, target: str) -> RawAnswer:
    """``GET target`` sent byte for byte: an HTTP client would normalise the path first."""
    return await send_raw(
        api, f"GET {target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode()
    )


async def get(api: Api, path: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes]:
    async with api.session.get(api.url(path), headers=headers, allow_redirects=False) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()


# --- what is served, and how ------------------------------------------------------------------


async def test_the_app_root_is_its_index_page(served: Api) -> None:
    status, headers, body = await get(served, "/app/")
    assert status == 200
    assert body == INDEX
    assert headers["Content-Type"] == "text/html; charset=utf-8"


async def test_app_without_a_slash_redirects_to_the_app_root(served: Api) -> None:
    status, headers, _ = await get(served, "/app")
    assert status == 308
    assert headers["Location"] == "/app/"


async def test_the_app_pages_carry_the_app_policy_exactly(served: Api) -> None:
    _, headers, _ = await get(served, "/app/")
    assert headers["Content-Security-Policy"] == APP_CSP


async def test_every_app_file_carries_the_app_policy(served: Api) -> None:
    for path in ("/app/src/main.js", "/app/styles.css", "/app/icons/icon-192.png"):
        _, headers, _ = await get(served, path)
        assert headers["Content-Security-Policy"] == APP_CSP, path


async def test_the_app_keeps_the_other_security_headers(served: Api) -> None:
    _, headers, _ = await get(served, "/app/")
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Server"] == "forexbot"
    assert headers["X-Request-ID"]


async def test_the_api_keeps_its_deny_all_policy(served: Api) -> None:
    _, headers, _ = await get(served, "/api/health")
    assert headers["Content-Security-Policy"] == API_CSP


@pytest.mark.parametrize(
    ("path", "content_type"),
    [
        ("/app/index.html", "text/html; charset=utf-8"),
        ("/app/src/main.js", "text/javascript; charset=utf-8"),
        ("/app/styles.css", "text/css; charset=utf-8"),
        ("/app/manifest.webmanifest", "application/manifest+json"),
        ("/app/icons/icon-192.png", "image/png"),
        ("/app/sw.js", "text/javascript; charset=utf-8"),
    ],
)
async def test_each_file_type_has_its_content_type(
    served: Api, path: str, content_type: str
) -> None:
    status, headers, _ = await get(served, path)
    assert status == 200
    assert headers["Content-Type"] == content_type


async def test_a_file_is_served_as_it_is_on_disk(served: Api, app_dir: Path) -> None:
    _, _, body = await get(served, "/app/icons/icon-192.png")
    assert body == (app_dir / "icons" / "icon-192.png").read_bytes()


async def test_the_service_worker_may_control_the_app_only(served: Api) -> None:
    _, headers, _ = await get(served, "/app/sw.js")
    assert headers["Service-Worker-Allowed"] == "/app/"


async def test_other_files_do_not_widen_a_service_worker(served: Api) -> None:
    _, headers, _ = await get(served, "/app/src/main.js")
    assert "Service-Worker-Allowed" not in headers


async def test_app_files_are_revalidated_on_every_use(served: Api) -> None:
    _, headers, _ = await get(served, "/app/src/main.js")
    assert headers["Cache-Control"] == "no-cache"
    assert headers["ETag"]
    assert headers["Last-Modified"]


async def test_an_unchanged_file_is_answered_304(served: Api) -> None:
    _, headers, _ = await get(served, "/app/src/main.js")
    status, again, body = await get(
        served, "/app/src/main.js", **{"If-None-Match": headers["ETag"]}
    )
    assert status == 304
    assert body == b""
    assert again["Cache-Control"] == "no-cache"


async def test_a_changed_file_is_sent_again(served: Api, app_dir: Path) -> None:
    _, headers, _ = await get(served, "/app/src/main.js")
    (app_dir / "src" / "main.js").write_text("import './ui.js'; // release 2\n")
    status, _, body = await get(served, "/app/src/main.js", **{"If-None-Match": headers["ETag"]})
    assert status == 200
    assert body == b"import './ui.js'; // release 2\n"


async def test_the_app_needs_no_token(served: Api) -> None:
    status, _, _ = await get(served, "/app/src/main.js")
    assert status == 200


async def test_the_app_is_not_in_the_api_document(served: Api) -> None:
    _, _, body = await get(served, "/api/openapi.json")
    assert not [path for path in orjson.loads(body)["paths"] if path.startswith("/app")]


# --- compressed text files ------------------------------------------------------------------


async def fetch(
    api: Api, path: str, method: str = "GET", **headers: str
) -> tuple[int, CIMultiDict[str], bytes]:
    """The answer as sent: not decompressed (the client would otherwise ask for gzip itself)."""
    async with api.session.request(
        method, api.url(path), headers=headers, auto_decompress=False, allow_redirects=False
    ) as resp:
        return resp.status, CIMultiDict(resp.headers), await resp.read()


async def test_a_text_file_goes_gzipped_to_a_client_that_accepts_it(
    served: Api, app_dir: Path
) -> None:
    status, headers, body = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Vary"] == "Accept-Encoding"
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Content-Security-Policy"] == APP_CSP
    assert headers["Cache-Control"] == "no-cache"
    assert gzip.decompress(body) == (app_dir / "src" / "main.js").read_bytes()


@pytest.mark.parametrize(
    "path", ["/app/", "/app/styles.css", "/app/manifest.webmanifest", "/app/sw.js"]
)
async def test_every_text_type_is_gzipped(served: Api, path: str) -> None:
    _, headers, _ = await fetch(served, path, **{"Accept-Encoding": "gzip, deflate, br"})
    assert headers["Content-Encoding"] == "gzip"


async def test_a_client_that_does_not_accept_gzip_gets_the_file_as_it_is(
    served: Api, app_dir: Path
) -> None:
    status, headers, body = await fetch(
        served, "/app/src/main.js", **{"Accept-Encoding": "identity"}
    )
    assert status == 200
    assert "Content-Encoding" not in headers
    assert headers["Vary"] == "Accept-Encoding"  # a cache must ask again for another encoding
    assert body == (app_dir / "src" / "main.js").read_bytes()


@pytest.mark.parametrize(
    ("accept", "gzipped"),
    [
        ("gzip;q=0", False),
        ("gzip;q=0.000, deflate", False),
        ("*;q=0.5, gzip;q=0", False),
        ("gzip;q=0.001", True),
        ("GZIP", True),
        ("*", True),
        ("*;q=0", False),
        ("deflate, br", False),
        ("gzip;q=2", False),  # not a q-value: when in doubt, as it is
        ("", False),
    ],
)
async def test_accept_encoding_q_values_are_respected(
    served: Api, accept: str, gzipped: bool
) -> None:
    _, headers, _ = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": accept})
    assert ("Content-Encoding" in headers) is gzipped


async def test_a_png_is_never_gzipped(served: Api, app_dir: Path) -> None:
    _, headers, body = await fetch(served, "/app/icons/icon-192.png", **{"Accept-Encoding": "gzip"})
    assert "Content-Encoding" not in headers
    assert body == PNG


async def test_each_encoding_has_its_own_etag(served: Api) -> None:
    _, plain, _ = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "identity"})
    _, zipped, _ = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    assert zipped["ETag"] != plain["ETag"]
    assert zipped["ETag"] == plain["ETag"][:-1] + '-gzip"'
    assert zipped["Last-Modified"] == plain["Last-Modified"]


async def test_the_gzip_etag_answers_304(served: Api) -> None:
    _, headers, _ = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    status, again, body = await fetch(
        served,
        "/app/src/main.js",
        **{"Accept-Encoding": "gzip", "If-None-Match": headers["ETag"]},
    )
    assert status == 304
    assert body == b""
    assert again["ETag"] == headers["ETag"]
    assert again["Cache-Control"] == "no-cache"
    assert again["Vary"] == "Accept-Encoding"


async def test_the_gzip_etag_does_not_stand_for_the_plain_file(served: Api) -> None:
    _, headers, _ = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    status, _, body = await fetch(
        served,
        "/app/src/main.js",
        **{"Accept-Encoding": "identity", "If-None-Match": headers["ETag"]},
    )
    assert status == 200
    assert body == b"import './ui.js';\n"


async def test_a_gzipped_file_unchanged_since_a_date_answers_304(served: Api) -> None:
    _, headers, _ = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    status, _, _ = await fetch(
        served,
        "/app/src/main.js",
        **{"Accept-Encoding": "gzip", "If-Modified-Since": headers["Last-Modified"]},
    )
    assert status == 304


async def test_head_of_a_gzipped_file_has_its_headers_and_no_body(served: Api) -> None:
    _, _, body = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    status, headers, head_body = await fetch(
        served, "/app/src/main.js", "HEAD", **{"Accept-Encoding": "gzip"}
    )
    assert status == 200
    assert headers["Content-Encoding"] == "gzip"
    assert headers["Content-Length"] == str(len(body))
    assert headers["ETag"].endswith('-gzip"')
    assert head_body == b""


async def test_a_changed_file_is_compressed_again(served: Api, app_dir: Path) -> None:
    _, before, _ = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    (app_dir / "src" / "main.js").write_text("import './ui.js'; // release 2, longer\n")
    _, after, body = await fetch(served, "/app/src/main.js", **{"Accept-Encoding": "gzip"})
    assert gzip.decompress(body) == b"import './ui.js'; // release 2, longer\n"
    assert after["ETag"] != before["ETag"]


def test_a_file_is_compressed_once_per_version(tmp_path: Path) -> None:
    path = tmp_path / "main.js"
    path.write_text("export const a = 1;\n")
    cache = GzipCache()
    first = cache.get(path)
    assert cache.get(path) is first  # kept, not compressed again
    path.write_text("export const a = 22;\n")
    second = cache.get(path)
    assert second is not first
    assert gzip.decompress(second.body) == b"export const a = 22;\n"
    assert len(cache) == 1  # one entry per file: the old version is gone


async def test_every_shipped_text_file_decompresses_to_the_file(api: Api) -> None:
    root = default_app_dir()
    shipped = [
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in {".html", ".js", ".css", ".webmanifest", ".json", ".svg"}
        and is_app_path(p.relative_to(root).parts)
    ]
    assert shipped
    for path in shipped:
        relative = path.relative_to(root).as_posix()
        status, headers, body = await fetch(api, f"/app/{relative}", **{"Accept-Encoding": "gzip"})
        assert status == 200, relative
        assert headers["Content-Encoding"] == "gzip", relative
        assert gzip.decompress(body) == path.read_bytes(), relative


# --- what is refused ------------------------------------------------------------------------


def assert_not_found(answer: RawAnswer) -> None:
    assert answer.status == 404
    assert answer.headers["content-type"].startswith("application/json")
    assert orjson.loads(answer.body)["error"]["code"] == "not_found"
    assert SECRET not in answer.body


@pytest.mark.parametrize(
    "target",
    [
        "/app/../secret.js",
        "/app/%2e%2e/secret.js",
        "/app/%2E%2E/secret.js",
        "/app/..%2fsecret.js",
        "/app/%2e%2e%2fsecret.js",
        "/app/src/../../secret.js",
        "/app/src/%2e%2e/%2e%2e/secret.js",
        "/app/./%2e%2e/secret.js",
        "/app/..%5csecret.js",
        "/app/../forexbot/__init__.py",
        "/app/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    ],
)
async def test_a_path_out_of_the_app_directory_is_404(served: Api, target: str) -> None:
    assert_not_found(await raw_get(served, target))


async def test_an_absolute_path_is_404(served: Api, app_dir: Path) -> None:
    secret = app_dir.parent / "secret.js"
    for target in (f"/app/{secret}", f"/app/{str(secret).replace('/', '%2f')}"):
        assert_not_found(await raw_get(served, target))


async def test_a_symlink_out_of_the_app_directory_is_404(served: Api, app_dir: Path) -> None:
    (app_dir / "link.js").symlink_to(app_dir.parent / "secret.js")
    (app_dir / "outside").symlink_to(app_dir.parent, target_is_directory=True)
    assert_not_found(await raw_get(served, "/app/link.js"))
    assert_not_found(await raw_get(served, "/app/outside/secret.js"))


async def test_a_symlink_within_the_app_directory_is_followed(served: Api, app_dir: Path) -> None:
    (app_dir / "src" / "start.js").symlink_to(app_dir / "src" / "main.js")
    status, _, body = await get(served, "/app/src/start.js")
    assert status == 200
    assert body == b"import './ui.js';\n"


@pytest.mark.parametrize("target", ["/app/src", "/app/src/", "/app/icons/"])
async def test_a_directory_is_not_listed(served: Api, target: str) -> None:
    answer = await raw_get(served, target)
    assert_not_found(answer)
    assert b"main.js" not in answer.body


async def test_a_hidden_file_is_404(served: Api) -> None:
    assert_not_found(await raw_get(served, "/app/.env.js"))


async def test_a_file_of_a_type_the_app_does_not_use_is_404(served: Api) -> None:
    assert_not_found(await raw_get(served, "/app/icons/make_icons.py"))


TOOLING = [
    "README.md.js",
    "tests/pure.test.mjs",
    "tests/helpers.js",
    "package.json",
    "package-lock.json",
    "tsconfig.json",
    "tsconfig.sw.json",
    "eslint.config.js",
    "node_modules/typescript/package.json",
    "node_modules/typescript/lib/tsc.js",
    "node_modules/.bin/tsc.js",
]


@pytest.mark.parametrize("relative", TOOLING)
async def test_what_lives_beside_the_app_is_404(served: Api, app_dir: Path, relative: str) -> None:
    (app_dir / relative).parent.mkdir(parents=True, exist_ok=True)
    (app_dir / relative).write_text('{"devDependencies": {"typescript": "5.9.3"}}\n')
    assert_not_found(await raw_get(served, f"/app/{relative}"))
    assert_not_found(await raw_get(served, f"/app/{relative.upper()}"))


async def test_the_tooling_is_404_through_a_symlink_too(served: Api, app_dir: Path) -> None:
    (app_dir / "node_modules" / "typescript").mkdir(parents=True)
    (app_dir / "node_modules" / "typescript" / "tsc.js").write_text("export {};\n")
    (app_dir / "package.json").write_text('{"private": true}\n')
    (app_dir / "src" / "tsc.js").symlink_to(app_dir / "node_modules" / "typescript" / "tsc.js")
    (app_dir / "app.json").symlink_to(app_dir / "package.json")
    assert_not_found(await raw_get(served, "/app/src/tsc.js"))
    assert_not_found(await raw_get(served, "/app/app.json"))


async def test_an_app_file_named_like_the_tooling_below_the_top_is_served(
    served: Api, app_dir: Path
) -> None:
    (app_dir / "src" / "package.json").write_text('{"part": "of the app"}')
    status, _, body = await get(served, "/app/src/package.json")
    assert (status, body) == (200, b'{"part": "of the app"}')


async def test_a_missing_file_is_404_in_the_api_error_body(served: Api) -> None:
    status, headers, body = await get(served, "/app/src/nowhere.js")
    assert status == 404
    assert headers["Content-Type"] == "application/json"
    assert orjson.loads(body) == {
        "error": {
            "code": "not_found",
            "message": "no such file in the app: src/nowhere.js",
            "details": None,
        }
    }


async def test_a_refusal_carries_the_api_policy_not_the_app_one(served: Api) -> None:
    _, headers, _ = await get(served, "/app/src/nowhere.js")
    assert headers["Content-Security-Policy"] == API_CSP


async def test_a_missing_app_directory_is_404_and_the_log_says_where_it_looked(
    make_api: MakeApi, tmp_path: Path, logs: LogCapture
) -> None:
    api = await make_api(app_dir=str(tmp_path / "nowhere"))
    status, _, body = await get(api, "/app/")
    assert status == 404
    message = orjson.loads(body)["error"]["message"]
    assert message == "the app is not installed on this server (see the daemon's log)"
    assert str(tmp_path) not in body.decode()
    [warning] = [e for e in logs.entries if e["event"] == "the app directory is missing"]
    assert warning["app_dir"] == str(tmp_path / "nowhere")


def test_by_default_the_app_is_the_checkout_mobile_directory() -> None:
    assert default_app_dir() == Path(__file__).resolve().parents[2] / "mobile"


# --- the shipped app (mobile/) ----------------------------------------------------------------


class PageScan(HTMLParser):
    """What of an HTML page the app's policy decides on."""

    def __init__(self) -> None:
        super().__init__()
        self.scripts: list[dict[str, str | None]] = []
        self.inline: list[str] = []
        self.handlers: list[str] = []
        self.styles: list[str] = []
        self.links: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.handlers += [f"{tag} {name}" for name, _ in attrs if name.lower().startswith("on")]
        if "style" in named:
            self.styles.append(f"{tag} style attribute")
        if tag == "style":
            self.styles.append("style element")
        if tag == "script":
            self.scripts.append(named)
            self._in_script = True
        for name in ("src", "href"):
            value = named.get(name)
            if value is not None and tag in {"script", "link", "img"}:
                self.links.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script and data.strip():
            self.inline.append(data.strip()[:40])


def scan(page: bytes) -> PageScan:
    scanned = PageScan()
    scanned.feed(page.decode("utf-8"))
    scanned.close()
    return scanned


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_the_shipped_index_has_no_inline_script_style_or_handler(api: Api) -> None:
    status, _, body = await get(api, "/app/")
    assert status == 200
    page = scan(body)
    assert page.scripts, "the page loads its code"
    assert all(script.get("src") for script in page.scripts)
    assert page.inline == []
    assert page.handlers == []
    assert page.styles == []
    assert not [link for link in page.links if link.lower().startswith("javascript:")]


async def test_everything_the_shipped_index_loads_is_served_from_the_app(api: Api) -> None:
    _, _, body = await get(api, "/app/")
    for link in scan(body).links:
        assert "//" not in link, f"{link} is not the app's own"
        assert not link.startswith("/"), f"{link} is not relative to the app"
        status, _, _ = await get(api, "/app/" + link)
        assert status == 200, link


async def test_the_shipped_manifest_is_installable(api: Api) -> None:
    status, headers, body = await get(api, "/app/manifest.webmanifest")
    assert status == 200
    assert headers["Content-Type"] == "application/manifest+json"
    manifest: dict[str, Any] = json.loads(body)
    assert manifest["name"]
    assert manifest["short_name"]
    assert (manifest["start_url"], manifest["scope"]) == ("/app/", "/app/")
    assert manifest["display"] == "standalone"
    assert manifest["theme_color"]
    assert manifest["background_color"]
    assert {icon["sizes"] for icon in manifest["icons"]} >= {"192x192", "512x512"}


async def test_the_shipped_manifest_names_icons_that_exist_at_their_size(api: Api) -> None:
    _, _, body = await get(api, "/app/manifest.webmanifest")
    for icon in json.loads(body)["icons"]:
        status, headers, image = await get(api, "/app/" + icon["src"])
        assert status == 200, icon["src"]
        assert headers["Content-Type"] == icon["type"] == "image/png"
        width, height = png_size(image)
        assert f"{width}x{height}" == icon["sizes"]


@pytest.mark.parametrize(
    "name",
    [
        "package.json",
        "package-lock.json",
        "tsconfig.json",
        "tsconfig.sw.json",
        "tsconfig.tests.json",
        "eslint.config.js",
    ],
)
async def test_the_shipped_app_checks_configuration_is_not_served(api: Api, name: str) -> None:
    assert (default_app_dir() / name).is_file()
    status, _, _ = await get(api, f"/app/{name}")
    assert status == 404


async def test_the_shipped_app_checks_packages_are_not_served(api: Api) -> None:
    # node_modules/ is there once `make mobile-check` has run; refused whether or not
    for relative in ("node_modules/typescript/package.json", "node_modules/eslint/package.json"):
        status, _, _ = await get(api, f"/app/{relative}")
        assert status == 404, relative


def test_the_shipped_service_worker_caches_only_the_app() -> None:
    sw = (default_app_dir() / "sw.js").read_text()
    shell = re.findall(r'^\s+"([^"]+)",$', sw, re.MULTILINE)
    assert "src/main.js" in shell
    assert [
        path for path in shell if path != "./" and not is_app_path(tuple(path.split("/")))
    ] == []


async def test_the_shipped_service_worker_is_served_for_the_app_scope(api: Api) -> None:
    status, headers, _ = await get(api, "/app/sw.js")
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Service-Worker-Allowed"] == "/app/"
