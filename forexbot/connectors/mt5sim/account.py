"""The paper account's state: balance, open positions, pending orders and history.

Positions, orders and deals are kept as MetaTrader's own named tuples (the values the
terminal returns), updated by ``_replace``; a position's ``price_current`` and ``profit`` are
filled in at read time from the current quote. Ticket sequences: orders (and the positions
they open) count from 100,000,001, deals from 200,000,001, so an order ticket is never
mistaken for a deal ticket. ``processed_msc`` is the server time up to which the market has
been replayed against stops and pending orders.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from forexbot.connectors.mt5_constants import (
    ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
    ACCOUNT_MARGIN_MODE_RETAIL_NETTING,
    DEAL_ENTRY_IN,
    DEAL_REASON_CLIENT,
    DEAL_TYPE_BALANCE,
)

from .errors import SimulatorStateError
from .structures import TradeDeal, TradeOrder, TradePosition

STATE_VERSION = 1
FIRST_ORDER_TICKET = 100_000_001
FIRST_DEAL_TICKET = 200_000_001


@dataclass(slots=True)
class AccountState:
    """Everything a broker would keep about the account; mutated only under the terminal lock."""

    seed: int
    login: int
    server: str
    currency: str
    leverage: int
    hedging: bool
    balance: float
    processed_msc: int
    margin_call: float = 100.0  # margin level (%) of the margin call
    stop_out: float = 50.0  # margin level (%) at which positions are closed
    name: str = "Forexbot Paper Trader"
    company: str = "Forexbot Simulated Broker"
    credit: float = 0.0
    positions: dict[int, TradePosition] = field(default_factory=dict)
    orders: dict[int, TradeOrder] = field(default_factory=dict)
    history_orders: list[TradeOrder] = field(default_factory=list)
    deals: list[TradeDeal] = field(default_factory=list)
    market_watch: list[str] = field(default_factory=list)
    next_order: int = FIRST_ORDER_TICKET
    next_deal: int = FIRST_DEAL_TICKET
    next_request: int = 1

    @property
    def margin_mode(self) -> int:
        return (
            ACCOUNT_MARGIN_MODE_RETAIL_HEDGING
            if self.hedging
            else ACCOUNT_MARGIN_MODE_RETAIL_NETTING
        )

    def order_ticket(self) -> int:
        ticket = self.next_order
        self.next_order += 1
        return ticket

    def deal_ticket(self) -> int:
        ticket = self.next_deal
        self.next_deal += 1
        return ticket

    def request_id(self) -> int:
        rid = self.next_request
        self.next_request += 1
        return rid

    def deposit(self, amount: float, time_msc: int, comment: str) -> TradeDeal:
        """Record a balance operation (the initial deposit) as MetaTrader does: a BALANCE deal."""
        deal = TradeDeal(
            ticket=self.deal_ticket(),
            order=0,
            time=time_msc // 1000,
            time_msc=time_msc,
            type=DEAL_TYPE_BALANCE,
            entry=DEAL_ENTRY_IN,
            magic=0,
            position_id=0,
            reason=DEAL_REASON_CLIENT,
            volume=0.0,
            price=0.0,
            commission=0.0,
            swap=0.0,
            profit=amount,
            fee=0.0,
            symbol="",
            comment=comment,
            external_id="",
        )
        self.deals.append(deal)
        self.balance = round(self.balance + amount, 2)
        return deal

    def position_on(self, symbol: str) -> TradePosition | None:
        """The (netting) position on ``symbol``, or the oldest one when hedging."""
        for position in self.positions.values():
            if position.symbol == symbol:
                return position
        return None

    # --- serialisation -----------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "version": STATE_VERSION,
            "seed": self.seed,
            "login": self.login,
            "server": self.server,
            "currency": self.currency,
            "leverage": self.leverage,
            "hedging": self.hedging,
            "margin_call": self.margin_call,
            "stop_out": self.stop_out,
            "name": self.name,
            "company": self.company,
            "balance": self.balance,
            "credit": self.credit,
            "processed_msc": self.processed_msc,
            "next_order": self.next_order,
            "next_deal": self.next_deal,
            "next_request": self.next_request,
            "market_watch": list(self.market_watch),
            "positions": [p._asdict() for p in self.positions.values()],
            "orders": [o._asdict() for o in self.orders.values()],
            "history_orders": [o._asdict() for o in self.history_orders],
            "deals": [d._asdict() for d in self.deals],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AccountState:
        if data.get("version") != STATE_VERSION:
            raise SimulatorStateError(
                f"unsupported paper-account state version {data.get('version')!r}"
                f" (this build reads version {STATE_VERSION})"
            )
        try:
            positions = [TradePosition(**p) for p in data["positions"]]
            orders = [TradeOrder(**o) for o in data["orders"]]
            return cls(
                seed=int(data["seed"]),
                login=int(data["login"]),
                server=str(data["server"]),
                currency=str(data["currency"]),
                leverage=int(data["leverage"]),
                hedging=bool(data["hedging"]),
                margin_call=float(data.get("margin_call", 100.0)),
                stop_out=float(data.get("stop_out", 50.0)),
                name=str(data["name"]),
                company=str(data["company"]),
                balance=float(data["balance"]),
                credit=float(data["credit"]),
                processed_msc=int(data["processed_msc"]),
                next_order=int(data["next_order"]),
                next_deal=int(data["next_deal"]),
                next_request=int(data["next_request"]),
                market_watch=[str(s) for s in data["market_watch"]],
                positions={p.ticket: p for p in positions},
                orders={o.ticket: o for o in orders},
                history_orders=[TradeOrder(**o) for o in data["history_orders"]],
                deals=[TradeDeal(**d) for d in data["deals"]],
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise SimulatorStateError(f"malformed paper-account state: {exc}") from exc
