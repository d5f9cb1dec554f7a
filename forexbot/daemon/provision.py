"""The database a command runs on: ``DATABASE_URL`` when set, else the embedded PostgreSQL in
the data directory; migrated to the latest schema either way."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from forexbot.database.embedded import EmbeddedPostgres
from forexbot.database.engine import to_async_url
from forexbot.database.migrate import upgrade


@dataclass(slots=True)
class ProvisionedDatabase:
    """A database URL, and the embedded server behind it when there is one."""

    url: str
    embedded: EmbeddedPostgres | None

    @property
    def description(self) -> str:
        return "embedded" if self.embedded is not None else "external"

    def stop(self) -> None:
        if self.embedded is not None:
            self.embedded.stop()


def provision_database(data_dir: Path, environ: Mapping[str, str]) -> ProvisionedDatabase:
    """``DATABASE_URL`` when set, else the embedded PostgreSQL in the data directory (started
    here; blocking). Migrations are applied either way, so the schema is always current."""
    url = environ.get("DATABASE_URL")
    embedded = None
    if url:
        url = to_async_url(url)
    else:
        embedded = EmbeddedPostgres(data_dir)
        url = embedded.start()
    try:
        upgrade(url)
    except BaseException:
        if embedded is not None:
            embedded.stop()
        raise
    return ProvisionedDatabase(url, embedded)
