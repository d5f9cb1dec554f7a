"""The constructor of C struct sequences (``os.stat_result``, MetaTrader's structures) for
named tuples.

MetaTrader's structures are struct sequences: ``Tick(row)`` builds one from one sequence. The
simulator's structures (:mod:`forexbot.connectors.mt5sim.structures`) and the bridge's copies
of remote ones (:mod:`forexbot.connectors.bridge.wire`) take that form, besides the named
tuple's own (one argument, or one keyword, per field), which stays unambiguous as long as a
structure has at least three fields and none is named ``sequence`` or ``dict``
(:func:`unambiguous`). Depends on nothing but the standard library, so the bridge's protocol
does not load the simulator.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, Self


def unambiguous(fields: tuple[str, ...]) -> bool:
    """Whether a named tuple of ``fields`` can take the struct-sequence constructor too."""
    return len(fields) >= 3 and not {"sequence", "dict"} & set(fields)


class StructSequence(tuple[Any, ...]):
    """The constructor of a C struct sequence for a named tuple (see the module doc).

    Subclasses list this first and a :class:`~typing.NamedTuple` of the fields second:
    ``class Tick(StructSequence, _Tick)``.
    """

    __slots__ = ()
    # Provided by the NamedTuple base (declared for the type checker only).
    _fields: Any
    _field_defaults: Any

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if not unambiguous(cls._fields):
            raise TypeError(f"{cls.__name__}: its constructor forms would be ambiguous")

    def __new__(cls, *args: Any, **kwargs: Any) -> Self:
        fields: tuple[str, ...] = cls._fields
        if not kwargs and len(args) == len(fields):
            return tuple.__new__(cls, args)
        if not args and len(kwargs) == len(fields):  # the simulator's own form: fast path
            try:
                return tuple.__new__(cls, map(kwargs.__getitem__, fields))
            except KeyError:
                pass  # a name is wrong: _by_name says which
        if kwargs and not args and "sequence" not in kwargs and "dict" not in kwargs:
            return tuple.__new__(cls, _by_name(cls.__name__, fields, cls._field_defaults, kwargs))
        return tuple.__new__(cls, _from_sequence(cls.__name__, len(fields), args, kwargs))

    def __getnewargs__(self) -> tuple[tuple[Any, ...]]:  # pickle and copy: the sequence form
        return (tuple(self),)


def _from_sequence(
    name: str, size: int, args: tuple[Any, ...], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """The items of ``Struct(sequence, dict=None)``, with CPython's struct-sequence errors."""
    if len(args) > 2:
        raise TypeError(f"{name}() takes at most 2 arguments ({len(args)} given)")
    for key in kwargs:
        if key not in ("sequence", "dict"):
            raise TypeError(f"{name}() got an unexpected keyword argument {key!r}")
    params = dict(zip(("sequence", "dict"), args, strict=False))
    for key, value in kwargs.items():
        if key in params:
            position = 1 if key == "sequence" else 2
            raise TypeError(
                f"argument for {name}() given by name ({key!r}) and position ({position})"
            )
        params[key] = value
    if "sequence" not in params:
        raise TypeError(f"{name}() missing required argument 'sequence' (pos 1)")
    mapping = params.get("dict")
    if mapping is not None and not isinstance(mapping, dict):
        raise TypeError(f"{name}() takes a dict as second arg, if any")
    sequence = params["sequence"]
    if not isinstance(sequence, Iterable):
        raise TypeError("constructor requires a sequence")
    items = tuple(sequence)
    if len(items) != size:
        raise TypeError(f"{name}() takes a {size}-sequence ({len(items)}-sequence given)")
    if mapping:
        raise TypeError(f"{name}() got duplicate or unexpected field name(s)")
    return items


def _by_name(
    name: str, fields: tuple[str, ...], defaults: dict[str, Any], kwargs: dict[str, Any]
) -> tuple[Any, ...]:
    """The items of ``Struct(field=value, ...)``: every field once, defaults for the rest."""
    if len(kwargs) > len(fields) or not kwargs.keys() <= set(fields):
        unexpected = next(key for key in kwargs if key not in fields)
        raise TypeError(f"{name}() got an unexpected keyword argument {unexpected!r}")
    missing = [f for f in fields if f not in kwargs and f not in defaults]
    if missing:
        raise TypeError(f"{name}() missing {len(missing)} required field(s): {', '.join(missing)}")
    return tuple(kwargs[f] if f in kwargs else defaults[f] for f in fields)
