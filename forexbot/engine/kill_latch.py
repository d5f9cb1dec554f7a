"""The kill switch's own record on local disk, independent of the database.

The guard state lives in PostgreSQL (``system_config``), but a tripped kill switch must
survive a restart even when that write failed — the database down, or text it cannot store.
So the switch is latched in a small file in the data directory as well, written before any
position is closed, and released only after the database has recorded the resume.

Rules:

* **Engaged first.** :meth:`KillSwitchLatch.engage` writes the file durably
  (:mod:`forexbot.durable_file`): after it returns, a crash or a power cut leaves the switch
  on.
* **Fail safe.** A file that exists but cannot be read or parsed counts as engaged: a
  damaged record must halt trading, never resume it.
* **Released last.** :meth:`release` removes the file (and syncs the directory) once the
  resume is stored in the database.
* Blocking file I/O: callers on the event loop run these through :func:`asyncio.to_thread`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import orjson

from forexbot.database.storable import storable_text
from forexbot.durable_file import remove_durably, write_durably

LATCH_FILE = "kill_switch.json"


@dataclass(frozen=True, slots=True)
class LatchRecord:
    """Why and when the kill switch was latched (``time`` in UTC epoch seconds)."""

    code: str
    reason: str
    time: float | None


class KillSwitchLatch:
    """The latch file ``<data-dir>/kill_switch.json``."""

    def __init__(self, path: Path) -> None:
        self._path = path

    @property
    def path(self) -> Path:
        return self._path

    def engage(self, code: str, reason: str, at: float | None) -> None:
        """Record the switch as on, durably. Raises :class:`OSError` when it cannot."""
        record = {"code": storable_text(code), "reason": storable_text(reason), "time": at}
        data = orjson.dumps(record)
        write_durably(self._path, data)

    def read(self) -> LatchRecord | None:
        """The latched record, ``None`` when the switch is not latched. An unreadable file
        is a latched switch (see the module rules)."""
        try:
            raw = self._path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as exc:
            return LatchRecord("latch_unreadable", f"{self._path} cannot be read: {exc}", None)
        try:
            data = orjson.loads(raw)
            code, reason, at = data["code"], data["reason"], data["time"]
            if not isinstance(code, str) or not isinstance(reason, str):
                raise TypeError("code and reason must be text")
            return LatchRecord(code, reason, None if at is None else float(at))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as exc:
            return LatchRecord("latch_unreadable", f"{self._path} is damaged: {exc}", None)

    def release(self) -> None:
        """Forget the latch (the database recorded the resume). Raises :class:`OSError`."""
        remove_durably(self._path)
