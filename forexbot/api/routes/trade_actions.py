"""Acting on trades and positions: open a manual trade, close, partially close, move SL/TP.

Rules:

* Every route here needs the ``trader`` or ``admin`` role (a viewer gets 403): it moves money.
* ``POST /api/trades`` takes ``{"symbol", "side": "buy"|"sell", "sl", "tp"?, "volume"?,
  "comment"?}``. The order goes through the same risk checks as a strategy's signal; a refusal
  is 422 ``risk_rejected`` with the risk code in ``details.reason``. The answer is the trade:
  201 when it opened, 422 ``order_rejected`` (the trade in ``details``) when the terminal
  refused it, 409 ``order_cancelled`` when trading was halted between the risk check and the
  send, 202 when the terminal's answer was lost and reconciliation will settle it.
* ``PUT /api/trades/{id}`` takes ``{"sl"?, "tp"?}`` (at least one; 0 removes a level);
  ``DELETE /api/trades/{id}`` closes the trade (``?volume=`` closes part of it): 200 with the
  trade once recorded, 202 when the close executed but its deals could not be read yet
  (reconciliation records it).
* ``PUT /api/positions/{ticket}/sl`` takes ``{"sl": price}``, ``.../tp`` ``{"tp": price}``
  (0 removes), ``POST /api/positions/{ticket}/close`` ``{"volume"?}``; ``ticket`` is the
  terminal's position ticket of a position the bot holds (others are 404).
* Values are checked the way the terminal would (volume step and limits, side of the price,
  stops and freeze levels) and refused with 422 and a message naming the problem; a state
  that does not allow the action (a trade still being sent, already closed) is 409; the
  terminal refusing anyway is 502.
* ``GET /api/trades/{id}/history`` lists the trade's transitions (any role).
* While the daemon shuts down every action is 503 ``shutting_down``.
* Every accepted change is audited in ``system_logs`` with the user and source address.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal, TypeVar

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field, model_validator

from forexbot.api.audit import audit
from forexbot.api.auth import claims_of, requires_role
from forexbot.api.errors import ApiError
from forexbot.api.operations import operation
from forexbot.api.ports import SystemLogStore, TradingActions
from forexbot.api.responses import json_response
from forexbot.api.roles import Role
from forexbot.api.schemas import Id, Trade, TransitionList
from forexbot.api.validation import parse_query, read_json
from forexbot.domain.trading import ManualOrder, Side

_H = TypeVar("_H", bound=Callable[..., Awaitable[web.StreamResponse]])

_MAX_BIGINT = 2**63 - 1
_ID = r"{%s:\d{1,19}}"

Price = float  # a price; rounded to the symbol's digits by the engine
_STRICT = ConfigDict(extra="forbid", strict=True, frozen=True, allow_inf_nan=False)


class ManualTradeBody(BaseModel):
    """The body of ``POST /api/trades``."""

    model_config = _STRICT

    symbol: str = Field(min_length=1, max_length=32)
    side: Literal["buy", "sell"]
    sl: Price = Field(gt=0)
    tp: Price | None = Field(default=None, gt=0)
    volume: float | None = Field(default=None, gt=0, le=100_000)
    comment: str | None = Field(
        default=None,
        max_length=200,
        description="Kept as the trade's reason. Never sent to MetaTrader, whose order comment "
        "is the bot's client order id (MetaTrader refuses long or special-character comments).",
    )


class StopsBody(BaseModel):
    """The body of ``PUT /api/trades/{id}``: new SL and/or TP (0 removes one)."""

    model_config = _STRICT

    sl: Price | None = Field(default=None, ge=0)
    tp: Price | None = Field(default=None, ge=0)

    @model_validator(mode="after")
    def _one_of(self) -> StopsBody:
        if self.sl is None and self.tp is None:
            raise ValueError("give sl, tp or both")
        return self


class SlBody(BaseModel):
    model_config = _STRICT

    sl: Price = Field(ge=0)


class TpBody(BaseModel):
    model_config = _STRICT

    tp: Price = Field(ge=0)


class CloseBody(BaseModel):
    """The body of ``POST /api/positions/{ticket}/close``: all of it without a volume."""

    model_config = _STRICT

    volume: float | None = Field(default=None, gt=0, le=100_000)


class CloseQuery(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    volume: float | None = Field(default=None, gt=0, le=100_000)


_ACTION_ERRORS = {
    404: "No such trade, or no such position of the bot.",
    409: "The trade's state does not allow it (still being sent, already closed).",
    422: "A value the terminal would refuse (volume step, side of the price, stops level).",
    502: "The terminal refused the request.",
}


def _action(
    summary: str,
    *,
    on: Literal["trade_id", "ticket"],
    responses: Mapping[int, type[BaseModel]],
    body: type[BaseModel] | None = None,
    body_optional: bool = False,
    query: type[BaseModel] | None = None,
) -> Callable[[_H], _H]:
    """An action on an existing trade or position (``on``: the path's id): trader or admin
    only, since it moves money, with the errors every such action shares
    (:data:`_ACTION_ERRORS`)."""
    declare = operation(
        summary,
        tag="trading",
        responses=responses,
        body=body,
        body_optional=body_optional,
        query=query,
        errors=_ACTION_ERRORS,
        path={on: Id},
    )
    allow = requires_role(Role.TRADER, Role.ADMIN)

    def decorate(handler: _H) -> _H:
        return allow(declare(handler))

    return decorate


def _number(request: web.Request, name: str) -> int:
    value = int(request.match_info[name])
    if not 0 < value <= _MAX_BIGINT:
        raise ApiError(404, "not_found", f"{name.replace('_', ' ')} {value} does not exist")
    return value


def _settled_status(trade: dict[str, Any]) -> int:
    """200 once the close is recorded; 202 while it executed but is still being settled."""
    return 202 if trade["status"] == "closing" else 200


async def _close_body(request: web.Request) -> CloseBody:
    """An empty body means "close it all"."""
    if not request.can_read_body:
        return CloseBody()
    return await read_json(request, CloseBody)


class TradeActionRoutes:
    """The write side of trading, answered by the engine's :class:`TradingActions`."""

    def __init__(self, trading: TradingActions, system_logs: SystemLogStore) -> None:
        self._trading = trading
        self._audit = system_logs

    def routes(self) -> list[web.RouteDef]:
        trade = "/api/trades/" + _ID % "trade_id"
        position = "/api/positions/" + _ID % "ticket"
        return [
            web.post("/api/trades", self.open_trade),
            web.put(trade, self.modify_trade),
            web.delete(trade, self.close_trade),
            web.get(trade + "/history", self.trade_history),
            web.put(position + "/sl", self.set_position_sl),
            web.put(position + "/tp", self.set_position_tp),
            web.post(position + "/close", self.close_position),
        ]

    @requires_role(Role.TRADER, Role.ADMIN)
    @operation(
        "Open a manual trade",
        tag="trading",
        body=ManualTradeBody,
        responses={201: Trade, 202: Trade},
        errors={
            409: "Trading was halted between the risk check and the send (order_cancelled).",
            422: "Refused by a risk rule (risk_rejected) or by the terminal (order_rejected).",
        },
    )
    async def open_trade(self, request: web.Request) -> web.Response:
        body = await read_json(request, ManualTradeBody)
        order = ManualOrder(
            symbol=body.symbol,
            side=Side.BUY if body.side == "buy" else Side.SELL,
            sl=body.sl,
            tp=body.tp,
            volume=body.volume,
            comment=body.comment,
        )
        trade = (await self._trading.open_trade(order, actor=claims_of(request).username)).to_api()
        await audit(
            self._audit,
            request,
            "trade_opened",
            f"manual {body.side} {body.symbol}: trade {trade['id']} is {trade['status']}",
            {"trade_id": trade["id"], "order": body.model_dump(), "status": trade["status"]},
        )
        if trade["status"] == "rejected":
            raise ApiError(
                422,
                "order_rejected",
                f"the terminal refused the order: {trade.get('reject_message')}",
                details=trade,
            )
        if trade["status"] == "cancelled":
            raise ApiError(
                409, "order_cancelled", f"not sent: {trade.get('close_reason')}", details=trade
            )
        status = 201 if trade["status"] == "open" else 202
        return json_response(trade, status=status)

    @_action("Move a trade's SL and/or TP", on="trade_id", body=StopsBody, responses={200: Trade})
    async def modify_trade(self, request: web.Request) -> web.Response:
        trade_id = _number(request, "trade_id")
        body = await read_json(request, StopsBody)
        trade = (
            await self._trading.modify_trade(
                trade_id, sl=body.sl, tp=body.tp, actor=claims_of(request).username
            )
        ).to_api()
        await self._changed(request, "trade_modified", trade, body.model_dump(exclude_none=True))
        return json_response(trade)

    @_action(
        "Close a trade, or part of it",
        on="trade_id",
        query=CloseQuery,
        responses={200: Trade, 202: Trade},
    )
    async def close_trade(self, request: web.Request) -> web.Response:
        trade_id = _number(request, "trade_id")
        query = parse_query(request, CloseQuery)
        trade = (
            await self._trading.close_trade(
                trade_id, volume=query.volume, actor=claims_of(request).username
            )
        ).to_api()
        event = "trade_closed" if trade["status"] == "closed" else "trade_reduced"
        await self._changed(request, event, trade, {"volume": query.volume})
        return json_response(trade, status=_settled_status(trade))

    @operation(
        "A trade's lifecycle transitions",
        tag="trading",
        responses={200: TransitionList},
        errors={404: "No such trade."},
        path={"trade_id": Id},
    )
    async def trade_history(self, request: web.Request) -> web.Response:
        trade_id = _number(request, "trade_id")
        history = await self._trading.trade_history(trade_id)
        if history is None:
            raise ApiError(404, "not_found", f"trade {trade_id} does not exist")
        return json_response({"items": [t.to_api() for t in history]})

    @_action("Move a position's stop loss", on="ticket", body=SlBody, responses={200: Trade})
    async def set_position_sl(self, request: web.Request) -> web.Response:
        ticket = _number(request, "ticket")
        body = await read_json(request, SlBody)
        trade = (
            await self._trading.modify_position(
                ticket, sl=body.sl, tp=None, actor=claims_of(request).username
            )
        ).to_api()
        await self._changed(request, "position_sl_set", trade, {"ticket": ticket, "sl": body.sl})
        return json_response(trade)

    @_action("Move a position's take profit", on="ticket", body=TpBody, responses={200: Trade})
    async def set_position_tp(self, request: web.Request) -> web.Response:
        ticket = _number(request, "ticket")
        body = await read_json(request, TpBody)
        trade = (
            await self._trading.modify_position(
                ticket, sl=None, tp=body.tp, actor=claims_of(request).username
            )
        ).to_api()
        await self._changed(request, "position_tp_set", trade, {"ticket": ticket, "tp": body.tp})
        return json_response(trade)

    @_action(
        "Close a position, or part of it",
        on="ticket",
        body=CloseBody,
        body_optional=True,
        responses={200: Trade, 202: Trade},
    )
    async def close_position(self, request: web.Request) -> web.Response:
        ticket = _number(request, "ticket")
        body = await _close_body(request)
        trade = (
            await self._trading.close_position(
                ticket, volume=body.volume, actor=claims_of(request).username
            )
        ).to_api()
        event = "position_closed" if trade["status"] == "closed" else "position_reduced"
        await self._changed(request, event, trade, {"ticket": ticket, "volume": body.volume})
        return json_response(trade, status=_settled_status(trade))

    async def _changed(
        self, request: web.Request, event: str, trade: dict[str, Any], change: dict[str, Any]
    ) -> None:
        message = f"{event.replace('_', ' ')}: trade {trade['id']} is {trade['status']}"
        await audit(self._audit, request, event, message, {"trade_id": trade["id"], **change})
