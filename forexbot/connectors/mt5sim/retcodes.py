"""The comment a trade server returns with each return code (``OrderSendResult.comment``)."""

from __future__ import annotations

from forexbot.connectors.mt5_constants import (
    TRADE_RETCODE_CLOSE_ONLY,
    TRADE_RETCODE_DONE,
    TRADE_RETCODE_FROZEN,
    TRADE_RETCODE_INVALID,
    TRADE_RETCODE_INVALID_CLOSE_VOLUME,
    TRADE_RETCODE_INVALID_EXPIRATION,
    TRADE_RETCODE_INVALID_FILL,
    TRADE_RETCODE_INVALID_ORDER,
    TRADE_RETCODE_INVALID_PRICE,
    TRADE_RETCODE_INVALID_STOPS,
    TRADE_RETCODE_INVALID_VOLUME,
    TRADE_RETCODE_LONG_ONLY,
    TRADE_RETCODE_MARKET_CLOSED,
    TRADE_RETCODE_NO_CHANGES,
    TRADE_RETCODE_NO_MONEY,
    TRADE_RETCODE_PLACED,
    TRADE_RETCODE_POSITION_CLOSED,
    TRADE_RETCODE_PRICE_CHANGED,
    TRADE_RETCODE_PRICE_OFF,
    TRADE_RETCODE_REJECT,
    TRADE_RETCODE_REQUOTE,
    TRADE_RETCODE_SHORT_ONLY,
    TRADE_RETCODE_TRADE_DISABLED,
)

_COMMENTS = {
    TRADE_RETCODE_REQUOTE: "Requote",
    TRADE_RETCODE_REJECT: "Request rejected",
    TRADE_RETCODE_PLACED: "Order placed",
    TRADE_RETCODE_DONE: "Request executed",
    TRADE_RETCODE_INVALID: "Invalid request",
    TRADE_RETCODE_INVALID_VOLUME: "Invalid volume",
    TRADE_RETCODE_INVALID_PRICE: "Invalid price",
    TRADE_RETCODE_INVALID_STOPS: "Invalid stops",
    TRADE_RETCODE_TRADE_DISABLED: "Trade disabled",
    TRADE_RETCODE_MARKET_CLOSED: "Market closed",
    TRADE_RETCODE_NO_MONEY: "No money",
    TRADE_RETCODE_PRICE_CHANGED: "Prices changed",
    TRADE_RETCODE_PRICE_OFF: "No prices",
    TRADE_RETCODE_INVALID_EXPIRATION: "Invalid expiration",
    TRADE_RETCODE_NO_CHANGES: "No changes",
    TRADE_RETCODE_FROZEN: "Order or position frozen",
    TRADE_RETCODE_INVALID_FILL: "Unsupported filling mode",
    TRADE_RETCODE_INVALID_ORDER: "Invalid order",
    TRADE_RETCODE_POSITION_CLOSED: "Position already closed",
    TRADE_RETCODE_INVALID_CLOSE_VOLUME: "Invalid close volume",
    TRADE_RETCODE_LONG_ONLY: "Long only",
    TRADE_RETCODE_SHORT_ONLY: "Short only",
    TRADE_RETCODE_CLOSE_ONLY: "Close only",
}


def retcode_comment(retcode: int) -> str:
    return _COMMENTS.get(retcode, f"Error {retcode}")
