"""Symbol specifications for tests that need a symbol but no terminal: EURUSD as a typical
broker quotes it on a USD account (5 digits, 1 USD per point per lot, 0.01-lot steps)."""

from __future__ import annotations

from forexbot.domain.market import SymbolSpec

EURUSD = SymbolSpec(
    name="EURUSD",
    digits=5,
    point=0.00001,
    tick_size=0.00001,
    tick_value=1.0,
    contract_size=100_000,
    volume_min=0.01,
    volume_max=100.0,
    volume_step=0.01,
    currency_base="EUR",
    currency_profit="USD",
)
