"""What a backtest or an optimisation can be asked to use: its engine and its objective.

Kept apart from the engines themselves so that whatever only offers the choices (the command
line's parser, built for every ``forexbot`` command) does not import the backtest machinery.
"""

from __future__ import annotations

from typing import Literal

#: ``auto``: the fast kernel when it reproduces the spec, else the event-driven engine.
Engine = Literal["auto", "event", "kernel"]
ENGINES: tuple[Engine, ...] = ("auto", "event", "kernel")

#: Statistics that can be optimised, and whether more is better.
OBJECTIVES: dict[str, bool] = {
    "sharpe": True,
    "sortino": True,
    "profit_factor": True,
    "net_profit": True,
    "return_pct": True,
    "cagr_pct": True,
    "expectancy": True,
    "win_rate_pct": True,
    "max_drawdown_pct": False,
}
