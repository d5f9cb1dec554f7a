"""Net exposure per currency: what the account stands to gain or lose if one currency moves.

Rules:

* A position of ``volume`` lots on ``BASEQUOTE`` at ``price`` is long ``BASE`` and short
  ``QUOTE`` (a sell the reverse) by the same notional. The notional in account currency is
  ``volume × price × tick_value / tick_size``: the symbol's tick value already converts the
  quote currency to the account's, so no other quote is needed (a buy of 1 lot EURUSD at
  1.10 on a USD account is 110,000).
* Long EUR through EURUSD and long EUR through EURGBP add up; a long EURUSD and a short
  EURGBP cancel on EUR.
* The account's own currency is not an exposure (its value in itself never moves).
* An instrument whose base and quote are the same currency (indices, synthetic indices, some
  CFDs) is an exposure to itself, keyed by the symbol's name.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from forexbot.domain.market import SymbolSpec
from forexbot.domain.trading import Side


@dataclass(frozen=True, slots=True)
class Holding:
    """An open position or an order in flight, as exposure sees it."""

    symbol: str
    side: Side
    volume: float
    price: float


def notional(spec: SymbolSpec, volume: float, price: float) -> float:
    """The account-currency value of ``volume`` lots at ``price``."""
    if spec.tick_size <= 0:
        return 0.0
    return volume * price * spec.tick_value / spec.tick_size


def legs(spec: SymbolSpec) -> tuple[str, str | None]:
    """(what a buy is long of, what it is short of); ``None`` when it is short of nothing."""
    base, quote = spec.currency_base, spec.currency_profit
    if not base or not quote or base == quote:
        return spec.name, None
    return base, quote


def currency_exposure(
    holdings: Iterable[Holding], spec_of: Callable[[str], SymbolSpec], account_currency: str
) -> dict[str, float]:
    """Signed net notional (account currency) per currency or self-quoted instrument."""
    exposure: dict[str, float] = defaultdict(float)
    for holding in holdings:
        spec = spec_of(holding.symbol)
        amount = notional(spec, holding.volume, holding.price) * holding.side.value
        long_leg, short_leg = legs(spec)
        exposure[long_leg] += amount
        if short_leg is not None:
            exposure[short_leg] -= amount
    exposure.pop(account_currency, None)
    return dict(exposure)


def breaches(
    before: Mapping[str, float], after: Mapping[str, float], limit: float
) -> list[tuple[str, float]]:
    """Currencies the new holding pushes beyond ``limit`` (absolute notional): only those
    whose exposure grows, so a trade that reduces an existing excess is always allowed."""
    found = []
    for currency, value in after.items():
        previous = abs(before.get(currency, 0.0))
        if abs(value) > limit and abs(value) > previous + 1e-9:
            found.append((currency, value))
    return sorted(found)
