"""The phone app's load speed and size on a mid-range phone, in Debian's Chromium.

A daemon (``forexbot run``, paper trading on the simulated terminal, embedded PostgreSQL, one
trader) serves the app at ``/app/``; Chromium opens it through the DevTools protocol with
Lighthouse's mobile profile: a 412×823 screen at 1.75×, the network at **150 ms round trip,
1.6 Mbit/s down, 750 kbit/s up** (``Network.emulateNetworkConditions``, applied to the page
*and* to the service worker, which fetches on the page's behalf) and the CPU **4× slower**
(``Emulation.setCPUThrottlingRate``). Each run starts a fresh browser profile (cold HTTP cache,
no service worker) and measures two loads:

- **cold**: the first visit. *FCP* (the first paint of anything), *sign-in shown* (the
  sign-in form in the page and painted: the app is usable), *to figures* (from pressing
  "Sign in" to the dashboard's equity from ``GET /api/system/status``) and *to live* (to the
  equity shown after the first ``/ws/performance`` message), all from the page's own clock;
  and the bytes of the app's HTML+JS+CSS as transferred (compressed, headers included:
  ``encodedDataLength`` of the Network domain), plus what the service worker's install
  fetched to fill its cache.
- **warm**: after logging out, the same page opened again, now controlled by the service
  worker (network first: the files are revalidated, 304s, not downloaded again).

Runs are repeated (``--runs``, 5 by default); the median and the worst are printed. Then the
size of ``mobile/``'s JS and CSS (and HTML), raw and gzip-compressed at level 9 as the daemon
sends them (the goal: under 300 KB compressed; interactive under 2 s on this profile).

``--lighthouse`` also runs Lighthouse (npm ``lighthouse``, pinned in ``bench/app/``, installed
there by ``npm ci`` on first use; not needed by the test suite) at its mobile profile against
the sign-in page, ``--lighthouse-runs`` times (3), and prints the performance score and FCP,
LCP, TBT, CLS and Speed Index (median run by score). Lighthouse 12 dropped its PWA category:
installability is Chromium's own audit, checked in ``tests/e2e/app/test_app_installable.py``.

Run (after ``make install-dev``; ``make system-deps`` brings chromium and node, and the
Lighthouse part needs ``npm``, Debian's package of that name)::

    .venv/bin/python bench/app_load.py [--runs 5] [--lighthouse [--lighthouse-runs 3]]

``--app-dir DIR`` serves another copy of ``mobile/`` (``api.app_dir``), to measure a change
beside the checkout's.

Figures are wall-clock on this machine, with the daemon on the same two cores.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gzip
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
MOBILE = ROOT / "mobile"
LIGHTHOUSE_DIR = Path(__file__).resolve().parent / "app"
LIGHTHOUSE_CLI = LIGHTHOUSE_DIR / "node_modules" / "lighthouse" / "cli" / "index.js"
USER = "bench"
PASSWORD = "bench correct horse battery"
START_TIMEOUT = 120.0
WAIT_TIMEOUT = 60.0
GZIP_LEVEL = 9

# Lighthouse's mobile profile (its "moto g power" screen, its network and CPU figures).
SCREEN = {"width": 412, "height": 823, "deviceScaleFactor": 1.75, "mobile": True}
NETWORK = {
    "offline": False,
    "latency": 150,
    "downloadThroughput": 1.6 * 1024 * 1024 / 8,
    "uploadThroughput": 750 * 1024 / 8,
}
CPU_SLOWDOWN = 4

#: Evaluated in every document before its own scripts (the DevTools protocol is not subject
#: to the app's CSP): marks on the page's clock (ms since the navigation started).
MARKS_JS = r"""
(() => {
  if (window.__bench) return;
  const marks = {};
  window.__bench = marks;
  const MONEY = /^[+-]?\d{1,3}(,\d{3})*\.\d{2} [A-Z]{3}$/;
  const equityShown = () => {
    const equity = document.querySelector('[data-testid="dash-equity"]');
    return equity !== null && MONEY.test((equity.textContent || "").trim());
  };
  const look = () => {
    if (marks.signin === undefined && document.querySelector('[data-testid="signin-username"]')) {
      marks.signin = performance.now();
      requestAnimationFrame(() => setTimeout(() => { marks.signinPainted = performance.now(); }));
    }
    if (marks.submit === undefined) return;
    const shown = equityShown();
    if (shown && marks.figure === undefined) marks.figure = performance.now();
    if (shown && marks.wsFirst !== undefined && marks.live === undefined) {
      marks.live = performance.now();
    }
  };
  const watched = {subtree: true, childList: true, characterData: true};
  new MutationObserver(look).observe(document, watched);
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(url, protocols) {
      super(url, protocols);
      if (!String(url).includes("/ws/performance")) return;
      this.addEventListener("message", () => {
        if (marks.wsFirst !== undefined) return;
        marks.wsFirst = performance.now();
        // The app's handler runs after this one; if it left the text as it was, the figure
        // on screen is the live one as soon as it has run.
        setTimeout(() => {
          if (marks.live === undefined && equityShown()) marks.live = performance.now();
        });
      });
    }
  };
})();
"""


# -- the daemon ---------------------------------------------------------------------------


def daemon_env(data_dir: Path, app_dir: Path | None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FOREXBOT_")}
    env.pop("DATABASE_URL", None)
    env.pop("NOTIFY_SOCKET", None)
    env["FOREXBOT_DATA_DIR"] = str(data_dir)
    env["FOREXBOT_LOGGING__FORMAT"] = "json"
    # A Monday morning in London: the simulated forex market is open whatever today is.
    env["FOREXBOT_TERMINAL__SIM_START"] = "2026-11-23T08:00:00Z"
    env["FOREXBOT_API__LOGIN_ATTEMPTS_PER_MINUTE"] = "1000"
    if app_dir is not None:
        env["FOREXBOT_API__APP_DIR"] = str(app_dir)
    return env


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.asynccontextmanager
async def serve(workdir: Path, app_dir: Path | None) -> AsyncIterator[str]:
    """A daemon with one trader, serving the app from ``app_dir`` (else its default, the
    checkout's ``mobile/``); the app's URL."""
    data_dir = workdir / "data"
    env = daemon_env(data_dir, app_dir)
    create = await asyncio.create_subprocess_exec(
        *(sys.executable, "-m", "forexbot", "user", "create", "--username", USER),
        *("--role", "trader", "--password-stdin", "--data-dir", str(data_dir)),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    out, _ = await asyncio.wait_for(create.communicate(PASSWORD.encode() + b"\n"), 120)
    if create.returncode != 0:
        raise SystemExit(f"forexbot user create failed:\n{out.decode()}")
    port = free_port()
    log_path = workdir / "daemon.log"
    with log_path.open("ab") as log:
        daemon = await asyncio.create_subprocess_exec(
            *(sys.executable, "-m", "forexbot", "run", "--api-port", str(port)),
            *("--data-dir", str(data_dir)),
            stdout=log,
            stderr=asyncio.subprocess.STDOUT,
            env=env,
            cwd=workdir,
        )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + START_TIMEOUT
        async with aiohttp.ClientSession() as http:
            while True:
                if daemon.returncode is not None or time.monotonic() > deadline:
                    raise SystemExit(f"the daemon did not start:\n{log_path.read_text()[-4000:]}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"{base}/api/health") as resp:
                        if resp.status == 200:
                            break
                await asyncio.sleep(0.25)
        yield f"{base}/app/"
    finally:
        if daemon.returncode is None:
            daemon.terminate()
            try:
                await asyncio.wait_for(daemon.wait(), 30)
            except TimeoutError:
                daemon.kill()
                await daemon.wait()


# -- Chromium through the DevTools protocol -----------------------------------------------


class Cdp:
    """One WebSocket to the browser; commands to it or to an attached target's session
    (flat mode), events handed to every listener."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.listeners: list[Callable[[str, dict[str, Any], str | None], None]] = []
        self._reader = asyncio.create_task(self._read())

    async def send(
        self, method: str, params: dict[str, Any] | None = None, session: str | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"id": next(self._ids), "method": method, "params": params or {}}
        if session is not None:
            message["sessionId"] = session
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._pending[message["id"]] = future
        await self._ws.send_str(json.dumps(message))
        return await asyncio.wait_for(future, WAIT_TIMEOUT)

    async def _read(self) -> None:
        async for msg in self._ws:
            if msg.type != aiohttp.WSMsgType.TEXT:
                continue
            data = json.loads(msg.data)
            if "id" in data:
                future = self._pending.pop(data["id"], None)
                if future is None or future.done():
                    continue
                if "error" in data:
                    future.set_exception(RuntimeError(f"{data['error']}"))
                else:
                    future.set_result(data.get("result", {}))
            else:
                for listener in self.listeners:
                    listener(data["method"], data.get("params", {}), data.get("sessionId"))

    async def close(self) -> None:
        self._reader.cancel()
        await self._ws.close()


@dataclass
class Transfer:
    url: str
    worker: bool  # fetched by the service worker (its install, or on the page's behalf)
    bytes: int = 0
    status: int = 0
    from_worker: bool = False  # the page's request answered by the service worker


@dataclass
class Browser:
    """A phone-profile Chromium on a fresh profile, the page's session, and every transfer
    of the page and the service worker."""

    cdp: Cdp
    page: str
    transfers: dict[tuple[str, str], Transfer] = field(default_factory=dict)
    worker_sessions: set[str] = field(default_factory=set)

    def on_event(self, method: str, params: dict[str, Any], session: str | None) -> None:
        if session is None:
            return
        key = (session, str(params.get("requestId")))
        if method == "Network.requestWillBeSent":
            url = params["request"]["url"]
            self.transfers[key] = Transfer(url, worker=session in self.worker_sessions)
        elif method == "Network.responseReceived" and key in self.transfers:
            self.transfers[key].status = int(params["response"]["status"])
            self.transfers[key].from_worker = bool(params["response"].get("fromServiceWorker"))
        elif method == "Network.loadingFinished" and key in self.transfers:
            self.transfers[key].bytes = int(params["encodedDataLength"])

    async def evaluate(self, expression: str) -> Any:
        answer = await self.cdp.send(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True, "awaitPromise": True},
            self.page,
        )
        if "exceptionDetails" in answer:
            raise RuntimeError(answer["exceptionDetails"])
        return answer["result"].get("value")

    async def until(self, expression: str, what: str) -> Any:
        deadline = time.monotonic() + WAIT_TIMEOUT
        while True:
            with contextlib.suppress(RuntimeError):  # a document being replaced
                value = await self.evaluate(expression)
                if value:
                    return value
            if time.monotonic() > deadline:
                raise SystemExit(f"timed out waiting for {what}")
            await asyncio.sleep(0.05)

    async def open(self, url: str) -> None:
        """Navigate to ``url`` as a new document (the old one is marked, so a wait cannot be
        answered by it)."""
        with contextlib.suppress(RuntimeError):
            await self.evaluate("window.__bench && (window.__bench.old = true)")
        self.transfers.clear()
        await self.cdp.send("Page.navigate", {"url": url}, self.page)


