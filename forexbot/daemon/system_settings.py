"""Settings changed while the daemon runs (``GET``/``PUT /api/system/settings``).

Rules this module enforces:

* Only the keys in :data:`LIVE` change at run time, because a running component reads each
  of them again when it uses it:

  - ``execution.*`` (retries, retry delay, lost-answer look-ups, sync interval): the execution
    and position managers read them through a callable on every order and every sync pass;
  - ``logging.level``: the root logger's level (and the noisy libraries'), at once;
  - ``api.ip_rate_per_second``, ``ip_burst``, ``user_rate_per_second``, ``user_burst``,
    ``login_attempts_per_minute``: the limits of the running token buckets (a bucket keeps
    its tokens; its refill rate and cap change).

* Every other key of the configuration needs a restart (listen address and port, database,
  terminal, watchlist, strategies, TLS...) and is refused (``restart_required``) naming the
  key and where to set it; ``risk.*`` is refused pointing to ``PUT /api/risk/limits``; a key
  the configuration does not have is refused (``unknown_key``). A refusal changes nothing.
* Values are validated with the configuration's own models (:class:`ExecutionSettings`...),
  strictly as JSON (``"3"`` is not a number, ``true`` is not 1), the whole section at once,
  so the ranges are the file's; a bad value is refused naming the key, and nothing changes.
* Only the keys changed here are stored, in ``system_config`` under :data:`SETTINGS_KEY` as
  ``{section: {key: value}}``; ``null`` for a key (or a whole section) forgets the override,
  and the file's value applies again. Stored keys win over the files and the ``FOREXBOT_*``
  variables, also after a restart: the composition root calls :meth:`SystemSettings.load`
  before it builds the components. A stored document that no longer validates (a later
  version narrowed a range) is logged and ignored; the files apply.
* Persist, then apply: a failed write leaves everything as it was.
* Secrets never appear: the configuration holds none (they come from the environment; see
  :mod:`forexbot.config`), and only the configuration is shown.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import orjson
import structlog
from pydantic import BaseModel, ConfigDict, Field, ValidationError, create_model

from forexbot.config.models import (
    ApiSettings,
    ExecutionSettings,
    LoggingSettings,
    RiskSettings,
    Settings,
)
from forexbot.errors import InvalidInputError
from forexbot.partial_models import partial_model

_log = structlog.get_logger("forexbot.settings")

#: The ``system_config`` key of the settings changed at run time.
SETTINGS_KEY = "system.settings"

#: The settings that change while the daemon runs: section → keys (see the module docstring).
LIVE: Mapping[str, tuple[str, ...]] = {
    "execution": tuple(ExecutionSettings.model_fields),
    "logging": ("level",),
    "api": (
        "ip_rate_per_second",
        "ip_burst",
        "user_rate_per_second",
        "user_burst",
        "login_attempts_per_minute",
    ),
}
_SECTION_MODELS: Mapping[str, type[BaseModel]] = {
    "execution": ExecutionSettings,
    "logging": LoggingSettings,
    "api": ApiSettings,
}

#: A function that makes a running component follow the settings now in force.
Applier = Callable[[Settings], None]


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why one key of a change is refused."""

    field: str
    message: str
    type: str

    def to_api(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message, "type": self.type}


class SettingsRefused(InvalidInputError):
    """A change refused as a whole; ``refusals`` names each key and why."""

    def __init__(self, refusals: Iterable[Refusal]) -> None:
        self.refusals = tuple(refusals)
        super().__init__("; ".join(f"{r.field}: {r.message}" for r in self.refusals))

    @property
    def restart_required(self) -> bool:
        return any(r.type == "restart_required" for r in self.refusals)


class SettingsStore(Protocol):
    """Where the keys changed at run time are kept (``SystemConfigRepository``)."""

    async def get(self, key: str) -> dict[str, Any] | None: ...

    async def put(self, key: str, value: Mapping[str, Any], *, updated_by: str | None) -> None: ...


def _partial(section: str) -> type[BaseModel]:
    """The live keys of ``section``, each optional, with the configuration's own type and
    range; ``null`` means "back to the file's value"."""
    return partial_model(
        f"{section.capitalize()}SettingChanges",
        _SECTION_MODELS[section],
        LIVE[section],
        strict=True,
        describe=lambda key: f"{section}.{key} (null: back to the file's value)",
    )


def _changes_model() -> type[BaseModel]:
    fields: dict[str, Any] = {
        section: (
            _partial(section) | None,
            Field(None, description=f"{section} settings to change (null: all back to the file's)"),
        )
        for section in LIVE
    }
    config = ConfigDict(extra="forbid", strict=True, frozen=True)
    return create_model("SettingsChanges", __config__=config, **fields)


