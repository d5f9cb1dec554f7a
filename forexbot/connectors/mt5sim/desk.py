"""Shared parts of the trade server: the verdict type and the desk's helpers."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from forexbot.connectors.mt5_constants import (
    ORDER_REASON_EXPERT,
    ORDER_STATE_STARTED,
    ORDER_TYPE_BUY_LIMIT,
    ORDER_TYPE_SELL_STOP_LIMIT,
    TRADE_RETCODE_MARKET_CLOSED,
    TRADE_RETCODE_PRICE_OFF,
)

from .ledger import Fill, Ledger
from .structures import TradeOrder, TradeRequest
from .symbols import SymbolSpec

PENDING_TYPES = frozenset(range(ORDER_TYPE_BUY_LIMIT, ORDER_TYPE_SELL_STOP_LIMIT + 1))
EPSILON = 1e-9  # volume and money comparisons


class UnknownSymbol(LookupError):
    """The request names a symbol the terminal does not know (a terminal-level failure)."""


@dataclass(frozen=True, slots=True)
class Outcome:
    """A handler's verdict: the return code and, when executed, what happened."""

    retcode: int
    fill: Fill | None = None
    order: int = 0
    volume: float = 0.0
    price: float = 0.0
    bid: float = 0.0
    ask: float = 0.0
    margin: float = 0.0  # margin the request would add (order_check)


class DeskBase:
    """The ledger, the market-state callbacks and helpers every trade action uses."""

    def __init__(
        self,
        ledger: Ledger,
        *,
        market_open: Callable[[str], bool],
        selected: Callable[[str], bool],
        requotes: bool = False,
        slippage_points: int = 0,
    ) -> None:
        if slippage_points < 0:
            raise ValueError(f"slippage must not be negative, got {slippage_points} points")
        self.ledger = ledger
        self._market_open = market_open
        self._selected = selected
        self.requotes = requotes
        self.slippage_points = slippage_points

    # --- helpers ----------------------------------------------------------------------
    def _spec(self, symbol: str) -> SymbolSpec:
        spec = self.ledger.catalogue.get(symbol)
        if spec is None:
            raise UnknownSymbol(symbol)
        return spec

    def _quote(self, symbol: str) -> tuple[float, float] | None:
        return self.ledger.quote(symbol) if self._selected(symbol) else None

    def _live_quote(self, spec: SymbolSpec) -> tuple[float, float] | Outcome:
        """(bid, ask) to change an order or position of ``spec`` at, or the refusal, in
        MetaTrader's order: 10021 without quotes (not in Market Watch), then 10018 with the
        market closed."""
        quote = self._quote(spec.name)
        if quote is None:
            return Outcome(TRADE_RETCODE_PRICE_OFF)
        if not self._market_open(spec.name):
            return Outcome(TRADE_RETCODE_MARKET_CLOSED)
        return quote

    def _order(self, request: TradeRequest, spec: SymbolSpec) -> TradeOrder:
        """A new order ticket for ``request``, set up now (callers ``_replace`` the rest)."""
        now = self.ledger.now_msc
        return TradeOrder(
            ticket=self.ledger.state.order_ticket(),
            time_setup=now // 1000,
            time_setup_msc=now,
            time_done=0,
            time_done_msc=0,
            time_expiration=0,
            type=request.type,
            type_time=request.type_time,
            type_filling=request.type_filling,
            state=ORDER_STATE_STARTED,
            magic=request.magic,
            position_id=0,
            position_by_id=0,
            reason=ORDER_REASON_EXPERT,
            volume_initial=request.volume,
            volume_current=request.volume,
            price_open=round(request.price, spec.digits),
            sl=round(request.sl, spec.digits),
            tp=round(request.tp, spec.digits),
            price_current=0.0,
            price_stoplimit=round(request.stoplimit, spec.digits),
            symbol=spec.name,
            comment=request.comment,
            external_id="",
        )

    def _free_margin(self) -> float:
        profit, used = self.ledger.totals()
        return self.ledger.state.balance + self.ledger.state.credit + profit - used
