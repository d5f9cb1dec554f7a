"""Making text storable: what PostgreSQL (and UTF-8 files) cannot hold, written as escapes.

The API refuses such text at its edge (:mod:`forexbot.text`), but some writes must succeed
whatever text reaches them — the kill switch's state above all, and the audit trail of a
refused request. Two kinds of character cannot be stored:

* U+0000: PostgreSQL's ``text`` refuses it, and ``jsonb`` refuses its ``\\u0000`` escape;
* unpaired surrogates (U+D800–U+DFFF): they have no UTF-8 encoding at all (Python makes them
  from undecodable header bytes and from JSON's ``"\\ud800"``).

NUL becomes the four characters ``\\x00`` and an unpaired surrogate its ``\\udXXX`` escape
(Python's ``backslashreplace``): visible, and telling what was sent. Everything else is kept
as it is. A ``limit`` caps the length (after escaping): the rest is cut and replaced by
``…[N more characters]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any


def storable_text(text: str, limit: int | None = None) -> str:
    """``text`` as PostgreSQL stores it (see the module rules); clean text comes back as is."""
    if "\x00" in text:
        text = text.replace("\x00", "\\x00")
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        text = text.encode("utf-8", "backslashreplace").decode("utf-8")
    if limit is not None and len(text) > limit:
        text = f"{text[:limit]}…[{len(text) - limit} more characters]"
    return text


def storable(value: Any, limit: int | None = None) -> Any:
    """A JSON-ready value with :func:`storable_text` applied to every string in it — keys
    and items of mappings, lists and tuples, however nested (mappings become dicts, lists
    and tuples lists)."""
    if isinstance(value, str):
        return storable_text(value, limit)
    if isinstance(value, Mapping):
        return {storable(key, limit): storable(item, limit) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [storable(item, limit) for item in value]
    return value
