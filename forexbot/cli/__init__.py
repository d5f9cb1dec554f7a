"""The ``forexbot`` command line: :mod:`~forexbot.cli.main` (the parser, ``run``, ``migrate``,
``config``), :mod:`~forexbot.cli.users`, :mod:`~forexbot.cli.backtest` (``backtest`` and
``optimize``), :mod:`~forexbot.cli.data` (MT5 CSV import and export) and
:mod:`~forexbot.cli.runner` (what they share: the loop, the database, the exit codes)."""
