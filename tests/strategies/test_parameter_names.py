"""Strategy parameters come from clients (``PUT /api/strategies/{id}``, backtests): one named
like an argument of the code that builds the strategy is an unknown parameter, refused with an
``InvalidInputError`` naming it, not a ``TypeError`` (which the API would answer with 500)."""

from __future__ import annotations

import pytest

from forexbot.errors import InvalidInputError
from forexbot.strategies import create


@pytest.mark.parametrize("name", ["name", "self"])
def test_a_parameter_named_like_an_argument_is_refused_when_creating(name: str) -> None:
    with pytest.raises(
        InvalidInputError, match=rf"invalid parameters for strategy 'ma_rsi': {name}: "
    ):
        create("ma_rsi", **{name: 1})


@pytest.mark.parametrize("name", ["name", "self"])
def test_a_parameter_named_like_an_argument_is_refused_when_changing(name: str) -> None:
    with pytest.raises(
        InvalidInputError, match=rf"invalid parameters for strategy 'ma_rsi': {name}: "
    ):
        create("ma_rsi").with_params(**{name: 1})