async def configure(cdp: Cdp, browser_box: list[Browser], params: dict[str, Any]) -> None:
    """Throttle a newly attached page or service worker, then let it run."""
    session = params["sessionId"]
    kind = params["targetInfo"]["type"]
    if kind == "service_worker" and browser_box:
        browser_box[0].worker_sessions.add(session)
    with contextlib.suppress(RuntimeError):
        await cdp.send("Network.enable", {}, session)
        await cdp.send("Network.emulateNetworkConditions", NETWORK, session)
        if kind == "page":
            await cdp.send("Page.enable", {}, session)
            await cdp.send("Emulation.setDeviceMetricsOverride", SCREEN, session)
            await cdp.send("Emulation.setTouchEmulationEnabled", {"enabled": True}, session)
            await cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN}, session)
            await cdp.send("Page.addScriptToEvaluateOnNewDocument", {"source": MARKS_JS}, session)
    if params.get("waitingForDebugger"):
        with contextlib.suppress(RuntimeError):
            await cdp.send("Runtime.runIfWaitingForDebugger", {}, session)


@contextlib.asynccontextmanager
async def chromium(profile: Path) -> AsyncIterator[Browser]:
    """Headless Chromium on ``profile``, a throttled page in it."""
    binary = shutil.which("chromium") or shutil.which("chromium-browser")
    if binary is None:
        raise SystemExit("no chromium: `make system-deps` installs Debian's package")
    args = [
        binary,
        "--headless=new",
        f"--user-data-dir={profile}",
        "--remote-debugging-port=0",
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--mute-audio",
        *(["--no-sandbox"] if os.geteuid() == 0 else []),
        "about:blank",
    ]
    proc = await asyncio.create_subprocess_exec(
        *args, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.DEVNULL
    )
    http = aiohttp.ClientSession()
    try:
        port_file = profile / "DevToolsActivePort"
        deadline = time.monotonic() + 30
        while not port_file.exists() or len(port_file.read_text().splitlines()) < 2:
            if time.monotonic() > deadline or proc.returncode is not None:
                raise SystemExit("chromium did not open its DevTools port")
            await asyncio.sleep(0.05)
        port, path = port_file.read_text().splitlines()[:2]
        ws = await http.ws_connect(f"ws://127.0.0.1:{port}{path}", max_msg_size=0)
        cdp = Cdp(ws)
        box: list[Browser] = []
        tasks: set[asyncio.Task[None]] = set()
        attached: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

        def on_attach(method: str, params: dict[str, Any], session: str | None) -> None:
            if method != "Target.attachedToTarget":
                return
            task = asyncio.create_task(configure(cdp, box, params))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
            attached.put_nowait(params)

        cdp.listeners.append(on_attach)
        await cdp.send(
            "Target.setAutoAttach",
            {
                "autoAttach": True,
                "waitForDebuggerOnStart": True,
                "flatten": True,
                "filter": [{"type": "page"}, {"type": "service_worker"}],
            },
        )
        created = await cdp.send("Target.createTarget", {"url": "about:blank"})
        while True:
            params = await asyncio.wait_for(attached.get(), WAIT_TIMEOUT)
            if params["targetInfo"]["targetId"] == created["targetId"]:
                break
        browser = Browser(cdp, params["sessionId"])
        box.append(browser)
        cdp.listeners.append(browser.on_event)
        await asyncio.gather(*tasks)
        await cdp.send("Network.clearBrowserCache", {}, browser.page)
        try:
            yield browser
        finally:
            with contextlib.suppress(Exception):
                await cdp.send("Browser.close")
            await cdp.close()
    finally:
        await http.close()
        if proc.returncode is None:
            proc.kill()
        await proc.wait()


