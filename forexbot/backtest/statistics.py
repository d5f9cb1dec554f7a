"""Performance statistics of a run of trades: one implementation for backtests and live.

A backtest computes them from its trades and its marked-to-market equity curve; the daemon's
``performance_metrics`` are computed by the same :func:`compute_statistics` from the stored
closed trades (with the balance curve of :func:`balance_curve`), so a strategy's figures mean
the same thing in a report and on the phone.

Definitions (``net`` of a trade = profit + swap + commission, in the account currency):

* **net profit** = final equity − initial balance; **return %** = net profit / initial balance;
  **CAGR %** = (final / initial) ^ (1 / years) − 1 over the calendar span of the run;
* **max drawdown %** = the largest fall of equity from a running peak, relative to that peak;
  **max drawdown duration** = the longest time equity stayed below a previous peak (to the end
  of the run when it never recovered);
* **Sharpe** = mean / standard deviation of daily returns × √252, **Sortino** = mean daily
  return / downside deviation (root mean square of the negative daily returns) × √252. Daily
  returns are taken from the equity at the end of each UTC day that has data; None with fewer
  than two of them or no variation;
* **profit factor** = gross profit / |gross loss| (None without a losing trade);
  **expectancy** = mean net per trade; **win rate %** = share of trades with net > 0;
  **average win / loss** = mean net of the winning / losing trades;
* **exposure %** = share of the run's time with at least one trade open.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from forexbot.domain.trades import TradeRecord

F64 = NDArray[np.float64]
TRADING_DAYS_PER_YEAR = 252
SECONDS_PER_YEAR = 365.25 * 86_400


@dataclass(frozen=True, slots=True)
class ClosedTrade:
    """A finished trade, as statistics and reports see it (times are UTC epochs)."""

    id: int
    strategy: str
    symbol: str
    side: str  # "buy" | "sell"
    volume: float
    open_time: float
    close_time: float
    entry_price: float
    exit_price: float
    profit: float
    swap: float
    commission: float
    close_reason: str

    @property
    def net(self) -> float:
        return self.profit + self.swap + self.commission

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "net": round(self.net, 2)}


@dataclass(frozen=True, slots=True)
class EquityCurve:
    """Equity (account currency) at increasing UTC times; the first point is the start."""

    time: F64
    equity: F64

    def __post_init__(self) -> None:
        if len(self.time) != len(self.equity) or not len(self.time):
            raise ValueError("an equity curve needs as many times as values, at least one")

    def drawdown_pct(self) -> F64:
        """Percent below the running peak at each point (0 at a peak, negative below)."""
        peak = np.maximum.accumulate(self.equity)
        with np.errstate(divide="ignore", invalid="ignore"):
            out: F64 = np.where(peak > 0, (self.equity / peak - 1.0) * 100.0, 0.0)
        return out


@dataclass(frozen=True, slots=True)
class Statistics:
    """The figures of the module docstring; money in the account currency."""

    start: float
    end: float
    initial_balance: float
    final_equity: float
    net_profit: float
    return_pct: float
    cagr_pct: float | None
    max_drawdown_pct: float
    max_drawdown_duration_seconds: float
    sharpe: float | None
    sortino: float | None
    profit_factor: float | None
    expectancy: float | None
    win_rate_pct: float | None
    average_win: float | None
    average_loss: float | None
    best_trade: float | None
    worst_trade: float | None
    gross_profit: float
    gross_loss: float
    trades: int
    wins: int
    losses: int
    exposure_pct: float

    def to_dict(self) -> dict[str, Any]:
        return {k: _rounded(v) for k, v in asdict(self).items()}


def _rounded(value: Any) -> Any:
    if isinstance(value, float):
        return None if not math.isfinite(value) else round(value, 6)
    return value


def closed_trade(record: TradeRecord) -> ClosedTrade:
    """A closed trade record (backtest or live) as statistics see it."""
    if record.open_time is None or record.close_time is None:
        raise ValueError(f"trade {record.id} has not both opened and closed")
    return ClosedTrade(
        id=record.id,
        strategy=record.strategy,
        symbol=record.symbol,
        side=record.side.label,
        volume=float(record.volume),
        open_time=record.open_time.timestamp(),
        close_time=record.close_time.timestamp(),
        entry_price=float(record.entry_price or 0),
        exit_price=float(record.exit_price or 0),
        profit=float(record.profit or 0),
        swap=float(record.swap or 0),
        commission=float(record.commission or 0),
        close_reason=record.close_reason or "",
    )


def balance_curve(
    trades: Sequence[ClosedTrade], initial_balance: float, start: float, end: float
) -> EquityCurve:
    """Equity stepping at each close (no floating profit): what stored trades alone tell."""
    ordered = sorted(trades, key=lambda t: t.close_time)
    times = [start, *(t.close_time for t in ordered)]
    values = np.cumsum([initial_balance, *(t.net for t in ordered)])
    if end > times[-1]:
        times.append(end)
        values = np.append(values, values[-1])
    return EquityCurve(np.asarray(times, dtype=np.float64), values.astype(np.float64))


def compute_statistics(
    trades: Sequence[ClosedTrade],
    curve: EquityCurve,
    initial_balance: float,
    start: float,
    end: float,
) -> Statistics:
    """The statistics of a run (see the module docstring for every definition)."""
    if end <= start:
        raise ValueError(f"a run must end after it starts ({start} .. {end})")
    nets = np.array([t.net for t in trades], dtype=np.float64)
    wins, losses = nets[nets > 0], nets[nets < 0]
    final = float(curve.equity[-1])
    net_profit = final - initial_balance
    years = (end - start) / SECONDS_PER_YEAR
    cagr = None
    if initial_balance > 0 and final > 0 and years > 0:
        try:
            cagr = ((final / initial_balance) ** (1.0 / years) - 1.0) * 100.0
        except OverflowError:  # a large gain over hours: no meaningful annual rate
            cagr = None
    gross_profit, gross_loss = float(wins.sum()), float(losses.sum())
    sharpe, sortino = _risk_adjusted(curve)
    return Statistics(
        start=start,
        end=end,
        initial_balance=initial_balance,
        final_equity=final,
        net_profit=net_profit,
        return_pct=net_profit / initial_balance * 100.0 if initial_balance else 0.0,
        cagr_pct=cagr,
        max_drawdown_pct=float(-curve.drawdown_pct().min()),
        max_drawdown_duration_seconds=_longest_underwater(curve, end),
        sharpe=sharpe,
        sortino=sortino,
        profit_factor=gross_profit / -gross_loss if len(losses) else None,
        expectancy=float(nets.mean()) if len(nets) else None,
        win_rate_pct=len(wins) / len(nets) * 100.0 if len(nets) else None,
        average_win=float(wins.mean()) if len(wins) else None,
        average_loss=float(losses.mean()) if len(losses) else None,
        best_trade=float(nets.max()) if len(nets) else None,
        worst_trade=float(nets.min()) if len(nets) else None,
        gross_profit=gross_profit,
        gross_loss=gross_loss,
        trades=len(nets),
        wins=len(wins),
        losses=len(losses),
        exposure_pct=_exposure(trades, start, end) * 100.0,
    )


def _longest_underwater(curve: EquityCurve, end: float) -> float:
    """The longest time from a peak to the next point at or above it (or to ``end``).

    Over whole arrays (a million-bar curve took ~0.15 s point by point): a point is a new peak
    when it is at or above every point before it; a span between two peaks counts when a
    point lies between them (the loop's ``under``). A curve with NaN goes point by point
    (NaN is never a peak there, but would poison the running maximum)."""
    equity = curve.equity
    if np.isnan(equity).any():
        return _longest_underwater_loop(curve, end)
    before = np.maximum.accumulate(np.r_[-math.inf, equity[:-1]])
    peaks = np.flatnonzero(equity >= before)
    times = curve.time[peaks].astype(np.float64)
    spans = np.diff(times)[np.diff(peaks) > 1]
    longest = max(0.0, float(spans.max())) if len(spans) else 0.0
    if peaks[-1] != len(equity) - 1:  # under water at the end
        longest = max(longest, end - float(times[-1]))
    return longest


def _longest_underwater_loop(curve: EquityCurve, end: float) -> float:
    longest, peak, peak_time = 0.0, -math.inf, float(curve.time[0])
    under = False
    for when, value in zip(curve.time.tolist(), curve.equity.tolist(), strict=True):
        if value >= peak:
            if under:  # recovered: it was under water from the peak until now
                longest = max(longest, when - peak_time)
            peak, peak_time, under = value, when, False
        else:
            under = True
    if curve.equity[-1] < peak:
        longest = max(longest, end - peak_time)
    return longest


def daily_returns(curve: EquityCurve) -> F64:
    """Returns between the equity at the ends of consecutive UTC days that have data."""
    days = np.floor(curve.time / 86_400).astype(np.int64)
    last_of_day = np.flatnonzero(np.r_[days[1:] != days[:-1], True])
    closes = np.r_[curve.equity[0], curve.equity[last_of_day]]  # day one: from the start
    with np.errstate(divide="ignore", invalid="ignore"):
        out: F64 = np.diff(closes) / closes[:-1]
    return out[np.isfinite(out)]


def _risk_adjusted(curve: EquityCurve) -> tuple[float | None, float | None]:
    returns = daily_returns(curve)
    if len(returns) < 2:
        return None, None
    scale = math.sqrt(TRADING_DAYS_PER_YEAR)
    mean, std = float(returns.mean()), float(returns.std(ddof=1))
    sharpe = mean / std * scale if std > 0 else None
    downside = float(np.sqrt(np.mean(np.minimum(returns, 0.0) ** 2)))
    sortino = mean / downside * scale if downside > 0 else None
    return sharpe, sortino


def _exposure(trades: Sequence[ClosedTrade], start: float, end: float) -> float:
    """Share of ``[start, end]`` covered by at least one open trade."""
    covered, reach = 0.0, start
    for t in sorted(trades, key=lambda t: t.open_time):
        lo, hi = max(t.open_time, reach, start), min(t.close_time, end)
        if hi > lo:
            covered += hi - lo
        reach = max(reach, hi)
    return covered / (end - start)
