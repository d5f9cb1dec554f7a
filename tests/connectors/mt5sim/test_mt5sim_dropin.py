"""Drop-in details that frameworks written for the real ``MetaTrader5`` package rely on.

* Its functions are C built-ins: stored on a class and called through an instance, they do not
  receive the instance (built-ins are not descriptors).
* Its structures are C struct sequences: built from one sequence (``Tick(row)``), a sequence
  of the wrong length is a TypeError.
"""

from __future__ import annotations

import copy
import inspect
import pickle
import types
from typing import Any

import numpy as np
import pytest
from mt5sim_testkit import SEED, THURSDAY, market_request

import forexbot.connectors.mt5sim as mt5
from forexbot.clock import ManualClock
from forexbot.connectors.mt5sim.terminal import SimulatedTerminal

LOGIN = 5_123_456
DAY = 86_400

#: Arguments for the module functions that need some (the others are called without any).
ARGUMENTS: dict[str, tuple[tuple[Any, ...], dict[str, Any]]] = {
    "login": ((LOGIN,), {}),
    "symbols_get": (("EUR*",), {}),
    "symbol_info": (("EURUSD",), {}),
    "symbol_info_tick": (("EURUSD",), {}),
    "symbol_select": (("EURUSD", True), {}),
    "market_book_add": (("EURUSD",), {}),
    "market_book_get": (("EURUSD",), {}),
    "market_book_release": (("EURUSD",), {}),
    "copy_rates_from": (("EURUSD", mt5.TIMEFRAME_M5, int(THURSDAY), 20), {}),
    "copy_rates_from_pos": (("EURUSD", mt5.TIMEFRAME_M1, 0, 20), {}),
    "copy_rates_range": (("EURUSD", mt5.TIMEFRAME_M1, int(THURSDAY) - 3600, int(THURSDAY)), {}),
    "copy_ticks_from": (("EURUSD", int(THURSDAY), 50, mt5.COPY_TICKS_ALL), {}),
    "copy_ticks_range": (
        ("EURUSD", int(THURSDAY), int(THURSDAY) + 60, mt5.COPY_TICKS_ALL),
        {},
    ),
    "orders_get": ((), {"symbol": "EURUSD"}),
    "positions_get": ((), {"symbol": "EURUSD"}),
    "order_calc_margin": ((mt5.ORDER_TYPE_BUY, "EURUSD", 0.1, 1.1), {}),
    "order_calc_profit": ((mt5.ORDER_TYPE_BUY, "EURUSD", 0.1, 1.1, 1.101), {}),
    "order_check": ((market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1),), {}),
    "order_send": ((market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1),), {}),
    "history_orders_total": ((0, int(THURSDAY) + DAY), {}),
    "history_orders_get": ((0, int(THURSDAY) + DAY), {}),
    "history_deals_total": ((0, int(THURSDAY) + DAY), {}),
    "history_deals_get": ((0, int(THURSDAY) + DAY), {}),
}
#: Called first (they make the others meaningful) and last (they end the session).
FIRST = ("set_terminal", "initialize", "login", "symbol_select", "market_book_add", "order_send")
LAST = ("market_book_release", "shutdown")
#: The functions that answer None when they succeed.
ANSWER_NONE = {"set_terminal", "shutdown"}


def _module_functions() -> list[str]:
    """Every public callable of the module that is not a class, from ``__all__``."""
    return [
        name
        for name in mt5.__all__
        if callable(value := getattr(mt5, name)) and not isinstance(value, type)
    ]


def _call_order(names: list[str]) -> list[str]:
    middle = sorted(n for n in names if n not in FIRST and n not in LAST)
    return [n for n in FIRST if n in names] + middle + [n for n in LAST if n in names]


def _comparable(name: str, value: Any) -> Any:
    """What must be equal between two calls (order_send makes a new ticket each time)."""
    if isinstance(value, np.ndarray):
        return (value.dtype, value.tobytes())
    if name == "order_send" and value is not None:
        return value._replace(deal=0, order=0, request_id=0)
    return value


@pytest.fixture
def fresh_terminal(module_surface: None) -> SimulatedTerminal:
    """A terminal on a stopped clock: two calls in a row see the same market."""
    return SimulatedTerminal(seed=SEED, clock=ManualClock(THURSDAY), login=LOGIN)


