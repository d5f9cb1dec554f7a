"""Which MetaTrader answers to ``order_send`` may be retried, and which never.

The rule: resend only when the server *did not act* on the request and a later attempt at a
fresh price may succeed — a requote, a price that changed, no prices, a request the server
cancelled by timeout, too many requests, no connection to the trade server. Everything else is
fatal for that order (no money, invalid stops or volume, market closed, trading disabled...):
resending the same request would only be refused again, or worse, executed twice.

A lost answer (``-10005 IPC timeout``, ``-10002 IPC receive failed``, or our own worker's
timeout) is different: the order may have executed. It is never retried blindly; the order is
looked for first. ``-10004 No IPC connection`` and ``-10001 IPC send failed`` mean the request
never left: a plain failure.
"""

from __future__ import annotations

DONE = 10009
DONE_PARTIAL = 10010
PLACED = 10008
NO_CHANGES = 10025

#: Terminal (last_error) code of a lost answer: the request may have executed.
IPC_TIMEOUT = -10005
#: The request reached the terminal but its answer did not come back (may have executed).
IPC_RECEIVE = -10002

#: Trade-server codes worth a resend at a fresh price, with what they mean.
RETRYABLE: dict[int, str] = {
    10004: "requote",
    10012: "request cancelled by timeout at the server",
    10020: "prices changed",
    10021: "no quotes to process the request",
    10024: "too frequent requests",
    10031: "no connection with the trade server",
}

_NAMES: dict[int, str] = {
    10006: "request rejected",
    10007: "request cancelled by the trader",
    10008: "order placed",
    10009: "request completed",
    10010: "only part of the request was completed",
    10011: "request processing error",
    10013: "invalid request",
    10014: "invalid volume",
    10015: "invalid price",
    10016: "invalid stops",
    10017: "trading is disabled",
    10018: "market is closed",
    10019: "not enough money",
    10022: "invalid order expiration",
    10023: "order state changed",
    10025: "no changes in request",
    10026: "autotrading disabled by server",
    10027: "autotrading disabled by client terminal",
    10028: "request locked for processing",
    10029: "order or position frozen",
    10030: "unsupported filling mode",
    10032: "operation is allowed only for live accounts",
    10033: "pending orders limit reached",
    10034: "volume limit reached",
    10035: "invalid or prohibited order type",
    10036: "position already closed",
    10038: "close volume exceeds the position's volume",
    10039: "a close order already exists",
    10040: "positions limit reached",
    10041: "pending order activation rejected",
    10042: "only long positions are allowed",
    10043: "only short positions are allowed",
    10044: "only position closing is allowed",
    10045: "position closing allowed only by FIFO rule",
    10046: "opposite positions on one symbol are disabled",
    IPC_TIMEOUT: "IPC timeout",
}


def is_done(retcode: int) -> bool:
    """A deal happened (10009 DONE, 10010 DONE_PARTIAL)."""
    return retcode in (DONE, DONE_PARTIAL)


def is_retryable(retcode: int) -> bool:
    """The server did not act on the request and a fresh attempt may succeed."""
    return retcode in RETRYABLE


def describe(retcode: int) -> str:
    """``"10019 not enough money"``: the code and what MetaTrader means by it."""
    name = RETRYABLE.get(retcode) or _NAMES.get(retcode) or "unknown return code"
    return f"{retcode} {name}"
