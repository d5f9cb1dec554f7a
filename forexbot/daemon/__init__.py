"""The running daemon: the composition root (:mod:`~forexbot.daemon.app`), its lifecycle,
the single-instance lock, systemd notification, restarts, run-time settings and task helpers."""