def test_the_module_has_the_functions_a_framework_stores() -> None:
    names = set(_module_functions())
    assert names >= set(ARGUMENTS) | set(FIRST) | set(LAST) | {"last_error", "get_terminal"}
    assert len(names) == 34  # the 32 MetaTrader5 functions, get_terminal and set_terminal


def test_every_function_called_through_an_instance_gets_no_instance(
    fresh_terminal: SimulatedTerminal,
) -> None:
    """``setattr(Core, "_x", mt5.x)`` then ``self._x(...)``: the result of a direct call."""

    class Core:
        pass

    names = _call_order(_module_functions())
    for name in names:
        setattr(Core, f"_{name}", getattr(mt5, name))
    core = Core()
    arguments = {**ARGUMENTS, "set_terminal": ((fresh_terminal,), {})}
    for name in names:
        args, kwargs = arguments.get(name, ((), {}))
        direct = getattr(mt5, name)(*args, **kwargs)
        through_instance = getattr(core, f"_{name}")(*args, **kwargs)
        assert _comparable(name, through_instance) == _comparable(name, direct), name
        if name in ANSWER_NONE:
            assert through_instance is None, name
        else:
            assert through_instance is not None, (name, mt5.last_error())
            assert through_instance is not False, (name, mt5.last_error())
        if name == "initialize":
            assert through_instance is True
            assert core._last_error() == (1, "Success")  # type: ignore[attr-defined]
        if name == "order_send":
            assert through_instance.retcode == mt5.TRADE_RETCODE_DONE
        if name == "get_terminal":
            assert through_instance is fresh_terminal
    # shutdown went through the instance too: the session is over.
    assert core._account_info() is None  # type: ignore[attr-defined]
    assert core._last_error() == (-10004, "No IPC connection")  # type: ignore[attr-defined]


@pytest.mark.parametrize("name", _module_functions())
def test_a_module_function_is_not_a_descriptor_and_keeps_its_identity(name: str) -> None:
    fn = getattr(mt5, name)
    assert not isinstance(fn, types.FunctionType)
    assert not hasattr(type(fn), "__get__")
    wrapped = fn.__wrapped__
    assert isinstance(wrapped, types.FunctionType)
    assert (fn.__name__, fn.__qualname__, fn.__module__) == (name, name, mt5.__name__)
    assert fn.__doc__ == wrapped.__doc__
    assert inspect.signature(fn) == inspect.signature(wrapped)
    assert pickle.loads(pickle.dumps(fn)) is fn
    assert copy.deepcopy(fn) is fn
    assert repr(fn) == f"<function {mt5.__name__}.{name}>"


@pytest.mark.usefixtures("module_surface")
def test_a_function_read_back_from_a_class_and_stored_again_still_does_not_bind() -> None:
    """Where ``staticmethod`` fails: reading it from the class gives a plain function."""

    class First:
        get = mt5.get_terminal
        error = mt5.last_error

    class Second:
        get = First.get
        error = First().error

    assert Second().get() is None
    assert Second().error() == (-10004, "No IPC connection")


# -- structures -------------------------------------------------------------------------------


def _structure_classes() -> dict[str, type[tuple[Any, ...]]]:
    """Every structure class the module exports: the named tuples in ``__all__``."""
    return {
        name: value
        for name in mt5.__all__
        if isinstance(value := getattr(mt5, name), type)
        and issubclass(value, tuple)
        and hasattr(value, "_fields")
    }


def _one_of_each(terminal: SimulatedTerminal) -> dict[str, tuple[Any, ...]]:
    """A real instance of every structure, as the terminal returns them."""
    assert terminal.symbol_select("EURUSD")
    sent = terminal.order_send(market_request("EURUSD", mt5.ORDER_TYPE_BUY, 0.1))
    checked = terminal.order_check(market_request("EURUSD", mt5.ORDER_TYPE_SELL, 0.1))
    tick = terminal.symbol_info_tick("EURUSD")
    assert sent is not None
    assert checked is not None
    assert tick is not None
    pending = terminal.order_send(
        {
            "action": mt5.TRADE_ACTION_PENDING,
            "symbol": "EURUSD",
            "volume": 0.1,
            "type": mt5.ORDER_TYPE_BUY_LIMIT,
            "price": round(tick.ask - 0.01, 5),
            "type_filling": mt5.ORDER_FILLING_RETURN,
        }
    )
    assert pending is not None
    assert pending.retcode == mt5.TRADE_RETCODE_PLACED
    assert terminal.market_book_add("EURUSD")
    found: dict[str, Any] = {
        "AccountInfo": terminal.account_info(),
        "TerminalInfo": terminal.terminal_info(),
        "SymbolInfo": terminal.symbol_info("EURUSD"),
        "Tick": tick,
        "TradePosition": (terminal.positions_get() or (None,))[0],
        "TradeOrder": (terminal.orders_get() or (None,))[0],
        "TradeDeal": (terminal.history_deals_get(0, int(THURSDAY) + DAY) or (None,))[0],
        "OrderSendResult": sent,
        "OrderCheckResult": checked,
        "TradeRequest": sent.request,
        "BookInfo": (terminal.market_book_get("EURUSD") or (None,))[0],
    }
    assert all(value is not None for value in found.values()), found
    return found


