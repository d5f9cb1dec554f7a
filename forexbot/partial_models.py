"""Models of a *change* to a configuration model: some of its keys, each optional.

Why: the API's change endpoints (``PUT /api/risk/limits``, ``PUT /api/system/settings``)
validate a body with the configuration's own field types and ranges, and their OpenAPI
schema shows exactly which keys may be sent. Deriving the change model from the
configuration model keeps the two from drifting apart.

Rules: every key is optional and defaults to ``None``; unknown keys are refused
(``extra="forbid"``); the ranges of each field (``ge``, ``le``…) are kept; validators of the
whole model are not (the owner validates the resulting whole).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, create_model


def partial_model(
    name: str,
    model: type[BaseModel],
    keys: Iterable[str] | None = None,
    *,
    strict: bool = False,
    describe: Callable[[str], str | None] = lambda key: None,
) -> type[BaseModel]:
    """A model named ``name`` of ``keys`` (all of ``model``'s by default), each optional."""
    fields: dict[str, Any] = {}
    for key in keys if keys is not None else model.model_fields:
        info = model.model_fields[key]
        annotated: Any = info.annotation
        if info.metadata:  # the field's ranges (ge, le...)
            annotated = Annotated[(annotated, *info.metadata)]
        fields[key] = (annotated | None, Field(None, description=describe(key)))
    config = ConfigDict(extra="forbid", strict=strict, frozen=True)
    return create_model(name, __config__=config, **fields)
