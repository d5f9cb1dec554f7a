"""Module functions that call like C built-ins: stored on a class, they never bind.

The real ``MetaTrader5`` functions are C built-ins, and built-ins are not descriptors (they have
no ``__get__``). So a framework that keeps them on a class, ``setattr(Core, "_initialize",
mt5.initialize)``, and calls ``self._initialize(...)`` gets the plain function: the instance is
not passed. A Python function *is* a descriptor, so the same code would call
``initialize(self, ...)``, i.e. ``path=self``.

:class:`ModuleFunction` wraps a function in a callable object whose class defines no
``__get__``. Compared with the alternatives:

* ``staticmethod`` (callable since Python 3.10) does not bind either, but it *is* a descriptor:
  ``Core._initialize`` hands back the underlying Python function, which binds again as soon as
  the framework stores *that* on another class. A non-descriptor stays itself wherever it is
  put, like a built-in. ``staticmethod`` objects also cannot be pickled.
* A C extension or ``functools.partial`` (a C type without ``__get__``) would work, but a
  partial has no ``__name__``/``__doc__`` of its own and repr()s as the wrapped function's
  internals.

What is kept: ``__name__``, ``__qualname__``, ``__doc__``, ``__module__``, ``__wrapped__``
(so ``inspect.signature`` reports the real parameters) and the static types (``ParamSpec``).
Instances pickle by reference, like built-ins (``pickle`` looks the name up in the module).
``inspect.isfunction``/``isbuiltin`` are False for them; ``callable()`` is True.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Generic, ParamSpec, TypeVar

P = ParamSpec("P")
R = TypeVar("R")


class ModuleFunction(Generic[P, R]):
    """``fn`` as a callable that does not bind to instances (see the module doc)."""

    __wrapped__: Callable[P, R]
    __qualname__: str  # set per instance by update_wrapper, like __name__ and __doc__

    def __init__(self, fn: Callable[P, R]) -> None:
        functools.update_wrapper(self, fn)

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.__wrapped__(*args, **kwargs)

    def __repr__(self) -> str:
        return f"<function {self.__module__}.{self.__qualname__}>"

    def __reduce__(self) -> str:
        # A string: pickle stores a reference to the module attribute of that name.
        return self.__qualname__


def module_function(fn: Callable[P, R]) -> ModuleFunction[P, R]:
    """Decorator: make a module-level function call like a C built-in."""
    return ModuleFunction(fn)
