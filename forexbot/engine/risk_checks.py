"""The risk rules, one pure function each: the facts a rule needs in, a
:class:`~forexbot.domain.rejection.Rejection` out when the trade fails it, ``None`` when it passes.

Why pure: each rule can be read and tested alone, at its boundary, without a market, a bus
or a clock; the order they run in, and what they are fed, is the risk manager's
(:meth:`~forexbot.engine.risk.RiskManager.evaluate`), and so is the one place a rejection is
published. The account guard's rule (kill switch, daily loss, losing streak) is
:meth:`~forexbot.engine.guard.EquityGuard.blocked`, and the volume of a signal is sized by
:func:`~forexbot.engine.sizing.size_position`, which refuses with its own codes.

Comparisons: a limit is reached *at* its value for counts (five positions with a limit of
five is full) and *beyond* it for prices, ages and money (a spread of exactly the allowed
points passes).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from forexbot.config.models import RiskSettings
from forexbot.domain.market import SymbolSpec, Tick, Timeframe
from forexbot.domain.rejection import RejectCode, Rejection
from forexbot.domain.trading import AccountState, Side, Signal
from forexbot.engine.exposure import Holding, breaches, currency_exposure
from forexbot.engine.orders import entry_price, exit_price


def readiness(ready: bool) -> Rejection | None:
    """Nothing is approved before the engine has loaded its state and reconciled."""
    if ready:
        return None
    return Rejection(
        RejectCode.NOT_READY, "the trading engine is starting (reconciling with the terminal)"
    )


def signal_age(signal: Signal, now: float, grace_seconds: float) -> Rejection | None:
    """A signal is acted on within ``grace_seconds`` of its bar's close: a lagging daemon must
    not trade yesterday's setup at today's price."""
    period = Timeframe.parse(signal.timeframe).seconds
    age = now - (signal.bar_time + period)
    if age > grace_seconds:
        return Rejection(
            RejectCode.STALE_SIGNAL,
            f"the {signal.timeframe} bar closed {age:.0f} s ago; signals are acted on "
            f"within {grace_seconds:.0f} s",
        )
    return None


def market_condition(condition: Mapping[str, Any], settings: RiskSettings) -> Rejection | None:
    """The signal's market condition passes the filter: the market open, a session allowed,
    liquidity and volatility not blocked. A trade without a condition (manual) passes."""
    if not condition:
        return None
    if condition.get("market_open") is False:
        return Rejection(RejectCode.MARKET_CLOSED, "the market is closed")
    sessions = [str(x) for x in condition.get("sessions") or []]
    allowed = settings.allowed_sessions
    if allowed is not None and not set(sessions) & set(allowed):
        return Rejection(
            RejectCode.SESSION_NOT_ALLOWED,
            f"open sessions {sessions or 'none'}; trading is allowed in {list(allowed)}",
        )
    liquidity = condition.get("liquidity")
    if liquidity in settings.blocked_liquidity:
        return Rejection(
            RejectCode.LIQUIDITY_BLOCKED, f"liquidity is {liquidity}, which is blocked"
        )
    volatility = condition.get("volatility")
    if volatility in settings.blocked_volatility:
        return Rejection(
            RejectCode.VOLATILITY_BLOCKED, f"volatility is {volatility}, which is blocked"
        )
    return None


def quote(symbol: str, tick: Tick | None, now: float, max_age_seconds: float) -> Rejection | None:
    """A quote exists, at most ``max_age_seconds`` old (prices of a frozen feed are not
    prices)."""
    if tick is None:
        return Rejection(RejectCode.NO_QUOTE, f"no quote for {symbol} yet")
    if now - tick.time > max_age_seconds:
        return Rejection(
            RejectCode.STALE_QUOTE,
            f"the last quote of {symbol} is {now - tick.time:.0f} s old; at most "
            f"{max_age_seconds:g} s allowed",
        )
    return None


def spread(symbol: str, tick: Tick, spec: SymbolSpec, max_points: int | None) -> Rejection | None:
    """The spread is within the symbol's ``max_spread_points`` (no limit when it has none)."""
    points = (tick.ask - tick.bid) / spec.point
    if max_points is not None and points > max_points + 1e-6:
        return Rejection(
            RejectCode.SPREAD_TOO_WIDE,
            f"the spread is {points:.0f} points; {symbol} allows {max_points}",
        )
    return None


def stop_loss(signal: Signal, tick: Tick, spec: SymbolSpec) -> Rejection | None:
    """The stop-loss is on the losing side of the price that triggers it (the bid for a buy,
    the ask for a sell, as MetaTrader measures it), at least the stops level away."""
    trigger = exit_price(signal.side, tick)
    distance = (trigger - signal.sl) * signal.side.value
    if distance <= 0:
        where = "below the bid" if signal.side is Side.BUY else "above the ask"
        return Rejection(
            RejectCode.INVALID_STOP,
            f"stop-loss {signal.sl} of a {signal.side.label} must be {where} ({trigger})",
        )
    if distance < spec.stops_level * spec.point - _tolerance(spec):
        return Rejection(
            RejectCode.STOP_TOO_CLOSE,
            f"stop-loss {distance / spec.point:.0f} points away, the symbol requires "
            f"{spec.stops_level}",
        )
    return None