# -- one run --------------------------------------------------------------------------------

APP_FILE_KINDS = {".html": "html", ".js": "js", ".css": "css"}


def kind_of(url: str) -> str:
    path = url.split("?", 1)[0].split("#", 1)[0]
    if path.endswith("/"):
        return "html"
    return APP_FILE_KINDS.get(Path(path).suffix, "other")


@dataclass(frozen=True, slots=True)
class Load:
    fcp_ms: float
    signin_ms: float
    to_figures_ms: float
    to_live_ms: float
    code_bytes: int  # the page's HTML+JS+CSS over the network (incl. via the worker)
    other_bytes: int  # manifest, icons
    worker_install_bytes: int  # what the worker's install fetched to fill its cache
    controlled: bool


def tally(browser: Browser, app: str) -> tuple[int, int, int]:
    """Bytes over the network for the app's files: the page's own requests (not those the
    worker answered: their network side is the worker's request), the worker's requests on
    the page's behalf, and the rest of the worker's (its install filling the cache)."""
    mine = [t for t in browser.transfers.values() if t.url.startswith(app)]
    on_behalf = {t.url for t in mine if not t.worker and t.from_worker}
    code = other = install = 0
    for t in mine:
        if t.worker and t.url not in on_behalf:
            install += t.bytes
        elif t.worker or not t.from_worker:
            if kind_of(t.url) == "other":
                other += t.bytes
            else:
                code += t.bytes
    return code, other, install


