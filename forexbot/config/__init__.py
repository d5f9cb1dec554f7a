"""Configuration: :mod:`~forexbot.config.models` (every section, its defaults and rules) and
:mod:`~forexbot.config.loader` (the YAML files, ``FOREXBOT_*`` variables and command-line
overrides that fill them, in that order of precedence)."""
