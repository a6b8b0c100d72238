"""Run a client library's own tests against wrapped clients: stand-ins that wrap what they build."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import vecrank


def wrapping_class(cls: type, config: Mapping | None = None) -> type:
    """A stand-in for client class ``cls``: calling it builds a plain ``cls`` and returns it wrapped.

    ``isinstance(x, stand_in)`` is ``isinstance(x, cls)``, so code that checks either is satisfied.
    """

    class Wrapping(type(cls)):
        def __call__(self, *args: Any, **kwargs: Any) -> Any:
            return vecrank.wrap(cls(*args, **kwargs), config=dict(config or {}))

        def __instancecheck__(self, instance: Any) -> bool:
            return isinstance(instance, cls)

    return Wrapping(cls.__name__, (cls,), {"__module__": cls.__module__, "__doc__": cls.__doc__})


def wrapping_function(connect: Callable[..., Any], config: Mapping | None = None) -> Callable[..., Any]:
    """A stand-in for a client factory (``weaviate.connect_to_local``) that wraps what it returns."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return vecrank.wrap(connect(*args, **kwargs), config=dict(config or {}))

    wrapped.__name__, wrapped.__doc__ = connect.__name__, connect.__doc__
    return wrapped
