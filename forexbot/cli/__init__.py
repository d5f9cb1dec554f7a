"""The ``forexbot`` command line: :mod:`~forexbot.cli.main` (the parser, ``run``, ``migrate``,
``config``), :mod:`~forexbot.cli.users`, :mod:`~forexbot.cli.backtest` (``backtest`` and
``optimize``; their arguments in :mod:`~forexbot.cli.backtest_args`, so that other commands
do not import the backtest machinery), :mod:`~forexbot.cli.data` (MT5 CSV import and export) and
:mod:`~forexbot.cli.runner` (what they share: the loop, the database, the exit codes)."""
