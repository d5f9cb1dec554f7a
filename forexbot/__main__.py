"""``python -m forexbot`` is the same as the ``forexbot`` console script."""

from forexbot.cli.main import main

raise SystemExit(main())
