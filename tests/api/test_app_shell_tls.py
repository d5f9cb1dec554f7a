"""The phone app over HTTPS: with ``api.tls_certificate`` and ``api.tls_key`` the daemon serves
the app (what phones need to install it and receive pushes) under the same headers as over
plain HTTP. The certificate is made by the test and trusted by its client only."""

from __future__ import annotations

import gzip
import ssl
from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
import pytest_asyncio
from multidict import CIMultiDict

from forexbot.api.routes.app_shell import APP_CSP, default_app_dir

from ._support import MakeApi, self_signed

pytestmark = pytest.mark.db


class Https:
    """A client of the test server that trusts its certificate, and nothing else."""

    def __init__(self, port: int, trust: ssl.SSLContext, session: aiohttp.ClientSession) -> None:
        self.base = f"https://127.0.0.1:{port}"
        self._trust = trust
        self._session = session

    async def get(self, path: str, **headers: str) -> tuple[int, CIMultiDict[str], bytes, str]:
        """Status, headers, the body as sent (not decompressed) and the URL's scheme."""
        async with self._session.get(
            self.base + path, ssl=self._trust, headers=headers, auto_decompress=False
        ) as resp:
            return resp.status, CIMultiDict(resp.headers), await resp.read(), resp.url.scheme


@pytest_asyncio.fixture(loop_scope="function")
async def https(make_api: MakeApi, tmp_path: Path) -> AsyncIterator[Https]:
    cert, key = self_signed(tmp_path)
    api = await make_api(tls_certificate=str(cert), tls_key=str(key))
    trust = ssl.create_default_context(cafile=str(cert))
    async with aiohttp.ClientSession() as session:
        yield Https(api.server.bound_port, trust, session)


async def test_the_app_page_is_served_over_tls(https: Https) -> None:
    status, headers, body, scheme = await https.get("/app/", **{"Accept-Encoding": "identity"})
    assert (status, scheme) == (200, "https")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert body == (default_app_dir() / "index.html").read_bytes()


async def test_the_service_worker_is_served_over_tls_for_the_app_scope(https: Https) -> None:
    status, headers, body, _ = await https.get("/app/sw.js", **{"Accept-Encoding": "gzip"})
    assert status == 200
    assert headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert headers["Service-Worker-Allowed"] == "/app/"
    assert headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(body) == (default_app_dir() / "sw.js").read_bytes()


@pytest.mark.parametrize("path", ["/app/", "/app/sw.js"])
async def test_over_tls_the_app_keeps_its_policy_and_the_security_headers(
    https: Https, path: str
) -> None:
    _, headers, _, _ = await https.get(path)
    assert headers["Content-Security-Policy"] == APP_CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["X-Frame-Options"] == "DENY"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_over_tls_api_answers_and_errors_carry_hsts(https: Https) -> None:
    status, headers, _, _ = await https.get("/api/system/status")
    assert status == 401
    assert headers["Strict-Transport-Security"] == "max-age=31536000"


async def test_a_client_that_does_not_trust_the_certificate_is_refused(https: Https) -> None:
    async with aiohttp.ClientSession() as session:
        with pytest.raises(aiohttp.ClientConnectorCertificateError):
            async with session.get(https.base + "/app/") as resp:
                await resp.read()
