"""The account-level limits that stop trading: daily loss, drawdown kill switch, losing streak.

Pure logic, fed with equity observations and closed trades; the risk manager persists its
:class:`GuardState` after every change, so a restart resumes exactly where the guard was.

Rules:

* **Trading day.** The broker's server day (MetaTrader's day: midnight server time, 17:00 New
  York for the usual NY+7 servers). The first equity seen in a day is its start equity.
* **Daily loss.** When equity falls to ``start × (1 − max_daily_loss_percent / 100)`` or below,
  opening stops for the rest of that trading day (positions are kept; their SL/TP still work).
  A new day lifts it.
* **Drawdown kill switch.** The peak is the highest equity seen. When equity falls to
  ``peak × (1 − max_drawdown_percent / 100)`` or below, the kill switch trips: everything is
  closed and trading halts until someone resumes it explicitly. A kill switch can also be
  tripped by hand. Resuming re-bases the peak on the equity at that moment (otherwise it would
  trip again at once).
* **Losing streak.** After ``cooldown_after_losses`` losing trades in a row (net of swap and
  commission), no new trade until ``cooldown_minutes`` after the last loss; the cooldown
  settles the streak, which starts again from zero. A win (or a break-even trade) ends it.
* **Deposits and withdrawals** move equity like profits and losses do: a withdrawal larger
  than the drawdown limit trips the kill switch (resume, which re-bases the peak, after one).

Thresholds compare with ``<=``: a limit of 5 % trips at exactly 5 % down.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from enum import StrEnum
from typing import Any

from forexbot.config.models import RiskSettings
from forexbot.domain.rejection import RejectCode, Rejection


class TripKind(StrEnum):
    DAILY_LOSS = "daily_loss_limit"
    DRAWDOWN = "max_drawdown"


@dataclass(frozen=True, slots=True)
class Trip:
    """A limit newly reached by an observation."""

    kind: TripKind
    message: str
    equity: float
    threshold: float


@dataclass(slots=True)
class GuardState:
    """What the guard remembers (JSON-ready through :meth:`to_dict`)."""

    day: str | None = None
    day_start_equity: float | None = None
    daily_halt: bool = False
    peak_equity: float | None = None
    kill_switch: bool = False
    kill_code: str | None = None
    kill_reason: str | None = None
    kill_time: float | None = None
    loss_streak: int = 0
    cooldown_until: float | None = None
    cooldown_streak: int = 0  # the streak that started the current cooldown
    last_equity: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> GuardState:
        known = {name: data[name] for name in cls.__slots__ if name in data}
        return cls(**known)


class EquityGuard:
    """Applies the limits of the module docstring to equity observations and closed trades."""

    def __init__(self, state: GuardState | None = None) -> None:
        self.state = state or GuardState()

    def observe(self, equity: float, day: str, now: float, settings: RiskSettings) -> list[Trip]:
        """Record an equity observation at ``now`` on trading day ``day``; return the limits
        it trips (each once: a tripped limit stays tripped until its day ends or a resume)."""
        s = self.state
        trips: list[Trip] = []
        s.last_equity = equity
        if s.day != day:
            s.day, s.day_start_equity, s.daily_halt = day, equity, False
        start = s.day_start_equity if s.day_start_equity is not None else equity
        if s.peak_equity is None or (equity > s.peak_equity and not s.kill_switch):
            s.peak_equity = equity
        daily_floor = start * (1 - settings.max_daily_loss_percent / 100)
        if not s.daily_halt and equity <= daily_floor:
            s.daily_halt = True
            trips.append(
                Trip(
                    TripKind.DAILY_LOSS,
                    f"equity {equity:.2f} is down {_pct(start, equity)} on the trading day "
                    f"(started at {start:.2f}); the limit is {settings.max_daily_loss_percent:g} "
                    f"%: no new trades until the next trading day",
                    equity,
                    daily_floor,
                )
            )
        drawdown_floor = s.peak_equity * (1 - settings.max_drawdown_percent / 100)
        if not s.kill_switch and equity <= drawdown_floor:
            message = (
                f"equity {equity:.2f} is down {_pct(s.peak_equity, equity)} from its peak "
                f"{s.peak_equity:.2f}; the limit is {settings.max_drawdown_percent:g} %"
            )
            self.trip(TripKind.DRAWDOWN.value, message, at=now)
            trips.append(Trip(TripKind.DRAWDOWN, message, equity, drawdown_floor))
        return trips

    def trip(self, code: str, reason: str, at: float | None) -> None:
        """Trip the kill switch (by a limit, or by hand)."""
        s = self.state
        s.kill_switch, s.kill_code, s.kill_reason, s.kill_time = True, code, reason, at

    def resume(self) -> None:
        """Release the kill switch; the peak starts again from the last equity seen."""
        s = self.state
        s.kill_switch, s.kill_code, s.kill_reason, s.kill_time = False, None, None, None
        s.peak_equity = s.last_equity

    def record_close(self, net_profit: float, close_time: float, settings: RiskSettings) -> bool:
        """Count a closed trade in the losing streak; ``True`` when it starts a cooldown."""
        s = self.state
        if net_profit >= 0:
            s.loss_streak = 0
            return False
        s.loss_streak += 1
        if s.loss_streak >= settings.cooldown_after_losses and settings.cooldown_minutes > 0:
            s.cooldown_until = close_time + settings.cooldown_minutes * 60
            s.cooldown_streak, s.loss_streak = s.loss_streak, 0  # the pause settles the streak
            return True
        return False

    def blocked(self, now: float) -> Rejection | None:
        """Why no trade may open now (the risk rule of these limits), or ``None``."""
        s = self.state
        if s.kill_switch:
            return Rejection(
                RejectCode.KILL_SWITCH,
                f"the kill switch is on ({s.kill_reason}); resume by hand",
            )
        if s.daily_halt:
            return Rejection(
                RejectCode.DAILY_LOSS_LIMIT,
                f"the daily loss limit was reached on trading day {s.day}; trading resumes "
                f"on the next trading day",
            )
        if s.cooldown_until is not None and now < s.cooldown_until:
            minutes = (s.cooldown_until - now) / 60
            return Rejection(
                RejectCode.COOLDOWN,
                f"{s.cooldown_streak} losing trades in a row: no new trade for another "
                f"{minutes:.0f} min",
            )
        return None


def _pct(reference: float, value: float) -> str:
    if reference <= 0:
        return "n/a"
    return f"{(reference - value) / reference * 100:.2f} %"
