"""The kill switch: every position closed, and trading halted until a person resumes it.

It trips on the drawdown limit (:mod:`~forexbot.engine.guard`) or by hand. It is safety state,
so the order of its steps is a rule:

* **Latched first.** Before any position is closed, the switch is written to the latch file
  (:mod:`~forexbot.engine.kill_latch`, local disk, no database); then positions close; then
  the guard state is saved to the database; the audit record comes last, and none of the
  later steps can undo or delay the earlier ones. A critical log line and a
  :class:`~forexbot.events.types.KillSwitchEvent` go out as it trips.
* **Flat while halted.** Positions still open while the switch is on (a close the market
  refused, a position opened by hand, an order filled after the trip) are closed again, at
  most every :data:`CLOSE_ALL_RETRY` seconds; at start, what a crash left open is closed.
* **Fail safe.** At start, a latched switch halts trading even if the database says
  otherwise (its save failed). Resuming stores the resume in the database first and releases
  the latch after it — a failure at either step leaves trading halted (503 to the caller) —
  and a trip during a resume wins (still halted, :class:`~forexbot.errors.StateConflictError`).
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from typing import Any

import structlog

from forexbot.clock import Clock
from forexbot.engine.guard import EquityGuard
from forexbot.engine.risk_journal import RiskJournal
from forexbot.engine.risk_ports import OpenPositions, PositionCloser
from forexbot.engine.risk_state import RiskStateKeeper
from forexbot.errors import PersistenceError, StateConflictError
from forexbot.events.bus import EventBus
from forexbot.events.types import KillSwitchEvent

_log = structlog.get_logger("forexbot.risk")

#: While the switch is on and positions are still open, they are closed again this often (s).
CLOSE_ALL_RETRY = 30.0


class KillSwitch:
    """Trips, keeps flat and resumes (rules in the module docstring)."""

    def __init__(
        self,
        guard: EquityGuard,
        state: RiskStateKeeper,
        journal: RiskJournal,
        bus: EventBus,
        clock: Clock,
        positions: OpenPositions,
        closer: PositionCloser | None,
    ) -> None:
        self._guard = guard
        self._state = state
        self._journal = journal
        self._bus = bus
        self._clock = clock
        self._positions = positions
        self._closer = closer
        self._resuming = asyncio.Lock()
        self._last_close_all = -CLOSE_ALL_RETRY
        self.trips = 0

    @property
    def on(self) -> bool:
        return self._guard.state.kill_switch

    def halted(self) -> str | None:
        """Why trading is halted, or ``None``."""
        state = self._guard.state
        return f"kill switch: {state.kill_reason}" if state.kill_switch else None

    async def restore(self) -> None:
        """At start, after the guard state is loaded: the latch and the database agree on
        "halted" whichever of them says so."""
        record = await self._state.read_latch()
        if record is not None and not self.on:
            _log.critical(
                "the kill switch was latched when the daemon stopped, though the database did "
                "not record it: trading stays halted until resumed",
                latch=self._state.latch_path,
                reason=record.reason,
            )
            self._guard.trip(record.code, record.reason, record.time)
            await self._state.save(force=True)
        elif record is None and self.on:
            await self._state.engage_latch()  # the database says halted: so does the latch now
        if self.on:
            _log.critical(
                "the kill switch is on: trading halted until resumed",
                reason=self._guard.state.kill_reason,
            )

    async def trip(
        self, code: str, reason: str, *, actor: str | None, context: dict[str, Any]
    ) -> int:
        """Trip: latch, close everything, save, record. Returns the positions closed."""
        now = self._clock.time()
        self._guard.trip(code, reason, now)
        self.trips += 1
        _log.critical("KILL SWITCH: closing every position and halting", reason=reason, actor=actor)
        await self._state.engage_latch()  # from here on, a crash leaves the switch on
        self._bus.publish(KillSwitchEvent(True, code, reason, now, actor))
        closed = 0
        if self._closer is not None:
            # Closing comes first; the records after it must not be able to prevent it.
            self._last_close_all = time.monotonic()
            closed = await self._closer.close_all("kill_switch")
        await self._state.save(force=True)
        try:
            await self._journal.record(
                "critical", "kill_switch", reason, {"code": code, **context}, actor
            )
        except Exception:
            _log.exception("the kill switch could not be recorded in system_logs")
        return closed

    async def resume(self, *, actor: str) -> None:
        """Release the switch (only a person does this). The resume is stored in the
        database, then the latch released; if either fails, trading stays halted and
        :class:`~forexbot.errors.DatabaseError` or
        :class:`~forexbot.errors.PersistenceError` is raised."""
        async with self._resuming:
            await self._resume()
        now = self._clock.time()
        _log.warning("kill switch released: trading resumes", actor=actor)
        self._bus.publish(KillSwitchEvent(False, "resumed", f"resumed by {actor}", now, actor))
        await self._journal.record(
            "warning", "kill_switch_released", f"resumed by {actor}", {}, actor
        )

    async def _resume(self) -> None:
        """Persist the resume, release the latch, then resume in memory — unless the switch
        tripped again meanwhile (a trip never waits for a resume): then the halted state is
        saved back and :class:`~forexbot.errors.StateConflictError` raised (also, with the
        code ``not_halted``, when the switch is not on)."""
        if not self.on:
            raise StateConflictError("the kill switch is not on", code="not_halted")
        trips = self.trips
        resumed = EquityGuard(replace(self._guard.state))
        resumed.resume()
        await self._state.store(resumed.state)
        if self.trips == trips:
            try:
                await self._state.release_latch()
            except PersistenceError:
                # The database says resumed, the latch halted: halted wins, now and at start.
                await self._state.save(force=True)
                raise
        if self.trips != trips:
            await self._state.engage_latch()  # a trip may have latched before the release
            await self._state.save(force=True)
            raise StateConflictError("the kill switch tripped again while resuming: still halted")
        self._guard.resume()  # the live state: what happened meanwhile (equity, trades) stays
        self._state.all_saved()

    async def ensure_flat(self) -> int:
        """At start: with the switch on, close what is still open (a crash may have stopped
        the closing halfway)."""
        if self.on and self._closer is not None:
            return await self._closer.close_all("kill_switch")
        return 0

    async def close_late_fill(self) -> None:
        """An order already at the terminal filled after the switch tripped: close it now."""
        if not self.on:
            return
        self._last_close_all = time.monotonic()
        if self._closer is not None:
            await self._closer.close_all("kill_switch")

    async def keep_flat(self) -> None:
        """With the switch on, positions still open are closed again, at most every
        :data:`CLOSE_ALL_RETRY` seconds."""
        if not self.on or self._closer is None:
            return
        if self._positions.open_count() == 0:
            return
        now = time.monotonic()
        if now - self._last_close_all < CLOSE_ALL_RETRY:
            return
        self._last_close_all = now
        _log.warning("kill switch on and positions still open: closing them again")
        await self._closer.close_all("kill_switch")
