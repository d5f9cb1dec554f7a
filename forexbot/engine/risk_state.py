"""What the risk manager keeps across restarts, and how loudly it says so when it cannot.

* **Limits changed at run time** (``risk.limits`` in ``system_config``): only the keys changed
  are stored, an overlay on the file's limits, so a later edit of ``risk_config.yaml`` still
  applies to every key never changed at run time. They win over the file at start; a stored
  overlay that no longer validates is logged and the file's limits are used.
* **The guard's state** (``risk.state``): saved after every change (an equity observation
  that only moves ``last_equity`` is not a change), so a restart resumes where the guard was.
* **The kill switch's latch** (:mod:`~forexbot.engine.kill_latch`, a local file, no database):
  written before any position is closed, so even a crash with the database down leaves the
  switch on.
* **Loud.** A failed save is a critical log line (the first, then one a minute while it
  lasts), a ``RiskLimitEvent`` (``state_not_saved``) on ``/ws/system``, a counter in
  ``/metrics``, and a problem (:meth:`RiskStateKeeper.problems`) that makes ``/api/health``
  say ``degraded`` until a save succeeds — then a ``state_saved`` event.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from typing import Any

import orjson
import structlog
from pydantic import ValidationError

from forexbot.clock import Clock
from forexbot.config.models import RiskSettings
from forexbot.engine.guard import EquityGuard, GuardState
from forexbot.engine.kill_latch import KillSwitchLatch, LatchRecord
from forexbot.engine.risk_ports import RiskStateStore
from forexbot.errors import InvalidInputError, PersistenceError
from forexbot.events.bus import EventBus
from forexbot.events.types import RiskLimitEvent

_log = structlog.get_logger("forexbot.risk")

LIMITS_KEY = "risk.limits"
STATE_KEY = "risk.state"
#: While saving the risk state keeps failing, it is logged again this often (seconds).
SAVE_FAILURE_LOG_EVERY = 60.0
#: Problem codes (health, logs): the guard state is not in the database; the kill switch's
#: latch file could not be written.
STATE_NOT_SAVED = "risk_state_not_saved"
LATCH_NOT_SAVED = "kill_switch_latch_not_saved"


def _with(base: RiskSettings, changes: Mapping[str, Any]) -> RiskSettings:
    """``base`` with ``changes``, validated strictly as JSON: ``"3"`` is not a number of
    positions and ``true`` is not 1."""
    merged = {**base.model_dump(mode="json"), **dict(changes)}
    return RiskSettings.model_validate_json(orjson.dumps(merged), strict=True)


class RiskLimits:
    """The limits in force: the file's, with the keys changed at run time over them."""

    def __init__(self, file_settings: RiskSettings, store: RiskStateStore | None) -> None:
        self._file_settings = file_settings
        self._settings = file_settings
        self._overlay: dict[str, Any] = {}
        self._store = store

    @property
    def settings(self) -> RiskSettings:
        return self._settings

    async def load(self) -> None:
        """Apply the stored overlay, if there is one and it still validates."""
        if self._store is None:
            return
        stored = await self._store.get(LIMITS_KEY)
        if not stored:
            return
        try:
            self._settings = _with(self._file_settings, stored)
            self._overlay = dict(stored)
            _log.info("risk limits changed at run time are in force", changes=stored)
        except (ValidationError, orjson.JSONEncodeError) as exc:
            _log.error("stored risk limits are invalid; using the file's", error=str(exc))

    async def update(self, changes: Mapping[str, Any], *, actor: str) -> RiskSettings:
        """Validate ``changes`` against the whole model, persist, then apply (all or nothing:
        :class:`~forexbot.errors.InvalidInputError` naming the key leaves everything as it
        was)."""
        overlay = {**self._overlay, **dict(changes)}
        try:
            settings = _with(self._file_settings, overlay)
        except orjson.JSONEncodeError as exc:
            raise InvalidInputError(f"invalid risk limits: {exc}") from None
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in exc.errors()
            )
            raise InvalidInputError(f"invalid risk limits: {problems}") from None
        if self._store is not None:
            await self._store.put(LIMITS_KEY, overlay, updated_by=actor)
        self._settings, self._overlay = settings, overlay
        _log.info("risk limits changed", actor=actor, changes=dict(changes))
        return settings