def take_profit(signal: Signal, tick: Tick, spec: SymbolSpec) -> Rejection | None:
    """A take-profit, when there is one, is on the winning side of the price that triggers it,
    at least the stops level away."""
    if not signal.tp:
        return None
    trigger = exit_price(signal.side, tick)
    target = (signal.tp - trigger) * signal.side.value
    tolerance = _tolerance(spec)
    if target <= tolerance:
        where = "above the bid" if signal.side is Side.BUY else "below the ask"
        return Rejection(
            RejectCode.INVALID_TAKE_PROFIT,
            f"take-profit {signal.tp} of a {signal.side.label} must be {where} ({trigger})",
        )
    if target < spec.stops_level * spec.point - tolerance:
        return Rejection(
            RejectCode.TAKE_PROFIT_TOO_CLOSE,
            f"take-profit {target / spec.point:.0f} points away, the symbol requires "
            f"{spec.stops_level}",
        )
    return None


def spread_share_of_stop(
    signal: Signal, tick: Tick, spec: SymbolSpec, max_percent: float
) -> Rejection | None:
    """The spread is at most ``max_percent`` of the stop distance: a stop inside the noise of
    the spread is a loss paid at entry."""
    points = (tick.ask - tick.bid) / spec.point
    stop_points = abs(entry_price(signal.side, tick) - signal.sl) / spec.point
    share = points / stop_points * 100 if stop_points else 100.0
    if share > max_percent:
        return Rejection(
            RejectCode.SPREAD_TOO_WIDE,
            f"the spread ({points:.0f} points) is {share:.0f} % of the stop distance "
            f"({stop_points:.0f} points); at most {max_percent:g} % allowed",
        )
    return None


def position_counts(
    symbol: str,
    total: int,
    on_symbol: int,
    settings: RiskSettings,
    *,
    hedging: bool,
) -> Rejection | None:
    """Positions plus orders in flight — ``total``, and ``on_symbol`` for the trade's symbol —
    stay below the limits; a netting account holds one position per symbol, whatever the
    setting."""
    if total >= settings.max_open_positions:
        return Rejection(
            RejectCode.MAX_OPEN_POSITIONS,
            f"{total} positions open or in flight, the limit is {settings.max_open_positions}",
        )
    limit = settings.max_positions_per_symbol if hedging else 1
    if on_symbol >= limit:
        why = "" if hedging else " (a netting account holds one position per symbol)"
        return Rejection(
            RejectCode.MAX_POSITIONS_PER_SYMBOL,
            f"{on_symbol} positions on {symbol}, the limit is {limit}{why}",
        )
    return None


def manual_volume(requested: float, spec: SymbolSpec) -> Rejection | None:
    """A volume a person chose is one the terminal accepts for the symbol."""
    problem = spec.volume_problem(requested)
    return None if problem is None else Rejection(RejectCode.INVALID_VOLUME, problem)


def risk_per_trade(
    volume: float, risk_amount: float, max_risk: float, risk_percent: float
) -> Rejection | None:
    """A volume a person chose loses no more at the stop-loss than a sized one may."""
    if risk_amount > max_risk + 1e-9:
        return Rejection(
            RejectCode.RISK_PER_TRADE_EXCEEDED,
            f"{volume:g} lots would lose {risk_amount:.2f} at the stop-loss, more than "
            f"{risk_percent:g} % of equity ({max_risk:.2f})",
        )
    return None


def exposure(
    new: Holding,
    held: Iterable[Holding],
    spec_of: Callable[[str], SymbolSpec],
    account: AccountState,
    max_percent: float,
) -> Rejection | None:
    """No currency's net exposure, counting what is ``held`` (positions and orders in flight),
    grows beyond ``max_percent`` of equity with the ``new`` holding; a trade that reduces an
    excess passes."""
    held = list(held)
    before = currency_exposure(held, spec_of, account.currency)
    after = currency_exposure([*held, new], spec_of, account.currency)
    found = breaches(before, after, account.equity * max_percent / 100)
    if not found:
        return None
    currency, value = found[0]
    return Rejection(
        RejectCode.MAX_CURRENCY_EXPOSURE,
        f"{currency} exposure would be {value:,.0f} {account.currency} "
        f"({abs(value) / account.equity * 100:.0f} % of equity); the limit is {max_percent:g} %",
    )


def margin(
    required: float,
    volume: float,
    account: AccountState,
    reserved: float,
    max_usage_percent: float,
) -> Rejection | None:
    """The ``required`` margin fits the free margin and keeps the margin in use within
    ``max_usage_percent`` of equity; the margin ``reserved`` by orders approved and not filled
    yet counts as in use (the account does not show it yet)."""
    in_use = account.margin + reserved
    free = account.margin_free - reserved
    if required > free:
        return Rejection(
            RejectCode.INSUFFICIENT_MARGIN,
            f"{volume:g} lots need {required:.2f} {account.currency} of margin; {free:.2f} is free",
        )
    usage_limit = account.equity * max_usage_percent / 100
    if in_use + required > usage_limit:
        return Rejection(
            RejectCode.MARGIN_LIMIT,
            f"margin in use would be {in_use + required:.2f} {account.currency}, above "
            f"{max_usage_percent:g} % of equity ({usage_limit:.2f})",
        )
    return None


def _tolerance(spec: SymbolSpec) -> float:
    """Prices on the point grid compare equal within a thousandth of a point."""
    return spec.point * 1e-3