def test_every_structure_is_built_from_one_sequence(terminal: SimulatedTerminal) -> None:
    classes = _structure_classes()
    instances = _one_of_each(terminal)
    assert set(classes) == set(instances)  # every exported structure is covered
    for name, cls in classes.items():
        real = instances[name]
        assert type(real) is cls
        row = tuple(real)
        built = cls(row)
        assert type(built) is cls
        assert built == real == row
        assert built._fields == real._fields
        assert built._asdict() == real._asdict() == dict(zip(cls._fields, row, strict=True))
        assert getattr(built, cls._fields[-1]) == row[-1]
        assert repr(built).startswith(f"{name}({cls._fields[0]}=")
        assert cls(list(row)) == cls(iter(row)) == cls(sequence=row) == cls(row, None) == real
        assert cls(row, {}) == real
        first, *rest = built
        assert (first, *rest) == row
        assert pickle.loads(pickle.dumps(built)) == real
        assert type(pickle.loads(pickle.dumps(built))) is cls
        assert copy.deepcopy(built) == real


@pytest.mark.parametrize("name", sorted(_structure_classes()))
def test_a_sequence_of_the_wrong_length_is_a_type_error(name: str) -> None:
    cls = _structure_classes()[name]
    size = len(cls._fields)
    with pytest.raises(TypeError, match=f"takes a {size}-sequence \\({size - 1}-sequence given"):
        cls((0,) * (size - 1))
    with pytest.raises(TypeError, match=f"\\({size + 1}-sequence given"):
        cls((0,) * (size + 1))
    with pytest.raises(TypeError, match="takes a"):
        cls(())
    with pytest.raises(TypeError, match="requires a sequence"):
        cls(5)
    with pytest.raises(TypeError, match="missing required argument 'sequence'"):
        cls()
    with pytest.raises(TypeError, match="takes a dict as second arg"):
        cls((0,) * size, [("a", 1)])
    with pytest.raises(TypeError, match="unexpected field name"):
        cls((0,) * size, {cls._fields[0]: 1})
    with pytest.raises(TypeError, match="at most 2 arguments"):
        cls((0,) * size, None, None)
    with pytest.raises(TypeError, match=f"unexpected keyword argument '{cls._fields[0]}'"):
        cls((0,) * size, **{cls._fields[0]: 1})


def test_keyword_and_one_argument_per_field_construction_still_work() -> None:
    row = (1_709_812_800, 1.1, 1.1002, 0.0, 0, 1_709_812_800_123, 6, 0.0)
    names = mt5.Tick._fields
    assert mt5.Tick(**dict(zip(names, row, strict=True))) == mt5.Tick(*row) == mt5.Tick(row)
    with pytest.raises(TypeError, match="missing 1 required field"):
        mt5.Tick(**dict(zip(names[:-1], row, strict=False)))
    with pytest.raises(TypeError, match="unexpected keyword argument 'tim'"):
        mt5.Tick(tim=1, **dict(zip(names[1:], row[1:], strict=True)))
    with pytest.raises(TypeError, match="at most 2 arguments"):
        mt5.Tick(*row[:3])
    request = mt5.TradeRequest(symbol="EURUSD", volume=0.1)  # TradeRequest's fields default
    assert (request.action, request.symbol, request.volume, request.comment) == (
        0,
        "EURUSD",
        0.1,
        "",
    )
    assert request._replace(price=1.1).price == 1.1
    assert type(request._replace(price=1.1)) is mt5.TradeRequest
