"""Making text storable: what PostgreSQL (and UTF-8 files) cannot hold, replaced.

The API refuses such text at its edge, but some writes must succeed whatever text reaches
them — the kill switch's state above all, and the audit trail of a refused request. Two
kinds of character cannot be stored:

* U+0000: PostgreSQL's ``text`` refuses it, and ``jsonb`` refuses its ``\\u0000`` escape;
* unpaired surrogates (U+D800–U+DFFF): they have no UTF-8 encoding at all.

Each becomes U+FFFD (the replacement character), so the rest of the text survives and the
record shows where something was replaced. Everything else is kept as it is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

REPLACEMENT = "\ufffd"
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def storable_text(text: str) -> str:
    """``text`` with NUL and unpaired surrogates replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable(value: Any) -> Any:
    """A JSON-ready value with :func:`storable_text` applied to every string in it, keys
    included (mappings become dicts, lists and tuples lists)."""
    if isinstance(value, str):
        return storable_text(value)
    if isinstance(value, Mapping):
        return {storable(k) if isinstance(k, str) else k: storable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item) for item in value]
    return value