class RiskStateKeeper:
    """Saves the guard's state and writes the kill switch's latch; reports what could not be
    persisted (rules in the module docstring)."""

    def __init__(
        self,
        guard: EquityGuard,
        bus: EventBus,
        clock: Clock,
        *,
        store: RiskStateStore | None,
        latch: KillSwitchLatch | None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._guard = guard
        self._bus = bus
        self._clock = clock
        self._store = store
        self._latch = latch
        self._monotonic = monotonic  # real seconds, for how often a failure is logged again
        self._latching = asyncio.Lock()  # one latch file operation at a time
        self._saved_state: dict[str, Any] = {}
        self._unsaved: dict[str, str] = {}  # problem code → why
        self._unsaved_logged: dict[str, float] = {}
        self.failures = 0

    def problems(self) -> dict[str, str]:
        """What could not be persisted — a code (:data:`STATE_NOT_SAVED`,
        :data:`LATCH_NOT_SAVED`) and its message — empty when all is saved. Health reports
        the daemon degraded, with the codes only (it is public), while there is any."""
        return dict(self._unsaved)

    # -- the guard's state ------------------------------------------------------------------

    async def load(self) -> None:
        """Put the stored guard state into the guard (nothing stored: it stays fresh)."""
        if self._store is None:
            return
        state = await self._store.get(STATE_KEY)
        if state:
            self._guard.state = GuardState.from_dict(state)
            self._saved_state = self._guard.state.to_dict()

    async def save(self, *, force: bool = False) -> None:
        """Save the guard state; a database failure is reported loudly (the state in memory
        stands, and the next observation saves it again)."""
        try:
            await self._save(force=force)
        except Exception as exc:
            self._failed(STATE_NOT_SAVED, f"the risk state could not be saved: {exc}")
        else:
            self._recovered(STATE_NOT_SAVED)

    async def store(self, state: GuardState) -> None:
        """Store ``state`` (a resume to persist before it is applied); failures raise."""
        if self._store is None:
            return
        document = state.to_dict()
        await self._store.put(STATE_KEY, document, updated_by="risk")
        self._saved_state = document

    async def _save(self, *, force: bool = False) -> None:
        if self._store is None:
            return
        state = self._guard.state.to_dict()
        unchanged = {**state, "last_equity": None} == {**self._saved_state, "last_equity": None}
        if unchanged and not force:
            return
        await self._store.put(STATE_KEY, state, updated_by="risk")
        self._saved_state = state

    # -- the latch --------------------------------------------------------------------------

    @property
    def latch_path(self) -> str | None:
        return None if self._latch is None else str(self._latch.path)

    async def read_latch(self) -> LatchRecord | None:
        """The latched kill switch, if the latch file says one is on."""
        if self._latch is None:
            return None
        return await asyncio.to_thread(self._latch.read)

    async def engage_latch(self) -> None:
        """Write the kill switch's latch file; a failure is reported loudly, never raised
        (positions must still close)."""
        if self._latch is None:
            return
        s = self._guard.state
        try:
            async with self._latching:
                await asyncio.to_thread(
                    self._latch.engage, s.kill_code or "manual", s.kill_reason or "", s.kill_time
                )
        except OSError as exc:
            message = f"the kill switch latch {self._latch.path} could not be written: {exc}"
            self._failed(LATCH_NOT_SAVED, message)
        else:
            self._recovered(LATCH_NOT_SAVED)

    async def release_latch(self) -> None:
        """Remove the latch file; :class:`~forexbot.errors.PersistenceError` when it stays."""
        if self._latch is None:
            return
        try:
            async with self._latching:
                await asyncio.to_thread(self._latch.release)
        except OSError as exc:
            raise PersistenceError(
                f"the kill switch latch {self._latch.path} could not be released ({exc}): "
                "trading stays halted"
            ) from exc

    def all_saved(self) -> None:
        """A resume was stored and its latch released: every problem is over."""
        self._recovered(STATE_NOT_SAVED)
        self._recovered(LATCH_NOT_SAVED)

    # -- being loud -------------------------------------------------------------------------

    def _failed(self, what: str, message: str) -> None:
        self.failures += 1
        first = what not in self._unsaved
        self._unsaved[what] = message
        now = self._monotonic()
        if first or now - self._unsaved_logged.get(what, now) >= SAVE_FAILURE_LOG_EVERY:
            self._unsaved_logged[what] = now
            _log.critical(
                message,
                problem=what,
                kill_switch=self._guard.state.kill_switch,
                failures=self.failures,
            )
        if first:
            self._bus.publish(RiskLimitEvent("state_not_saved", message, self._clock.time()))

    def _recovered(self, what: str) -> None:
        if self._unsaved.pop(what, None) is not None:
            self._unsaved_logged.pop(what, None)
            _log.warning("the risk state is saved again", problem=what)
            message = f"the risk state is saved again ({what} is over)"
            self._bus.publish(RiskLimitEvent("state_saved", message, self._clock.time()))