async def sign_in_and_go_live(browser: Browser) -> tuple[float, float]:
    await browser.evaluate(
        f"""(() => {{
            const set = (id, value) => {{
                const input = document.querySelector(`[data-testid="${{id}}"]`);
                input.value = value;
                input.dispatchEvent(new Event("input", {{bubbles: true}}));
            }};
            set("signin-username", {json.dumps(USER)});
            set("signin-password", {json.dumps(PASSWORD)});
            window.__bench.submit = performance.now();
            document.querySelector('[data-testid="signin-submit"]').click();
        }})()"""
    )
    marks = await browser.until(
        "window.__bench.live !== undefined && window.__bench", "the live equity"
    )
    return marks["figure"] - marks["submit"], marks["live"] - marks["submit"]


async def load_signin(browser: Browser, app: str) -> tuple[float, float, bool]:
    await browser.open(app)
    marks = await browser.until(
        "window.__bench && !window.__bench.old && window.__bench.signinPainted !== undefined"
        " && window.__bench",
        "the sign-in screen",
    )
    fcp = await browser.evaluate(
        "performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? null"
    )
    controlled = bool(await browser.evaluate("navigator.serviceWorker.controller !== null"))
    return float(fcp if fcp is not None else "nan"), marks["signinPainted"], controlled


