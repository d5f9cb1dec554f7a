"""Configuration: YAML files validated by pydantic, overridable by environment variables.

Rules this module enforces:

* The file (``config/forexbot.yaml`` by default, or ``--config PATH``) is optional: every key
  has a sane default, so ``forexbot run`` needs no configuration at all.
* ``FOREXBOT_<SECTION>__<KEY>=value`` overrides ``section.key`` (e.g.
  ``FOREXBOT_RISK__RISK_PER_TRADE_PERCENT=0.5``), and ``FOREXBOT_MODE``,
  ``FOREXBOT_WATCHLIST`` and ``FOREXBOT_RISK_FILE`` the top-level keys; values are parsed
  as YAML scalars, so ``true``, ``2`` and ``[EURUSD, GBPUSD]`` mean what they look like.
* The risk limits live in their own file, ``risk_config.yaml`` next to the main file
  (``config/risk_config.yaml`` without one; ``risk_file`` names another); keys of a ``risk:``
  section in the main file, then the environment, win over it.
* Unknown keys are errors, in the file and in ``FOREXBOT_*__*`` variables alike: a typo must
  never be silently ignored when money is at stake.
* Every error names the key, the bad value and what is allowed, and is raised as
  :class:`~forexbot.errors.ConfigError` (the CLI turns it into exit code 2).
* Secrets (database URL with password, JWT secret) come from the environment, never the file.
* The strategies run from one source: the strategies file when it exists, else the
  ``strategy`` section; a setting that the source in force would ignore is refused
  (:func:`load_strategy_instances`).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import structlog
import yaml
from pydantic import ValidationError

from forexbot.config.models import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_RISK_FILE,
    ENV_PREFIX,
    Settings,
    StrategiesFile,
    StrategyInstanceSettings,
)
from forexbot.errors import ConfigError

_log = structlog.get_logger("forexbot.config")

#: The ``strategy`` keys a strategies file replaces.
_SECTION_KEYS = ("name", "timeframe", "params")
_CHOOSE_THE_SECTION = "strategy.file: null (FOREXBOT_STRATEGY__FILE=null)"


def load_strategy_instances(settings: Settings) -> list[StrategyInstanceSettings]:
    """The strategy instances to run, from one source, which is logged at start:

    * the strategies file when it exists: ``strategy.file`` (relative to the main
      configuration file's directory when written there, else to the working directory), by
      default ``config/strategies.yaml`` in the working directory;
    * else (and always with ``strategy.file: null``) the ``strategy`` section's ``name``,
      ``timeframe`` and ``params`` on the whole watchlist.

    An ambiguous or contradictory configuration is refused with a
    :class:`~forexbot.errors.ConfigError` that names the source in force and what to change,
    never resolved silently:

    * ``strategy.file`` set to a file that does not exist;
    * ``strategy.name``, ``timeframe`` or ``params`` set (in the file, ``FOREXBOT_STRATEGY__*``)
      while a strategies file is in force: one of the two would be ignored;
    * a strategies file entry listing a symbol outside the watchlist (it would never receive a
      bar).
    """
    if settings.strategy.file is None:
        return [_section_instance(settings)]
    path = Path(settings.strategy.file)
    named = "file" in settings.strategy.model_fields_set
    if not path.is_file():
        if named:
            raise ConfigError(
                f"strategy.file = {settings.strategy.file!r}: no such file (a relative path is "
                f"taken from the configuration file's directory when written there, else from "
                f"the working directory {Path.cwd()}); to run strategy.name on the watchlist "
                f"instead, set {_CHOOSE_THE_SECTION}"
            )
        return [_section_instance(settings)]
    in_force = _strategies_file(path, named)
    overridden = [k for k in _SECTION_KEYS if k in settings.strategy.model_fields_set]
    if overridden:
        *rest, last = [f"strategy.{k}" for k in overridden]
        keys = f"{', '.join(rest)} and {last}" if rest else last
        raise ConfigError(
            f"{keys} cannot apply: {in_force} is in force, and its instances replace the "
            f"strategy section. Choose one: remove {keys} from the configuration (file or "
            f"FOREXBOT_STRATEGY__* variables) to run the file's instances, or set "
            f"{_CHOOSE_THE_SECTION} to run {keys} on the watchlist"
        )
    data = _read_yaml(path)
    try:
        instances = list(StrategiesFile.model_validate(data).instances)
    except ValidationError as exc:
        message = _describe(exc, {}).replace("configuration", f"strategies file {path}")
        raise ConfigError(message) from None
    for number, instance in enumerate(instances, start=1):
        unknown = [s for s in instance.symbols or () if s not in settings.watchlist]
        if unknown:
            raise ConfigError(
                f"{in_force} is in force, and its entry {number} ({instance.strategy} on "
                f"{instance.timeframe}) lists {unknown}, which the watchlist "
                f"{list(settings.watchlist)} does not have: add them to the watchlist, remove "
                f"them from the entry's symbols, or set strategy.file to another strategies "
                f"file, or to null (FOREXBOT_STRATEGY__FILE=null) to run strategy.name on the "
                f"watchlist instead"
            )
    _log.info(
        "strategies from the strategies file",
        file=str(path.resolve()),
        entries=len(instances),
        enabled=sum(1 for i in instances if i.enabled),
    )
    return instances


def _strategies_file(path: Path, named: bool) -> str:
    """How a person recognises the strategies file in force, in a message."""
    where = "" if path.is_absolute() else f", in the working directory {Path.cwd()}"
    return f"the strategies file {path} ({'strategy.file' if named else 'the default'}{where})"


def _section_instance(settings: Settings) -> StrategyInstanceSettings:
    s = settings.strategy
    _log.info(
        "strategy from settings, on the watchlist",
        strategy=s.name,
        timeframe=s.timeframe,
        symbols=len(settings.watchlist),
    )
    return StrategyInstanceSettings(strategy=s.name, timeframe=s.timeframe, params=s.params)


_TOP_LEVEL_KEYS = frozenset({"mode", "watchlist", "risk_file"})


def load_settings(
    path: Path | None = None,
    environ: Mapping[str, str] | None = None,
    overrides: Mapping[str, Any] | None = None,
) -> Settings:
    """Read the file (when given or when the default file exists), apply ``FOREXBOT_*__*``
    variables, then ``overrides`` (dotted keys from the command line), and validate."""
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {}
    source: dict[str, str] = {}
    if path is not None:
        if not path.is_file():
            raise ConfigError(f"config file {path} does not exist")
        data = _read_yaml(path)
    elif DEFAULT_CONFIG_FILE.is_file():
        path = DEFAULT_CONFIG_FILE
        data = _read_yaml(path)
    for dotted in _flatten(data):
        source[dotted] = str(path)
    if path is not None:
        _anchor_strategies_file(data, path)
    assignments: dict[str, tuple[Any, str]] = {}
    for name, raw in env.items():
        if not name.startswith(ENV_PREFIX):
            continue
        dotted = name[len(ENV_PREFIX) :].lower().replace("__", ".")
        if "__" not in name and dotted not in _TOP_LEVEL_KEYS:
            continue  # FOREXBOT_DATA_DIR, FOREXBOT_JWT_SECRET...: not configuration keys
        assignments[dotted] = (_parse_scalar(raw), name)
    _merge_risk_file(data, source, assignments.get("risk_file", (None, ""))[0], path)
    for dotted, (value, name) in assignments.items():
        _assign(data, dotted, value)
        source[dotted] = name
    for dotted, value in (overrides or {}).items():
        _assign(data, dotted, value)
        source[dotted] = "command line"
    try:
        return Settings.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source)) from None


def _anchor_strategies_file(data: dict[str, Any], main_file: Path) -> None:
    """A relative ``strategy.file`` written in the main file is relative to that file's
    directory (as ``risk_file`` is), so the configuration means the same from any working
    directory; one from the environment or the command line stays relative to it.

    Configuration files written before this rule named the file from the working directory
    (``file: config/strategies.yaml`` beside ``config/forexbot.yaml``): when only that reading
    finds a file, it is kept, with a warning saying what to write instead, so an upgrade does
    not stop a daemon that ran."""
    section = data.get("strategy")
    if not isinstance(section, dict) or not isinstance(section.get("file"), str):
        return
    named = Path(section["file"])
    if named.is_absolute():
        return
    anchored = main_file.parent / named
    if not anchored.is_file() and named.is_file():
        _log.warning(
            "strategy.file is read from the working directory; write it relative to the "
            "configuration file's directory",
            file=str(named),
            write=str(_relative_to(named.resolve(), main_file.parent.resolve())),
            config=str(main_file),
        )
        return
    section["file"] = str(anchored)


def _relative_to(path: Path, directory: Path) -> Path:
    """``path`` as written from ``directory`` (absolute when it is not below it)."""
    try:
        return path.relative_to(directory)
    except ValueError:
        return path


def _merge_risk_file(
    data: dict[str, Any], source: dict[str, str], env_value: Any, main_file: Path | None
) -> None:
    """Put the risk file's limits under ``risk``; keys of the main file's ``risk:`` section
    win over it.

    Which file: ``FOREXBOT_RISK_FILE``, else the main file's ``risk_file`` (relative to the
    main file's directory), else ``risk_config.yaml`` next to the main file, else
    ``config/risk_config.yaml``. A file named explicitly must exist; the default may not."""
    base = main_file.parent if main_file is not None else Path()
    if env_value is not None:
        named: Any = env_value
        path = Path(str(named))
    elif data.get("risk_file") is not None:
        named = data["risk_file"]
        path = base / str(named)
    else:
        named = None
        path = base / DEFAULT_RISK_FILE.name if main_file is not None else DEFAULT_RISK_FILE
    if not path.is_file():
        if named is not None:
            raise ConfigError(f"risk_file = {str(named)!r}: no such file ({path})")
        return
    limits = _read_yaml(path)
    if "risk" in limits and len(limits) == 1 and isinstance(limits["risk"], dict):
        limits = limits["risk"]  # a file written as a ``risk:`` section
    main = data.get("risk") or {}
    if not isinstance(main, dict):
        return  # validation reports the bad section
    for key in limits:
        source.setdefault(f"risk.{key}", str(path))
    data["risk"] = {**limits, **main}


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"config file {path} is not valid YAML: {exc}") from None
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise ConfigError(f"config file {path} must hold a mapping of sections, not {loaded!r}")
    # A section whose keys are all commented out reads as null: it means "all defaults".
    return {key: value for key, value in loaded.items() if value is not None}


def _parse_scalar(raw: str) -> Any:
    try:
        return yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw


def _assign(data: dict[str, Any], dotted: str, value: Any) -> None:
    parts = dotted.split(".")
    node = data
    for part in parts[:-1]:
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"config key {dotted!r}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def _flatten(data: Mapping[str, Any], prefix: str = "") -> list[str]:
    keys: list[str] = []
    for key, value in data.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, Mapping) and key != "params":
            keys.extend(_flatten(value, dotted + "."))
        else:
            keys.append(dotted)
    return keys


def _describe(exc: ValidationError, source: Mapping[str, str]) -> str:
    lines = []
    for error in exc.errors():
        dotted = ".".join(str(part) for part in error["loc"])
        origin = source.get(dotted) or next(
            (src for key, src in source.items() if key.startswith(dotted + ".")), None
        )
        where = f" (from {origin})" if origin else ""
        if error["type"] == "extra_forbidden":
            lines.append(f"unknown config key {dotted!r}{where}")
            continue
        allowed = error["msg"].removeprefix("Value error, ")
        if not dotted:  # a rule across keys
            lines.append(allowed)
            continue
        if error["type"] == "literal_error":
            allowed = "must be one of " + str(error.get("ctx", {}).get("expected", ""))
        value = error.get("input")
        lines.append(f"config key {dotted} = {value!r} is not allowed: {allowed}{where}")
    return "invalid configuration:\n  " + "\n  ".join(lines)


def resolve_data_dir(cli_value: str | None, environ: Mapping[str, str] | None = None) -> Path:
    """The data directory: ``--data-dir``, else ``FOREXBOT_DATA_DIR``, else
    ``$XDG_DATA_HOME/forexbot`` (``~/.local/share/forexbot``)."""
    env = os.environ if environ is None else environ
    if cli_value:
        return Path(cli_value).expanduser().resolve()
    if env.get("FOREXBOT_DATA_DIR"):
        return Path(env["FOREXBOT_DATA_DIR"]).expanduser().resolve()
    base = env.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return (Path(base).expanduser() / "forexbot").resolve()