#: The body of ``PUT /api/system/settings``: live keys by section, any subset.
SettingsChanges = _changes_model()


def _env_name(dotted: str) -> str:
    return "FOREXBOT_" + dotted.upper().replace(".", "__")


def refusals(changes: Any) -> list[Refusal]:
    """What in ``changes`` (a request body, ``{section: {key: value}}``) cannot change live:
    restart-only keys, risk limits and unknown keys. Values are not checked here."""
    if not isinstance(changes, Mapping):
        return []
    found: list[Refusal] = []
    for section, value in changes.items():
        top = Settings.model_fields.get(str(section))
        if top is None:
            found.append(Refusal(str(section), f"unknown setting {section!r}", "unknown_key"))
            continue
        model = top.annotation
        keys = (
            model.model_fields if isinstance(model, type) and issubclass(model, BaseModel) else None
        )
        if section == "risk" and not isinstance(value, Mapping):
            found.append(_risk_limit("risk"))
        elif keys is None or not isinstance(value, Mapping):
            if section not in LIVE:  # a live section given a non-object: the body model says why
                found.append(_restart_only(str(section)))
        else:
            found.extend(_refused_keys(str(section), value, keys))
    return found


def _refused_keys(section: str, value: Mapping[str, Any], keys: Mapping[str, Any]) -> list[Refusal]:
    found: list[Refusal] = []
    for key in value:
        dotted = f"{section}.{key}"
        if key in LIVE.get(section, ()):
            continue
        if key not in keys:
            found.append(Refusal(dotted, f"unknown setting {dotted!r}", "unknown_key"))
        elif section == "risk":
            found.append(_risk_limit(dotted))
        else:
            found.append(_restart_only(dotted))
    return found


def _risk_limit(dotted: str) -> Refusal:
    return Refusal(dotted, f"{dotted}: risk limits change with PUT /api/risk/limits", "risk_limit")


def _restart_only(dotted: str) -> Refusal:
    return Refusal(
        dotted,
        f"{dotted} cannot change while the daemon runs: set it in the configuration file (or "
        f"{_env_name(dotted)}) and restart (POST /api/system/restart)",
        "restart_required",
    )


def _overlaid(base: Settings, overlay: Mapping[str, Mapping[str, Any]]) -> Settings:
    """``base`` with ``overlay``'s keys, each touched section validated whole and strictly as
    JSON with the configuration's model. Raises :class:`SettingsRefused` naming the keys."""
    updates: dict[str, BaseModel] = {}
    problems: list[Refusal] = []
    for section, keys in overlay.items():
        current: BaseModel = getattr(base, section)
        merged = {**current.model_dump(mode="json"), **keys}
        try:
            updates[section] = type(current).model_validate_json(orjson.dumps(merged), strict=True)
        except TypeError as exc:  # orjson: not JSON at all
            problems.append(Refusal(section, f"not JSON: {exc}", "invalid_value"))
        except ValidationError as exc:
            for error in exc.errors(include_url=False, include_input=False):
                where = ".".join(str(part) for part in error["loc"])
                problems.append(Refusal(f"{section}.{where}", error["msg"], error["type"]))
    if problems:
        raise SettingsRefused(problems)
    return base.model_copy(update=updates)


def set_log_level(settings: Settings) -> None:
    """:data:`Applier` of ``logging.level``: the root logger's level, and the noisy
    libraries' as :func:`forexbot.logs.configure_logging` sets them."""
    root = logging.getLogger()
    root.setLevel(settings.logging.level)
    for noisy in ("aiohttp.access", "alembic", "pgserver"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, root.level))


class RateLimitTarget(Protocol):
    """The API's running rate limiters (``forexbot.api.ratelimit.RateLimiters``)."""

    def set_limits(
        self,
        *,
        ip_rate_per_second: float,
        ip_burst: int,
        user_rate_per_second: float,
        user_burst: int,
        login_attempts_per_minute: float,
    ) -> None: ...


def rate_limits_applier(target: RateLimitTarget) -> Applier:
    """:data:`Applier` of the ``api`` rate limits onto the API's running limiters."""

    def apply(settings: Settings) -> None:
        api = settings.api
        target.set_limits(
            ip_rate_per_second=api.ip_rate_per_second,
            ip_burst=api.ip_burst,
            user_rate_per_second=api.user_rate_per_second,
            user_burst=api.user_burst,
            login_attempts_per_minute=api.login_attempts_per_minute,
        )

    return apply


class RiskLimitsSource(Protocol):
    """The risk manager, as far as the settings page shows its limits."""

    @property
    def settings(self) -> RiskSettings: ...


