"""Swaps at the daily rollover (SYMBOL_SWAP_MODE_POINTS).

At every server midnight each open position accrues its symbol's ``swap_long`` (buys) or
``swap_short`` (sells), in points per lot: ``points x point x contract_size x volume`` in the
profit currency, converted to the account currency at that moment's quote (USDJPY's JPY at
1 / bid, say). Rules:

* a position is charged for a day only when its symbol traded that day (forex: the
  midnights ending Monday to Friday; synthetic indices: every day);
* the day given by ``swap_rollover3days`` (MetaTrader's numbering, 0 = Sunday, 3 =
  Wednesday) is charged three times, for the weekend;
* the swap accrues in the position's ``swap`` (counted in equity) and is realised, in
  proportion to the volume closed, by the closing deal.

Symbols in another swap mode (none in the catalogue) are not charged.
"""

from __future__ import annotations

from forexbot.connectors.mt5_constants import POSITION_TYPE_BUY, SYMBOL_SWAP_MODE_POINTS

from .ledger import Ledger
from .money import CURRENCY_DIGITS
from .timeutil import DAY, weekday

DAY_MS = DAY * 1000


def next_rollover(since_msc: int, until_msc: int) -> int | None:
    """The first server midnight strictly after ``since`` and not after ``until`` (msc)."""
    midnight = (since_msc // DAY_MS + 1) * DAY_MS
    return midnight if midnight <= until_msc else None


def charge(ledger: Ledger, midnight_msc: int) -> bool:
    """Accrue the rollover at ``midnight_msc`` on every open position; True if any changed."""
    state = ledger.state
    if ledger.swap_free:
        return False
    day = midnight_msc // DAY_MS - 1  # the day that ends at this midnight
    triple_day = (weekday(day) + 1) % 7  # MetaTrader's day of week: 0 = Sunday
    feed = ledger.market.feed
    changed = False
    for ticket, position in list(state.positions.items()):
        spec = ledger.spec(position.symbol)
        if spec.swap_mode != SYMBOL_SWAP_MODE_POINTS:
            continue
        if not feed.is_open(position.symbol, midnight_msc / 1000 - 1):
            continue
        buy = position.type == POSITION_TYPE_BUY
        points = spec.swap_long if buy else spec.swap_short
        if not points:
            continue
        days = 3 if triple_day == spec.swap_rollover3days else 1
        amount = points * spec.point * spec.contract_size * position.volume * days
        quote = ledger.quote(position.symbol)
        price = quote[0] if quote else 0.0
        rate = ledger.money.rate(spec.currency_profit, state.currency, spec, price)
        if rate is None:
            continue
        swap = round(position.swap + amount * rate, CURRENCY_DIGITS)
        state.positions[ticket] = position._replace(swap=swap)
        changed = True
    return changed
