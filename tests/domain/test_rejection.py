"""The rejection codes are a wire format (API error bodies, ``/ws/system``, ``system_logs``,
metrics labels, backtest reports): their values are pinned here, so a rename is a visible,
deliberate change."""

from __future__ import annotations

from forexbot.domain.rejection import RejectCode

PUBLISHED = {
    "not_ready",
    "kill_switch",
    "daily_loss_limit",
    "cooldown",
    "stale_signal",
    "market_closed",
    "session_not_allowed",
    "liquidity_blocked",
    "volatility_blocked",
    "no_quote",
    "stale_quote",
    "position_held",
    "spread_too_wide",
    "invalid_stop",
    "stop_too_close",
    "invalid_take_profit",
    "take_profit_too_close",
    "terminal_unavailable",
    "max_open_positions",
    "max_positions_per_symbol",
    "no_equity",
    "no_tick_value",
    "volume_below_minimum",
    "invalid_volume",
    "risk_per_trade_exceeded",
    "max_currency_exposure",
    "margin_unknown",
    "insufficient_margin",
    "margin_limit",
}


def test_the_codes_are_exactly_the_published_values() -> None:
    assert {code.value for code in RejectCode} == PUBLISHED
