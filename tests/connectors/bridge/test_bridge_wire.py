"""The bridge's by-value wire format: faithful round trips, strict refusals."""

from __future__ import annotations

import enum
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import numpy as np
import pytest
from rpyc.core import brine

import forexbot.connectors.mt5sim as mt5
from forexbot.connectors.bridge import auth
from forexbot.connectors.bridge.wire import MAX_DEPTH, WireError, decode, encode
from forexbot.connectors.mt5sim.structures import (
    AccountInfo,
    OrderSendResult,
    TradeRequest,
)


def plain(value: Any) -> bool:
    """Whether rpyc's brine would send ``value`` by value."""
    return bool(brine.dumpable(value))


def round_trip(value: Any) -> Any:
    data = encode(value)
    assert plain(data)
    return decode(data)


def test_named_tuples_come_back_with_the_same_name_fields_and_values() -> None:
    request = TradeRequest(*([0] * len(TradeRequest._fields)))._replace(symbol="EURUSD")
    result = OrderSendResult(10009, 1, 2, 0.1, 1.1, 1.0, 1.2, "Request executed", 3, 0, request)
    copy = round_trip(result)
    assert type(copy).__name__ == "OrderSendResult"
    assert copy._fields == OrderSendResult._fields
    assert copy == result
    assert copy.request.symbol == "EURUSD"
    assert type(copy.request).__name__ == "TradeRequest"
    assert copy._asdict()["retcode"] == 10009
    assert type(round_trip((result, result))[1]) is type(copy)  # class cached


def test_structures_from_the_bridge_are_built_from_one_sequence_like_the_real_ones() -> None:
    """MetaTrader's structures are C struct sequences: frameworks rebuild them with
    ``type(x)(row)``, which must work behind the bridge too."""
    result = OrderSendResult(10009, 1, 2, 0.1, 1.1, 1.0, 1.2, "Request executed", 3, 0, None)
    copy = round_trip(result)
    rebuilt = type(copy)(tuple(copy))
    assert rebuilt == result
    assert rebuilt.comment == "Request executed"
    with pytest.raises(TypeError, match="takes a 11-sequence"):
        type(copy)((1, 2))


def test_arrays_come_back_byte_for_byte() -> None:
    rates = np.zeros(3, dtype=mt5.RATES_DTYPE)
    rates["time"] = [1, 2, 3]
    rates["close"] = [1.5, np.nan, -np.inf]
    copy = round_trip(rates)
    assert copy.dtype == mt5.RATES_DTYPE
    assert copy.tobytes() == rates.tobytes()
    copy["time"][0] = 9  # writable, like MetaTrader's
    empty = round_trip(np.zeros(0, dtype=mt5.TICKS_DTYPE))
    assert empty.dtype == mt5.TICKS_DTYPE
    assert len(empty) == 0
    matrix = round_trip(np.arange(6, dtype=">i4").reshape(2, 3))
    assert matrix.dtype == np.dtype(">i4")
    assert matrix.tolist() == [[0, 1, 2], [3, 4, 5]]


class Side(enum.IntEnum):
    BUY = 0


def test_scalars_datetimes_and_containers() -> None:
    value = {
        "action": Side.BUY,
        "volume": np.float64(0.1),
        "magic": np.int64(7),
        "flag": np.bool_(True),
        "none": None,
        "raw": b"\x00\xff",
        "list": [1, (2, 3)],
    }
    copy = round_trip(value)
    assert copy == {
        "action": 0,
        "volume": 0.1,
        "magic": 7,
        "flag": True,
        "none": None,
        "raw": b"\x00\xff",
        "list": [1, (2, 3)],
    }
    assert type(copy["action"]) is int
    assert type(copy["volume"]) is float
    aware = datetime(2020, 1, 10, 12, 30, 1, 5, tzinfo=timezone(timedelta(hours=2)))
    assert round_trip(aware) == aware
    assert round_trip(aware).utcoffset() == timedelta(hours=2)
    naive = datetime(2020, 1, 10, 12)
    assert round_trip(naive) == naive
    assert round_trip(naive).tzinfo is None
    assert round_trip(datetime(2020, 1, 1, tzinfo=UTC)).utcoffset() == timedelta(0)
    account = AccountInfo(*range(len(AccountInfo._fields)))
    assert round_trip(account) == account


@pytest.mark.parametrize(
    "value",
    [
        object(),
        {1, 2},
        np.array([object()]),
        lambda: None,
    ],
)
def test_what_is_not_a_value_is_refused(value: Any) -> None:
    with pytest.raises(WireError):
        encode(value)


@pytest.mark.parametrize(
    "data",
    [
        ("nt", "__class__", ("a",), (1,)),
        ("nt", "X", ("__globals__",), (1,)),
        ("nt", "X", ("a", "b"), (1,)),
        ("nt", "import os", ("a",), (1,)),
        ("nd", "|O8", (1,), b"\0" * 8),
        ("nd", "<f8", (2,), b"\0" * 8),
        ("nd", "<f8", (-1,), b""),
        ("nd", ("l", (("t", ("a", "|O")),)), (1,), b"\0" * 8),
        ("dt", (2020, 13, 1, 0, 0, 0, 0), None),
        ("d", ((("l", ()), 1),)),
        ("eval", "1+1"),
        ("t", ["not", "a", "tuple"]),
        ("t",),
        [1, 2],
        object(),  # e.g. an rpyc netref: never dereferenced
    ],
)
def test_malformed_wire_data_is_refused(data: Any) -> None:
    with pytest.raises(WireError):
        decode(data)


def test_nesting_is_bounded() -> None:
    deep: Any = 1
    for _ in range(MAX_DEPTH + 2):
        deep = [deep]
    with pytest.raises(WireError):
        encode(deep)
    data: Any = 1
    for _ in range(MAX_DEPTH + 2):
        data = ("l", (data,))
    with pytest.raises(WireError):
        decode(data)


def test_auth_proofs() -> None:
    secret = b"s" * 32
    server_nonce, client_nonce = auth.new_nonce(), auth.new_nonce()
    assert server_nonce != client_nonce
    assert auth.valid_nonce(server_nonce)
    assert not auth.valid_nonce(b"short")
    assert not auth.valid_nonce("x" * 32)
    proof = auth.client_proof(secret, server_nonce, client_nonce)
    assert auth.matches(proof, proof)
    assert not auth.matches(proof, auth.client_proof(b"other", server_nonce, client_nonce))
    assert not auth.matches(proof, auth.server_proof(secret, server_nonce, client_nonce))
    assert not auth.matches(proof, proof.hex())
