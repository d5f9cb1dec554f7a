"""forexbot: an automated trading daemon for MetaTrader 5.

Importing the package does no work: components are built by :mod:`forexbot.daemon.app`.
"""

__version__ = "0.1.0"
