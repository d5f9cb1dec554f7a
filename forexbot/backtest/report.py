"""The backtest report: one self-contained HTML file, charts drawn as inline SVG.

No script, no CDN, no external font or stylesheet: the file opens the same way offline, in a
mail attachment, or years later. It shows the run's settings, the statistics, the equity and
drawdown curves, the price chart with every entry (▲ buy, ▼ sell) and exit (×) joined by a
line, and the trade list. Long series are drawn from at most ``MAX_POINTS`` points per curve
(each bucket keeps its first, lowest, highest and last value, so spikes survive).
"""

from __future__ import annotations

import html
import itertools
import math
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from forexbot.backtest.runner import BacktestResult
from forexbot.backtest.statistics import ClosedTrade

F64 = NDArray[np.float64]
MAX_POINTS = 2_000
MAX_TRADE_ROWS = 2_000
WIDTH, HEIGHT, PAD_LEFT, PAD_RIGHT, PAD_Y = 1100, 280, 78, 16, 28


def _money(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value:,.2f} %"


def _ratio(value: float | None) -> str:
    return "—" if value is None else f"{value:,.3f}"


def _duration(seconds: float) -> str:
    days, rest = divmod(int(seconds), 86_400)
    return f"{days} d {rest // 3600} h"


def _date(epoch: float, with_time: bool = True) -> str:
    stamp = datetime.fromtimestamp(epoch, tz=UTC)
    return stamp.strftime("%Y-%m-%d %H:%M" if with_time else "%Y-%m-%d")


def statistic_rows(result: BacktestResult) -> list[tuple[str, str]]:
    """The statistics as (label, formatted value), for the report and the terminal table."""
    s = result.statistics
    return [
        ("Period", f"{_date(s.start)} → {_date(s.end)}"),
        ("Initial balance", _money(s.initial_balance)),
        ("Final equity", _money(s.final_equity)),
        ("Net profit", _money(s.net_profit)),
        ("Return", _pct(s.return_pct)),
        ("CAGR", _pct(s.cagr_pct)),
        ("Max drawdown", _pct(s.max_drawdown_pct)),
        ("Max drawdown duration", _duration(s.max_drawdown_duration_seconds)),
        ("Sharpe (daily, annualised)", _ratio(s.sharpe)),
        ("Sortino (daily, annualised)", _ratio(s.sortino)),
        ("Profit factor", _ratio(s.profit_factor)),
        ("Expectancy per trade", _money(s.expectancy)),
        ("Trades", str(s.trades)),
        ("Win rate", _pct(s.win_rate_pct)),
        ("Average win", _money(s.average_win)),
        ("Average loss", _money(s.average_loss)),
        ("Best / worst trade", f"{_money(s.best_trade)} / {_money(s.worst_trade)}"),
        ("Exposure time", _pct(s.exposure_pct)),
        ("Bars tested", f"{result.bars:,}"),
        ("Signals / traded", f"{result.signals} / {result.admitted}"),
        ("Rejected by risk", _counts(result.rejected)),
        ("Suppressed by regime", _counts(result.suppressed)),
        ("Run time", f"{result.elapsed_seconds:.2f} s"),
    ]


def _counts(counts: dict[str, int]) -> str:
    if not counts:
        return "0"
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items(), key=lambda kv: -kv[1]))


