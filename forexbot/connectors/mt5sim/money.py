"""Margin, profit and currency conversion, MetaTrader's way.

* **Margin** (account currency):
  FOREX ``lots * contract / leverage * margin_rate`` in the margin (base) currency;
  FOREX_NO_LEVERAGE without the leverage; CFD/CFDINDEX ``lots * contract * price * rate``;
  CFDLEVERAGE ``lots * contract * price / leverage * rate``; FUTURES/exchange modes use the
  symbol's initial margin (zero here). EURUSD 0.1 lot at 1.0991, leverage 100: 109.91 USD;
  USDJPY 0.1 lot: 100.00 USD.
* **Profit**: ``(close - open) * contract * lots`` (sign flipped for sells) in the profit
  currency, converted at the *close* price when the symbol itself converts it (USDJPY 1 lot,
  +300 points: buy 276.54 / sell 278.09 USD, the reference's example).
* **Conversion** between currencies otherwise uses the catalogue's own pairs at their current
  quote: ``XXXYYY`` bid to turn XXX into YYY, ``YYYXXX`` ask to go the other way, through USD
  when there is no direct pair.

Money amounts are rounded to the account currency's two digits, as MetaTrader reports them.
"""

from __future__ import annotations

from collections.abc import Callable

from forexbot.connectors.mt5_constants import (
    ORDER_TYPE_BUY,
    ORDER_TYPE_BUY_LIMIT,
    ORDER_TYPE_BUY_STOP,
    ORDER_TYPE_BUY_STOP_LIMIT,
    SYMBOL_CALC_MODE_CFD,
    SYMBOL_CALC_MODE_CFDINDEX,
    SYMBOL_CALC_MODE_CFDLEVERAGE,
    SYMBOL_CALC_MODE_FOREX,
    SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE,
)

from .symbols import Catalogue, SymbolSpec

BUY_TYPES = frozenset(
    {ORDER_TYPE_BUY, ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_BUY_STOP, ORDER_TYPE_BUY_STOP_LIMIT}
)
CURRENCY_DIGITS = 2

#: symbol -> (bid, ask) now, or None when the symbol has no quote.
QuoteSource = Callable[[str], tuple[float, float] | None]


def is_buy(order_type: int) -> bool:
    return order_type in BUY_TYPES


class Money:
    """Money arithmetic for one account (currency and leverage) over live quotes."""

    def __init__(
        self, catalogue: Catalogue, currency: str, leverage: int, quotes: QuoteSource
    ) -> None:
        self._catalogue = catalogue
        self.currency = currency
        self.leverage = leverage
        self._quotes = quotes

    def rate(
        self, source: str, target: str, spec: SymbolSpec | None = None, price: float = 0.0
    ) -> float | None:
        """Units of ``target`` per unit of ``source``; ``spec``/``price`` convert at that price."""
        if source == target:
            return 1.0
        if spec is not None and price > 0:
            if (spec.currency_base, spec.currency_profit) == (source, target):
                return price
            if (spec.currency_base, spec.currency_profit) == (target, source):
                return 1.0 / price
        direct = self._catalogue.pair(source, target)
        if direct is not None:
            quote = self._quotes(direct.name)
            return quote[0] if quote else None
        inverse = self._catalogue.pair(target, source)
        if inverse is not None:
            quote = self._quotes(inverse.name)
            return 1.0 / quote[1] if quote and quote[1] > 0 else None
        if "USD" not in (source, target):
            first, second = self.rate(source, "USD"), self.rate("USD", target)
            if first is not None and second is not None:
                return first * second
        return None

    def margin(
        self, order_type: int, spec: SymbolSpec, volume: float, price: float
    ) -> float | None:
        """Margin in account currency for ``volume`` lots at ``price`` (None: no conversion)."""
        lots = volume * spec.contract_size
        mode = spec.calc_mode
        if mode == SYMBOL_CALC_MODE_FOREX:
            amount = lots / self.leverage * spec.margin_rate
        elif mode == SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE:
            amount = lots * spec.margin_rate
        elif mode in (SYMBOL_CALC_MODE_CFD, SYMBOL_CALC_MODE_CFDINDEX):
            amount = lots * price * spec.margin_rate
        elif mode == SYMBOL_CALC_MODE_CFDLEVERAGE:
            amount = lots * price / self.leverage * spec.margin_rate
        else:
            return 0.0
        rate = self.rate(spec.currency_margin, self.currency, spec, price)
        return None if rate is None else round(amount * rate, CURRENCY_DIGITS)

    def profit(
        self,
        order_type: int,
        spec: SymbolSpec,
        volume: float,
        price_open: float,
        price_close: float,
    ) -> float | None:
        """Profit in account currency of ``volume`` lots from ``price_open`` to ``price_close``."""
        sign = 1.0 if is_buy(order_type) else -1.0
        amount = sign * (price_close - price_open) * spec.contract_size * volume
        rate = self.rate(spec.currency_profit, self.currency, spec, price_close)
        return None if rate is None else round(amount * rate, CURRENCY_DIGITS)

    def tick_value(self, spec: SymbolSpec, *, loss: bool = False) -> float:
        """Value in account currency of one tick for one lot (``trade_tick_value``)."""
        quote = self._quotes(spec.name)
        price = (quote[1] if loss else quote[0]) if quote else 0.0
        rate = self.rate(spec.currency_profit, self.currency, spec, price) or 0.0
        return spec.tick_size * spec.contract_size * rate