async def one_run(app: str, profile: Path) -> tuple[Load, Load]:
    async with chromium(profile) as browser:
        fcp, signin, controlled = await load_signin(browser, app)
        # The worker installs (filling its cache) and activates.
        await browser.until(
            "navigator.serviceWorker.ready.then(r => r.active && r.active.state === 'activated')",
            "the service worker to activate",
        )
        await asyncio.sleep(0.5)
        code, other, install = tally(browser, app)
        figures, live = await sign_in_and_go_live(browser)
        cold = Load(fcp, signin, figures, live, code, other, install, controlled)

        await browser.evaluate("document.querySelector('[data-testid=\"logout\"]').click()")
        await browser.until(
            "document.querySelector('[data-testid=\"signin-username\"]') !== null", "logging out"
        )
        fcp, signin, controlled = await load_signin(browser, app)
        await asyncio.sleep(0.5)
        code, other, install = tally(browser, app)
        figures, live = await sign_in_and_go_live(browser)
        warm = Load(fcp, signin, figures, live, code, other, install, controlled)
        return cold, warm


# -- report ---------------------------------------------------------------------------------


def summary(values: list[float], unit: str) -> str:
    if unit == "ms":
        return f"median {statistics.median(values):7.0f} ms   worst {max(values):7.0f} ms"
    return f"median {statistics.median(values) / 1000:7.1f} KB   worst {max(values) / 1000:7.1f} KB"


def print_loads(name: str, loads: list[Load]) -> None:
    print(f"\n{name} ({len(loads)} runs)")
    rows: list[tuple[str, str, Callable[[Load], float]]] = [
        ("first contentful paint", "ms", lambda x: x.fcp_ms),
        ("sign-in shown", "ms", lambda x: x.signin_ms),
        ("sign in -> figures (REST)", "ms", lambda x: x.to_figures_ms),
        ("sign in -> live equity (WS)", "ms", lambda x: x.to_live_ms),
        ("HTML+JS+CSS transferred", "B", lambda x: x.code_bytes),
        ("manifest, icons transferred", "B", lambda x: x.other_bytes),
        ("service worker install fetched", "B", lambda x: x.worker_install_bytes),
    ]
    for label, unit, pick in rows:
        print(f"  {label:32} {summary([pick(x) for x in loads], unit)}")
    controlled = sum(x.controlled for x in loads)
    print(f"  {'controlled by the service worker':32} {controlled} of {len(loads)} loads")


#: Under mobile/ but never sent to a phone: the app's checks and their tooling.
NOT_SERVED = {"tests", "node_modules"}
NOT_SERVED_FILES = {"eslint.config.js"}


def app_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix in (".js", ".css", ".html")
        and not NOT_SERVED.intersection(p.relative_to(root).parts)
        and p.name not in NOT_SERVED_FILES
    )


def print_sizes(root: Path) -> None:
    raw: dict[str, int] = {}
    packed: dict[str, int] = {}
    files = app_files(root)
    for path in files:
        data = path.read_bytes()
        kind = APP_FILE_KINDS[path.suffix]
        raw[kind] = raw.get(kind, 0) + len(data)
        packed[kind] = packed.get(kind, 0) + len(gzip.compress(data, GZIP_LEVEL, mtime=0))
    print(f"\n{root.name}/ on disk ({len(files)} files; gzip -{GZIP_LEVEL} each, as served)")
    for kind in ("js", "css", "html"):
        size, gz = raw.get(kind, 0) / 1000, packed.get(kind, 0) / 1000
        print(f"  {kind:5} {size:8.1f} KB raw  {gz:7.1f} KB gzip")
    js_css_raw = raw.get("js", 0) + raw.get("css", 0)
    js_css_gz = packed.get("js", 0) + packed.get("css", 0)
    print(
        f"  JS+CSS {js_css_raw / 1000:7.1f} KB raw  {js_css_gz / 1000:7.1f} KB gzip (goal < 300 KB)"
    )


