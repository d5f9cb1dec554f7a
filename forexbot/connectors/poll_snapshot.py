"""The account and the margins read beside a bar-closing poll's ticks.

A signal comes from a bar that a poll closed, and the risk manager must size it on the
account as it is *now* and check the margin it needs at the quote it will trade. Asking the
terminal at decision time costs two round trips to the worker thread on the order path (and,
with an in-process simulator, two waits for the interpreter lock while the event loop is busy
analysing the burst). So the poll that closes a bar reads, in the same worker job and right
after the ticks:

* ``account_info()``: the account at the moment of those ticks;

and the next worker job (dispatched by a task the poll creates before it publishes the
bars) reads ``order_calc_margin()`` for
:data:`REFERENCE_LOTS` on each side of every symbol whose bar closes, at the price an order
would be checked at (the ask for a buy, the bid for a sell of the symbol's latest tick). The
ticks are not held back for those calls (two per symbol, a round trip each with a real
terminal): the loop builds and analyses the bars meanwhile, and a signal's risk check awaits
the job if it is still running. Only for a burst of at most
:data:`MARGIN_READ_AHEAD_SYMBOLS` symbols: the job holds the terminal's one worker for two
calls a symbol, and an ``order_send`` queues behind it; with hundreds of symbols closing at
once (600 calls for 300) that costs the burst's first orders more than the one call each of
their own it saves, so a wide burst's signals ask for their margin.

The rules that keep this as fresh as asking:

* **Nothing we did since is missing.** Every trade request goes through the connector, which
  counts them (:attr:`PolledAccount.generation`); the worker runs jobs one at a time in the
  order they were asked, so an account read by a job dispatched after the last request
  reflects it, and a request dispatched since makes it unusable. The job of an
  ``order_send`` reads the account again right after the answer, so the next signal of the
  same burst is sized on the account that includes the order just sent.
* **Same moment as the quote.** A margin is only used at exactly the price it was computed
  at, and both only within :data:`MAX_AGE_SECONDS` of their read (signals are decided in
  milliseconds; a manual order long after the poll asks the terminal). A reconnection
  forgets both.
* **Margin is linear in volume.** Every MetaTrader calc mode is lots × a per-lot amount
  (forex, CFD, CFD-leverage, futures), and ``order_calc_margin`` ignores the positions held,
  so the margin for ``v`` lots is ``v / REFERENCE_LOTS`` of the reference figure. The
  reference is large so the terminal's rounding to cents is negligible once scaled. (A broker
  with exposure-tiered leverage breaks linearity; its ``order_send`` stays the authority and
  refuses with ``NO_MONEY``.)

Anything the snapshot cannot answer, the caller asks the terminal for, as before.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from forexbot.domain.trading import AccountState, Side

#: Lots the poll asks ``order_calc_margin`` for (per-lot figures are scaled from it).
REFERENCE_LOTS = 100.0
#: The widest burst (symbols whose bar a poll closes) whose margins are read ahead.
MARGIN_READ_AHEAD_SYMBOLS = 40
#: How long after its poll (clock seconds) a snapshot's account may size an order.
MAX_AGE_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PolledAccount:
    """The account as a terminal job read it, beside the poll's ticks or an order's answer."""

    #: The connector's trade-request count when the job was dispatched.
    generation: int
    #: Clock time of the read.
    taken_at: float
    account: AccountState

    def usable(self, generation: int, now: float) -> bool:
        """No trade request since, and read within :data:`MAX_AGE_SECONDS`."""
        return self.generation == generation and 0.0 <= now - self.taken_at <= MAX_AGE_SECONDS


@dataclass(frozen=True, slots=True)
class PolledMargins:
    """The margins one bar-closing poll read at its quotes. Our own orders do not change
    them (``order_calc_margin`` ignores the positions held); a new quote does, which the
    exact price match sees."""

    #: Clock time of the poll.
    taken_at: float
    #: ``(symbol, side)`` → (price, margin for :data:`REFERENCE_LOTS` at that price).
    margins: Mapping[tuple[str, Side], tuple[float, float]]

    def margin(
        self, side: Side, symbol: str, volume: float, price: float, now: float
    ) -> float | None:
        """The margin of ``volume`` lots at ``price``, or None when not read at that price or
        too long ago."""
        known = self.margins.get((symbol, side))
        if known is None or known[0] != price or not 0.0 <= now - self.taken_at <= MAX_AGE_SECONDS:
            return None
        return volume * known[1] / REFERENCE_LOTS