class SystemSettings:
    """The configuration in force: the files' and environment's, with the keys changed at run
    time on top (see the module docstring).

    ``appliers`` maps a section to what makes its running component follow a change
    (``execution`` needs none: its readers call :attr:`current`); a component built after the
    settings are loaded adds its own with :meth:`add_applier`. The risk limits in force are
    shown (:meth:`show_risk_from`) but changed through the risk manager.
    """

    def __init__(
        self,
        base: Settings,
        store: SettingsStore | None,
        *,
        appliers: Mapping[str, Applier] | None = None,
        risk: RiskLimitsSource | None = None,
    ) -> None:
        self._base = base
        self._store = store
        self._appliers = dict(appliers or {})
        self._risk = risk
        self._current = base
        self._overlay: dict[str, dict[str, Any]] = {}
        self._changing = asyncio.Lock()

    def add_applier(self, section: str, applier: Applier) -> None:
        """Make a component built after :meth:`load` follow ``section``'s changes; it gets
        the settings in force at once."""
        self._appliers[section] = applier
        applier(self._current)

    def show_risk_from(self, risk: RiskLimitsSource) -> None:
        """Show ``risk``'s limits (the risk manager's, which change through its own API)."""
        self._risk = risk

    @property
    def current(self) -> Settings:
        """The settings in force."""
        return self._current

    @property
    def overrides(self) -> dict[str, dict[str, Any]]:
        """The keys changed at run time, by section."""
        return {section: dict(keys) for section, keys in self._overlay.items()}

    async def load(self) -> Settings:
        """Put the stored keys on top of the files' settings, and return the result."""
        if self._store is None:
            return self._current
        stored = await self._store.get(SETTINGS_KEY) or {}
        refused = refusals(stored)
        if refused:  # keys a later version no longer changes live: the files apply
            _log.error("stored settings not applied", refused=[r.to_api() for r in refused])
        dropped = {r.field for r in refused}
        overlay = {
            section: {k: v for k, v in keys.items() if f"{section}.{k}" not in dropped}
            for section, keys in stored.items()
            if section not in dropped and isinstance(keys, Mapping)
        }
        overlay = {section: keys for section, keys in overlay.items() if keys}
        try:
            self._current = _overlaid(self._base, overlay)
        except SettingsRefused as exc:
            _log.error("stored settings are invalid; using the files'", error=str(exc))
            return self._current
        self._overlay = overlay
        if overlay:
            _log.info("settings changed at run time are in force", changes=overlay)
        return self._current

    def apply(self, *sections: str) -> None:
        """Run the appliers of ``sections`` (all when none is named) with :attr:`current`."""
        for section in sections or tuple(self._appliers):
            applier = self._appliers.get(section)
            if applier is not None:
                applier(self._current)

    def describe(self) -> dict[str, Any]:
        """The settings in force, the keys overridden at run time (dotted) and the keys
        changeable live; JSON-ready."""
        settings = self._current
        if self._risk is not None:
            settings = settings.model_copy(update={"risk": self._risk.settings})
        return {
            "settings": settings.model_dump(mode="json"),
            "overridden": {
                f"{section}.{key}": value
                for section, keys in sorted(self._overlay.items())
                for key, value in sorted(keys.items())
            },
            "live": [f"{section}.{key}" for section, keys in LIVE.items() for key in keys],
        }

    async def update(self, changes: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        """Validate ``changes`` (``{section: {key: value | None}}``, or ``{section: None}``),
        store the new overrides, apply them, and return :meth:`describe`. All or nothing:
        :class:`SettingsRefused` leaves everything as it was. Changes are made one at a time,
        so two at once cannot both start from the same overrides and lose one."""
        refused = refusals(changes)
        if refused:
            raise SettingsRefused(refused)
        async with self._changing:
            return await self._update(changes, actor=actor)

    async def _update(self, changes: Mapping[str, Any], *, actor: str) -> dict[str, Any]:
        overlay = self.overrides
        for section, keys in changes.items():
            if keys is None:
                overlay.pop(section, None)
                continue
            if not isinstance(keys, Mapping):
                raise SettingsRefused([Refusal(section, "must be an object", "invalid_value")])
            target = overlay.setdefault(section, {})
            for key, value in keys.items():
                if value is None:
                    target.pop(key, None)
                else:
                    target[key] = value
        overlay = {section: keys for section, keys in overlay.items() if keys}
        settings = _overlaid(self._base, overlay)
        if self._store is not None:
            await self._store.put(SETTINGS_KEY, overlay, updated_by=actor)
        self._current, self._overlay = settings, overlay
        self.apply(*(section for section in changes if section in self._appliers))
        _log.info("settings changed", actor=actor, changes=dict(changes))
        return self.describe()
