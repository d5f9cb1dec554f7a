"""Why the risk manager refused a trade: a machine-readable code and a sentence for people.

The codes' values are a wire format: they appear in API error bodies (``reason``), in
``risk_rejected`` events on ``/ws/system``, in ``system_logs`` rows, in the
``forexbot_signals_rejected{code=…}`` metric and in backtest reports. A value never changes;
a new rule gets a new code.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class RejectCode(StrEnum):
    """Every reason a signal or a manual trade can be refused, in the order the rules run."""

    NOT_READY = "not_ready"
    # the account guard
    KILL_SWITCH = "kill_switch"
    DAILY_LOSS_LIMIT = "daily_loss_limit"
    COOLDOWN = "cooldown"
    # the signal and the market
    STALE_SIGNAL = "stale_signal"
    MARKET_CLOSED = "market_closed"
    SESSION_NOT_ALLOWED = "session_not_allowed"
    LIQUIDITY_BLOCKED = "liquidity_blocked"
    VOLATILITY_BLOCKED = "volatility_blocked"
    NO_QUOTE = "no_quote"
    STALE_QUOTE = "stale_quote"
    # stop and reverse: the instance is already in on the signal's side
    POSITION_HELD = "position_held"
    SPREAD_TOO_WIDE = "spread_too_wide"
    # the order's stops
    INVALID_STOP = "invalid_stop"
    STOP_TOO_CLOSE = "stop_too_close"
    INVALID_TAKE_PROFIT = "invalid_take_profit"
    TAKE_PROFIT_TOO_CLOSE = "take_profit_too_close"
    # the account
    TERMINAL_UNAVAILABLE = "terminal_unavailable"
    MAX_OPEN_POSITIONS = "max_open_positions"
    MAX_POSITIONS_PER_SYMBOL = "max_positions_per_symbol"
    # the volume
    NO_EQUITY = "no_equity"
    NO_TICK_VALUE = "no_tick_value"
    VOLUME_BELOW_MINIMUM = "volume_below_minimum"
    INVALID_VOLUME = "invalid_volume"
    RISK_PER_TRADE_EXCEEDED = "risk_per_trade_exceeded"
    # exposure and margin
    MAX_CURRENCY_EXPOSURE = "max_currency_exposure"
    MARGIN_UNKNOWN = "margin_unknown"
    INSUFFICIENT_MARGIN = "insufficient_margin"
    MARGIN_LIMIT = "margin_limit"


@dataclass(frozen=True, slots=True)
class Rejection:
    """The first rule a trade failed: its code, and the numbers that failed it in words."""

    code: RejectCode
    message: str
