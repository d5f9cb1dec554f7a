"""The Linux bridge: the ``MetaTrader5`` module served over rpyc from Python under Wine.

MetaTrader 5 is a Windows program and its Python package has no Linux wheels, so a daemon on a
Linux VPS reaches the terminal through a small server running next to it (Python under Wine, or
on Windows). mt5linux, the usual tool, runs an rpyc *classic* server: anyone who can connect
executes arbitrary code, and results travel as netrefs or pickles that break across versions.

This package replaces it with:

* :mod:`.server` — ``forexbot bridge-server``: a restricted rpyc service exposing only the
  MetaTrader5 functions and constants, loopback by default, optional shared secret (HMAC
  challenge-response), every module call serialised on one lock;
* :mod:`.wire` — the by-value format both sides use (named tuples and numpy arrays included);
* :mod:`.client` — :class:`~.client.BridgeTerminal`, a :class:`TerminalApi` over that server;
* :mod:`.classic` — :class:`~.classic.ClassicBridgeTerminal` for an existing mt5linux classic
  server (with a warning).

Importing this package does no work and does not import rpyc.
"""
