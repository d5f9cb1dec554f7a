"""The bridge's wire format: MetaTrader values copied *by value*, in a version-independent form.

Why not let rpyc carry the objects? rpyc sends only a few built-in types by value (None, bool,
int, float, str, bytes and tuples of those); everything else becomes a *netref*, a live proxy
to an object on the other side. MetaTrader's named tuples and numpy arrays would be netrefs, so
each field read is a network round trip, results die with the connection, and copying them
with ``obtain`` means pickling, which needs the same classes (``MetaTrader5.AccountInfo``) and
numpy version on both sides (mt5linux#4, #57) and lets the sender run code in the receiver.

So both sides convert values to nested tuples of those built-in types, tagged by kind:

====================  =====================================================================
value                 wire form
====================  =====================================================================
None, bool, int,      themselves (numpy scalars become their Python value with ``.item()``;
float, str, bytes     int/float/str subclasses such as IntEnum become the base type)
tuple, list           ``("t", items)``, ``("l", items)``
dict                  ``("d", ((key, value), ...))``
named tuple           ``("nt", type name, field names, values)``: rebuilt as a local named
                      tuple class with the same name and fields (cached), so ``info.balance``,
                      ``info[10]``, ``_asdict()`` and pandas all work; like MetaTrader's
                      struct sequences it is also built from one sequence (``Tick(row)``)
numpy array           ``("nd", dtype descr, shape, raw bytes)``: rebuilt byte for byte;
                      object dtypes are refused (they are pointers, not data)
datetime              ``("dt", (y, m, d, H, M, S, µs), utcoffset seconds or None)``: the same
                      wall time and offset, so naive/aware semantics survive the trip
====================  =====================================================================

Every tuple is tagged, so decoding is unambiguous. Decoding is strict (types, sizes, nesting
depth, identifier names) because each side treats the other's data as untrusted, and nothing
is ever evaluated: no ``eval``, no pickle.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import namedtuple
from typing import Any

import numpy as np

from forexbot.connectors.struct_sequence import StructSequence, unambiguous

PROTOCOL_VERSION = 1

#: The MetaTrader5 module functions the bridge serves: the whole allow-list.
FUNCTIONS: frozenset[str] = frozenset(
    {
        "initialize",
        "login",
        "shutdown",
        "version",
        "last_error",
        "account_info",
        "terminal_info",
        "symbols_total",
        "symbols_get",
        "symbol_info",
        "symbol_info_tick",
        "symbol_select",
        "market_book_add",
        "market_book_get",
        "market_book_release",
        "copy_rates_from",
        "copy_rates_from_pos",
        "copy_rates_range",
        "copy_ticks_from",
        "copy_ticks_range",
        "orders_total",
        "orders_get",
        "order_calc_margin",
        "order_calc_profit",
        "order_check",
        "order_send",
        "positions_total",
        "positions_get",
        "history_orders_total",
        "history_orders_get",
        "history_deals_total",
        "history_deals_get",
    }
)
#: Functions that answer False (not None) when they fail.
BOOL_FUNCTIONS: frozenset[str] = frozenset(
    {"initialize", "login", "symbol_select", "market_book_add", "market_book_release"}
)

ErrorPair = tuple[int, str]

# MetaTrader's last_error() values the bridge reports for its own failures.
SUCCESS: ErrorPair = (1, "Success")
CALL_FAILED: ErrorPair = (-1, "Terminal: Call failed")
INVALID_PARAMS: ErrorPair = (-2, "Terminal: Invalid params")
INVALID_VERSION: ErrorPair = (-5, "Invalid version")
AUTH_FAILED: ErrorPair = (-6, "Authorization failed")
INIT_FAILED: ErrorPair = (-10003, "IPC initialize failed")
NO_IPC: ErrorPair = (-10004, "No IPC connection")
IPC_TIMEOUT: ErrorPair = (-10005, "IPC timeout")

MAX_DEPTH = 12
MAX_ITEMS = 1_000_000
_SCALARS = (type(None), bool, int, float, str, bytes)
_NT_CACHE_LIMIT = 256
_nt_classes: dict[tuple[str, tuple[str, ...]], type[tuple[Any, ...]]] = {}


class WireError(ValueError):
    """A value cannot be put on the wire, or what arrived is not valid wire data."""


# -- encoding -------------------------------------------------------------------------------------


def encode(value: Any, depth: int = 0) -> Any:
    """``value`` as nested built-in tuples that rpyc sends by value (see the module doc)."""
    if depth > MAX_DEPTH:
        raise WireError("value nested too deeply")
    kind = type(value)
    if kind in _SCALARS:
        return value
    if isinstance(value, np.ndarray):
        return _encode_array(value)
    if isinstance(value, np.generic):
        return encode(value.item(), depth + 1)
    if isinstance(value, bool):
        return bool(value)
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return float(value)
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dt.datetime):
        return _encode_datetime(value)
    if isinstance(value, tuple):
        items = tuple(encode(item, depth + 1) for item in value)
        fields = getattr(value, "_fields", None)
        if isinstance(fields, tuple):
            return ("nt", kind.__name__, tuple(str(f) for f in fields), items)
        return ("t", items)
    if isinstance(value, list):
        return ("l", tuple(encode(item, depth + 1) for item in value))
    if isinstance(value, dict):
        return ("d", tuple((encode(k, depth + 1), encode(v, depth + 1)) for k, v in value.items()))
    raise WireError(f"cannot send a {kind.__module__}.{kind.__qualname__} by value")


def _encode_array(array: np.ndarray[Any, Any]) -> tuple[Any, ...]:
    if array.dtype.hasobject:
        raise WireError("numpy arrays of Python objects cannot be sent by value")
    descr = np.lib.format.dtype_to_descr(array.dtype)
    return ("nd", encode(descr), tuple(int(n) for n in array.shape), array.tobytes(order="C"))


def wall_time(value: dt.datetime) -> tuple[int, int, int, int, int, int, int]:
    """The datetime's wall time, year to microsecond: with its UTC offset (or None), all it
    takes to rebuild the same datetime on the other side."""
    return (
        value.year,
        value.month,
        value.day,
        value.hour,
        value.minute,
        value.second,
        value.microsecond,
    )


def _encode_datetime(value: dt.datetime) -> tuple[Any, ...]:
    offset = value.utcoffset()
    return ("dt", wall_time(value), None if offset is None else int(offset.total_seconds()))


# -- decoding -------------------------------------------------------------------------------------


def decode(data: Any, depth: int = 0) -> Any:
    """The value :func:`encode` produced ``data`` from. Raises :class:`WireError` for anything
    that is not valid wire data (including rpyc netrefs: the bridge never dereferences them)."""
    if depth > MAX_DEPTH:
        raise WireError("wire data nested too deeply")
    if type(data) in _SCALARS:
        return data
    if type(data) is not tuple or not data or type(data[0]) is not str:
        raise WireError(f"not wire data: {type(data).__name__}")
    tag = data[0]
    if tag == "t" and len(data) == 2:
        return tuple(_decode_items(data[1], depth))
    if tag == "l" and len(data) == 2:
        return _decode_items(data[1], depth)
    if tag == "d" and len(data) == 2:
        return _decode_dict(data[1], depth)
    if tag == "nt" and len(data) == 4:
        return _decode_namedtuple(data[1], data[2], data[3], depth)
    if tag == "nd" and len(data) == 4:
        return _decode_array(data[1], data[2], data[3], depth)
    if tag == "dt" and len(data) == 3:
        return _decode_datetime(data[1], data[2])
    raise WireError(f"unknown wire tag {tag!r}")


def _decode_items(items: Any, depth: int) -> list[Any]:
    if type(items) is not tuple or len(items) > MAX_ITEMS:
        raise WireError("malformed sequence")
    return [decode(item, depth + 1) for item in items]


def _decode_dict(pairs: Any, depth: int) -> dict[Any, Any]:
    if type(pairs) is not tuple or len(pairs) > MAX_ITEMS:
        raise WireError("malformed dict")
    out: dict[Any, Any] = {}
    for pair in pairs:
        if type(pair) is not tuple or len(pair) != 2:
            raise WireError("malformed dict item")
        key = decode(pair[0], depth + 1)
        if type(key) not in _SCALARS:
            raise WireError("dict keys must be scalars")
        out[key] = decode(pair[1], depth + 1)
    return out


def _decode_namedtuple(name: Any, fields: Any, values: Any, depth: int) -> tuple[Any, ...]:
    if not _identifier(name) or type(fields) is not tuple or type(values) is not tuple:
        raise WireError("malformed named tuple")
    if len(fields) != len(values) or len(fields) > 512 or not all(map(_identifier, fields)):
        raise WireError(f"malformed named tuple {name!r}")
    cls = namedtuple_class(name, fields)
    return cls(*(decode(v, depth + 1) for v in values))


def _identifier(name: Any) -> bool:
    return type(name) is str and name.isidentifier() and not name.startswith("_")


def namedtuple_class(name: str, fields: tuple[str, ...]) -> type[tuple[Any, ...]]:
    """The local named tuple class for a remote one (cached by name and fields)."""
    if not _identifier(name) or not all(map(_identifier, fields)):
        raise WireError(f"malformed named tuple {name!r}")
    key = (name, fields)
    cached = _nt_classes.get(key)
    if cached is not None:
        return cached
    if len(_nt_classes) >= _NT_CACHE_LIMIT:
        _nt_classes.clear()
    base = namedtuple(name, fields)  # type: ignore[misc]
    cls: type[tuple[Any, ...]] = base
    if unambiguous(fields):
        # MetaTrader's structures are struct sequences: ``Tick(row)`` builds one from one
        # sequence, so the local class takes that form too (and one argument per field).
        cls = type(name, (StructSequence, base), {"__slots__": ()})
    cls.__module__ = __name__
    _nt_classes[key] = cls
    return cls


def _decode_array(descr: Any, shape: Any, raw: Any, depth: int) -> np.ndarray[Any, Any]:
    if type(raw) is not bytes or type(shape) is not tuple:
        raise WireError("malformed array")
    if not all(type(n) is int and n >= 0 for n in shape) or len(shape) > 32:
        raise WireError("malformed array shape")
    try:
        dtype = np.lib.format.descr_to_dtype(decode(descr, depth + 1))
    except (TypeError, ValueError, KeyError) as exc:
        raise WireError(f"malformed array dtype: {exc}") from None
    if dtype.hasobject:
        raise WireError("arrays of Python objects are refused")
    if len(raw) != dtype.itemsize * math.prod(shape):
        raise WireError("array size does not match its shape and dtype")
    return np.frombuffer(bytearray(raw), dtype=dtype).reshape(shape)


def _decode_datetime(fields: Any, offset: Any) -> dt.datetime:
    if type(fields) is not tuple or len(fields) != 7 or not all(type(f) is int for f in fields):
        raise WireError("malformed datetime")
    if offset is not None and type(offset) is not int:
        raise WireError("malformed datetime offset")
    tz = None if offset is None else dt.timezone(dt.timedelta(seconds=offset))
    try:
        return dt.datetime(*fields, tzinfo=tz)
    except (ValueError, OverflowError) as exc:
        raise WireError(f"malformed datetime: {exc}") from None
