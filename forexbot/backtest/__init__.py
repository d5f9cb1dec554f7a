"""Backtesting and optimisation on the live engine: see :mod:`forexbot.backtest.runner`."""