# -- Lighthouse -----------------------------------------------------------------------------


def lighthouse_ready() -> None:
    if LIGHTHOUSE_CLI.exists():
        return
    npm = shutil.which("npm")
    if npm is None:
        raise SystemExit("Lighthouse needs npm (Debian's package `npm`) to install it")
    subprocess.run(
        [npm, "ci", "--no-audit", "--no-fund", "--prefix", str(LIGHTHOUSE_DIR)], check=True
    )


async def lighthouse_once(app: str, workdir: Path) -> dict[str, Any]:
    node = shutil.which("node") or "node"
    flags = "--headless=new" + (" --no-sandbox" if os.geteuid() == 0 else "")
    report = workdir / "lighthouse.json"
    env = dict(os.environ, CHROME_PATH=shutil.which("chromium") or "/usr/bin/chromium")
    proc = await asyncio.create_subprocess_exec(
        *(node, str(LIGHTHOUSE_CLI), app, "--only-categories=performance", "--quiet"),
        *("--output=json", f"--output-path={report}", f"--chrome-flags={flags}"),
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
    )
    out, _ = await proc.communicate()
    if proc.returncode != 0:
        raise SystemExit(f"lighthouse failed:\n{out.decode()[-4000:]}")
    result: dict[str, Any] = json.loads(report.read_text())
    return result


def print_lighthouse(reports: list[dict[str, Any]]) -> None:
    scores = [round(r["categories"]["performance"]["score"] * 100) for r in reports]
    middle = sorted(reports, key=lambda r: r["categories"]["performance"]["score"])[
        len(reports) // 2
    ]
    version = middle.get("lighthouseVersion", "?")
    print(f"\nLighthouse {version}, mobile profile, sign-in page ({len(reports)} runs)")
    print(f"  performance score: {scores} (median {statistics.median(scores):.0f})")
    for audit in (
        "first-contentful-paint",
        "largest-contentful-paint",
        "total-blocking-time",
        "cumulative-layout-shift",
        "speed-index",
        "interactive",
    ):
        found = middle["audits"].get(audit)
        if found:
            print(f"  {found['title']:28} {found.get('displayValue', '')}")


# -- main -----------------------------------------------------------------------------------


def commit() -> str:
    try:
        return subprocess.run(
            ["git", "-C", str(ROOT), "describe", "--always", "--dirty"],
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


async def main(args: argparse.Namespace) -> None:
    if args.lighthouse:
        lighthouse_ready()
    print(f"forexbot {commit()}: the app at a mobile profile (150 ms RTT, 1.6/0.75 Mbit/s, CPU/4)")
    with tempfile.TemporaryDirectory(prefix="forexbot-bench-app-") as tmp:
        workdir = Path(tmp)
        os.chmod(workdir, 0o755)  # as root, the embedded PostgreSQL runs as another user
        async with serve(workdir, args.app_dir) as app:
            print(f"app: {app}")
            cold: list[Load] = []
            warm: list[Load] = []
            for run in range(args.runs):
                profile = workdir / f"profile-{run}"
                profile.mkdir()
                first, second = await one_run(app, profile)
                cold.append(first)
                warm.append(second)
                print(
                    f"  run {run + 1}: cold sign-in {first.signin_ms:.0f} ms, live "
                    f"{first.to_live_ms:.0f} ms, {first.code_bytes / 1000:.1f} KB; warm sign-in "
                    f"{second.signin_ms:.0f} ms, live {second.to_live_ms:.0f} ms, "
                    f"{second.code_bytes / 1000:.1f} KB",
                    flush=True,
                )
            print_loads("cold (first visit, empty cache)", cold)
            print_loads("warm (service worker installed, after logging out)", warm)
            print_sizes(args.app_dir or MOBILE)
            if args.lighthouse:
                reports = [await lighthouse_once(app, workdir) for _ in range(args.lighthouse_runs)]
                print_lighthouse(reports)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--lighthouse", action="store_true")
    parser.add_argument("--lighthouse-runs", type=int, default=3)
    parser.add_argument(
        "--app-dir", type=Path, help="serve this copy of mobile/ instead (to compare a change)"
    )
    asyncio.run(main(parser.parse_args()))