def decimate(x: F64, y: F64, limit: int = MAX_POINTS) -> tuple[F64, F64]:
    """At most about ``limit`` points keeping each bucket's first, min, max and last."""
    n = len(x)
    if n <= limit:
        return x, y
    buckets = max(1, limit // 4)
    edges = np.linspace(0, n, buckets + 1).astype(np.int64)
    keep: list[int] = []
    for lo, hi in itertools.pairwise(edges.tolist()):
        if hi <= lo:
            continue
        part = y[lo:hi]
        keep.extend(sorted({lo, lo + int(np.argmin(part)), lo + int(np.argmax(part)), hi - 1}))
    index = np.asarray(keep, dtype=np.int64)
    return x[index], y[index]


class _Frame:
    """The mapping of (time, value) to SVG coordinates of one chart."""

    def __init__(self, t0: float, t1: float, lo: float, hi: float) -> None:
        if hi <= lo:
            lo, hi = lo - 1.0, hi + 1.0
        margin = (hi - lo) * 0.05
        self.t0, self.t1 = t0, max(t1, t0 + 1.0)
        self.lo, self.hi = lo - margin, hi + margin

    def x(self, t: float) -> float:
        return PAD_LEFT + (t - self.t0) / (self.t1 - self.t0) * (WIDTH - PAD_LEFT - PAD_RIGHT)

    def y(self, v: float) -> float:
        return PAD_Y + (self.hi - v) / (self.hi - self.lo) * (HEIGHT - 2 * PAD_Y)

    def path(self, xs: F64, ys: F64) -> str:
        points = " ".join(f"{self.x(t):.1f},{self.y(v):.1f}" for t, v in zip(xs, ys, strict=True))
        return f'<polyline fill="none" points="{points}"'


def _axes(frame: _Frame, label: str, decimals: int) -> str:
    parts = [
        f'<rect x="{PAD_LEFT}" y="{PAD_Y}" width="{WIDTH - PAD_LEFT - PAD_RIGHT}" '
        f'height="{HEIGHT - 2 * PAD_Y}" class="plot"/>',
        f'<text x="{PAD_LEFT}" y="16" class="title">{html.escape(label)}</text>',
    ]
    for k in range(5):
        v = frame.lo + (frame.hi - frame.lo) * k / 4
        y = frame.y(v)
        parts.append(f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{y:.1f}" '
                     f'y2="{y:.1f}" class="grid"/>')  # fmt: skip
        parts.append(f'<text x="{PAD_LEFT - 6}" y="{y + 4:.1f}" class="ylab">'
                     f"{v:,.{decimals}f}</text>")  # fmt: skip
    for k in range(6):
        t = frame.t0 + (frame.t1 - frame.t0) * k / 5
        x = frame.x(t)
        anchor = "start" if k == 0 else "end" if k == 5 else "middle"  # keep inside the chart
        parts.append(f'<text x="{x:.1f}" y="{HEIGHT - 8}" class="xlab" text-anchor="{anchor}">'
                     f"{_date(t, with_time=False)}</text>")  # fmt: skip
    return "".join(parts)


def _svg(body: Iterable[str], name: str) -> str:
    return (
        f'<svg class="chart" id="{name}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'xmlns="http://www.w3.org/2000/svg" role="img">{"".join(body)}</svg>'
    )


def equity_svg(result: BacktestResult) -> str:
    xs, ys = decimate(result.equity.time, result.equity.equity)
    frame = _Frame(float(xs[0]), float(xs[-1]), float(ys.min()), float(ys.max()))
    line = frame.path(xs, ys) + ' class="equity"/>'
    base = frame.y(result.statistics.initial_balance)
    ref = (
        f'<line x1="{PAD_LEFT}" x2="{WIDTH - PAD_RIGHT}" y1="{base:.1f}" y2="{base:.1f}" '
        'class="ref"/>'
    )
    return _svg([_axes(frame, "Equity", 2), ref, line], "equity-chart")


def drawdown_svg(result: BacktestResult) -> str:
    dd = result.equity.drawdown_pct()
    xs, ys = decimate(result.equity.time, dd)
    frame = _Frame(float(xs[0]), float(xs[-1]), min(float(ys.min()), -0.01), 0.0)
    top = frame.y(0.0)
    points = " ".join(f"{frame.x(t):.1f},{frame.y(v):.1f}" for t, v in zip(xs, ys, strict=True))
    area = (
        f'<polygon points="{frame.x(float(xs[0])):.1f},{top:.1f} {points} '
        f'{frame.x(float(xs[-1])):.1f},{top:.1f}" class="drawdown"/>'
    )
    return _svg([_axes(frame, "Drawdown %", 2), area], "drawdown-chart")


def price_svg(result: BacktestResult, digits: int) -> str:
    prices = result.prices
    t = prices.close_time[prices.first :].astype(np.float64)
    close = prices.close[prices.first :]
    xs, ys = decimate(t, close)
    trades = result.trades
    lows = [float(ys.min()), *(min(tr.entry_price, tr.exit_price) for tr in trades)]
    highs = [float(ys.max()), *(max(tr.entry_price, tr.exit_price) for tr in trades)]
    frame = _Frame(float(xs[0]), float(xs[-1]), min(lows), max(highs))
    parts = [_axes(frame, f"{prices.symbol} {prices.timeframe.name} (bid close)", digits)]
    parts.append(frame.path(xs, ys) + ' class="price"/>')
    parts.extend(_trade_marks(frame, trades[:MAX_TRADE_ROWS]))
    return _svg(parts, "price-chart")


def _trade_marks(frame: _Frame, trades: Sequence[ClosedTrade]) -> list[str]:
    out = []
    for tr in trades:
        x0, y0 = frame.x(tr.open_time), frame.y(tr.entry_price)
        x1, y1 = frame.x(tr.close_time), frame.y(tr.exit_price)
        won = "win" if tr.net > 0 else "loss"
        out.append(f'<line x1="{x0:.1f}" y1="{y0:.1f}" x2="{x1:.1f}" y2="{y1:.1f}" '
                   f'class="trip {won}"/>')  # fmt: skip
        if tr.side == "buy":
            tri = f"{x0:.1f},{y0 - 7:.1f} {x0 - 5:.1f},{y0 + 3:.1f} {x0 + 5:.1f},{y0 + 3:.1f}"
        else:
            tri = f"{x0:.1f},{y0 + 7:.1f} {x0 - 5:.1f},{y0 - 3:.1f} {x0 + 5:.1f},{y0 - 3:.1f}"
        label = f"#{tr.id} {tr.side} {tr.volume:g} @ {tr.entry_price}"
        out.append(f'<polygon points="{tri}" class="entry {tr.side}"><title>{label}</title>'
                   "</polygon>")  # fmt: skip
        out.append(f'<path d="M{x1 - 4:.1f},{y1 - 4:.1f}l8,8m0,-8l-8,8" class="exit">'
                   f"<title>#{tr.id} exit {tr.exit_price} ({tr.close_reason}), net "
                   f"{tr.net:.2f}</title></path>")  # fmt: skip
    return out


def _table(rows: Iterable[Sequence[str]], head: Sequence[str] | None = None) -> str:
    out = ["<table>"]
    if head:
        out.append("<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
    for row in rows:
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>")
    out.append("</table>")
    return "".join(out)


def _trade_rows(trades: Sequence[ClosedTrade], digits: int) -> list[list[str]]:
    return [
        [
            str(t.id),
            t.side,
            f"{t.volume:g}",
            _date(t.open_time),
            f"{t.entry_price:.{digits}f}",
            _date(t.close_time),
            f"{t.exit_price:.{digits}f}",
            t.close_reason,
            _money(t.profit),
            _money(t.swap + t.commission),
            _money(t.net),
        ]
        for t in trades[:MAX_TRADE_ROWS]
    ]


_STYLE = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:24px;
color:#1d2433;background:#fff}h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.sub{color:#5b6477}.grid2{display:grid;grid-template-columns:minmax(300px,420px) 1fr;gap:24px}
table{border-collapse:collapse;font-variant-numeric:tabular-nums}td,th{padding:3px 10px;
border-bottom:1px solid #e4e7ee;text-align:right}td:first-child,th:first-child{text-align:left}
th{background:#f4f6fa}.chart{width:100%;max-width:1100px;display:block;margin:8px 0}
.plot{fill:#fbfcfe;stroke:#d5dae5}.grid{stroke:#e8ebf2}.ref{stroke:#9aa3b5;stroke-dasharray:4 4}
.title{font-size:13px;font-weight:600;fill:#1d2433}.ylab{font-size:11px;text-anchor:end;fill:#5b6477}
.xlab{font-size:11px;fill:#5b6477}.equity{stroke:#1f6feb;stroke-width:1.6}
.drawdown{fill:#f8514933;stroke:#d1242f;stroke-width:1}.price{stroke:#57606a;stroke-width:1}
.trip{stroke-width:1.2;stroke-dasharray:3 2}.trip.win{stroke:#1a7f37}.trip.loss{stroke:#cf222e}
.entry.buy{fill:#1a7f37}.entry.sell{fill:#cf222e}.exit{stroke:#1d2433;stroke-width:1.6}
"""


def render(result: BacktestResult, digits: int = 5) -> str:
    """The report as an HTML document (see the module docstring)."""
    spec = result.spec
    settings = [
        (k, v if isinstance(v, str) else repr(v))
        for k, v in spec.describe().items()
        if k not in ("start", "end")
    ]
    truncated = (
        f"<p class=sub>First {MAX_TRADE_ROWS} of {len(result.trades)} trades.</p>"
        if len(result.trades) > MAX_TRADE_ROWS
        else ""
    )
    head = ["#", "side", "lots", "opened", "entry", "closed", "exit", "reason", "profit",
            "swap+comm.", "net"]  # fmt: skip
    title = f"{spec.strategy} · {spec.symbol} {spec.timeframe.name}"
    return "".join(
        [
            "<!doctype html><html lang=en><head><meta charset=utf-8>",
            '<meta name="viewport" content="width=device-width,initial-scale=1">',
            f"<title>Backtest: {html.escape(title)}</title><style>{_STYLE}</style></head><body>",
            f"<h1>Backtest: {html.escape(title)}</h1>",
            f"<p class=sub>{_date(spec.start)} → {_date(spec.end)} UTC · forexbot</p>",
            '<div class="grid2"><div><h2>Statistics</h2>',
            _table(statistic_rows(result)),
            "</div><div><h2>Equity</h2>",
            equity_svg(result),
            drawdown_svg(result),
            "</div></div><h2>Price, entries and exits</h2>",
            price_svg(result, digits),
            "<h2>Trades</h2>",
            truncated,
            _table(_trade_rows(result.trades, digits), head),
            "<h2>Settings</h2>",
            _table(settings),
            "</body></html>",
        ]
    )


def write_report(result: BacktestResult, path: Path, digits: int | None = None) -> None:
    """Write :func:`render` to ``path`` (UTF-8)."""
    if digits is None:
        digits = _digits(result)
    path.write_text(render(result, digits), encoding="utf-8")


def _digits(result: BacktestResult) -> int:
    prices = result.prices.close[-200:]
    for digits in range(8):
        if np.all(np.round(prices, digits) == prices):
            return digits
    return max(0, int(-math.log10(max(float(np.median(np.abs(np.diff(prices)))), 1e-8))))
