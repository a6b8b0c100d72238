"""The proxy every wrapped object is: wrapt's ``ObjectProxy`` that carries a reranking pipeline.

A proxy passes for the object it wraps: ``isinstance``, ``type()``-free checks, ``dir``,
attributes (private ones included), ``len``/``iter``, context managers and ``close()`` are the
object's own. It adds only the reranking methods its subclass defines, whose signatures are
the client's own plus vecrank's keywords. ``copy``, ``deepcopy`` and ``pickle`` copy the
wrapped object as the plain one allows and keep the pipeline. ``__wrapped__`` is the plain object.
"""

from __future__ import annotations

import contextvars
import copy
import inspect
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

import wrapt

from .pipeline import RerankPipeline

F = TypeVar("F", bound=Callable[..., Any])

# Set while vecrank itself calls a client's search, so instrumented classes do not rerank twice.
_PLAIN = contextvars.ContextVar("vecrank_plain", default=False)


def calling_plain() -> bool:
    """Whether the current call comes from vecrank itself (instrumented methods pass it through)."""
    return _PLAIN.get()


def call_plain(method: Callable[..., Any], /, **arguments: Any) -> Any:
    """``method(**arguments)``, never reranked by :func:`vecrank.instrument`'s patches."""
    token = _PLAIN.set(True)
    try:
        return method(**arguments)
    finally:
        _PLAIN.reset(token)


async def acall_plain(method: Callable[..., Awaitable[Any]], /, **arguments: Any) -> Any:
    """The async twin of :func:`call_plain`."""
    token = _PLAIN.set(True)
    try:
        return await method(**arguments)
    finally:
        _PLAIN.reset(token)


def signature_of(original: Callable[..., Any], **keywords: tuple[Any, Any]) -> Callable[[F], F]:
    """Give the decorated method ``original``'s signature and docstring, plus keyword-only ``keywords``.

    ``keywords`` maps a name to ``(annotation, default)``; they go before ``**kwargs`` if there is one.
    """
    signature = inspect.signature(original)
    parameters = list(signature.parameters.values())
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=default, annotation=annotation)
        for name, (annotation, default) in keywords.items()
    ]
    at = len(parameters)
    if parameters and parameters[-1].kind is inspect.Parameter.VAR_KEYWORD:
        at -= 1
    merged = signature.replace(parameters=parameters[:at] + extra + parameters[at:])

    def decorate(method: F) -> F:
        method.__signature__ = merged  # type: ignore[attr-defined]
        if original.__doc__:
            method.__doc__ = f"{method.__doc__}\n\n{inspect.cleandoc(original.__doc__)}"
        return method

    return decorate


class RerankingProxy(wrapt.ObjectProxy):
    """A wrapped client, collection or namespace: the object's own behaviour plus reranked searches."""

    def __init__(self, wrapped: Any, pipeline: RerankPipeline, *state: Any) -> None:
        super().__init__(wrapped)
        self._self_pipeline = pipeline
        self._self_state = state

    @property
    def vecrank_pipeline(self) -> RerankPipeline:
        """The reranking pipeline (its ``config`` holds the per-collection settings)."""
        return self._self_pipeline

    def _self_rewrap(self, wrapped: Any) -> Any:
        """``wrapped`` (a copy, or a derived object such as ``with_tenant``'s) behind this proxy's twin."""
        return type(self)(wrapped, self._self_pipeline, *self._self_state)

    def _self_child(self, slot: str, wrapped: Any, factory: Callable[[Any], Any]) -> Any:
        """One proxy per wrapped attribute object (``collections``, ``query``), rebuilt if it changes."""
        cached = getattr(self, slot, None)
        if cached is None or cached.__wrapped__ is not wrapped:
            cached = factory(wrapped)
            setattr(self, slot, cached)
        return cached

    def __copy__(self) -> Any:
        return self._self_rewrap(copy.copy(self.__wrapped__))

    def __deepcopy__(self, memo: dict) -> Any:
        wrapped = copy.deepcopy(self.__wrapped__, memo)
        pipeline, state = copy.deepcopy((self._self_pipeline, self._self_state), memo)
        return type(self)(wrapped, pipeline, *state)

    def __reduce_ex__(self, protocol: int) -> tuple:
        return _rebuild, (type(self), self.__wrapped__, self._self_pipeline, self._self_state)

    def __reduce__(self) -> tuple:
        return self.__reduce_ex__(2)

    def __enter__(self) -> Any:
        entered = self.__wrapped__.__enter__()
        return self if entered is self.__wrapped__ else entered

    async def __aenter__(self) -> Any:
        entered = await self.__wrapped__.__aenter__()
        return self if entered is self.__wrapped__ else entered


def _rebuild(proxy_type: type[RerankingProxy], wrapped: Any, pipeline: RerankPipeline, state: tuple) -> Any:
    """Unpickle a proxy."""
    return proxy_type(wrapped, pipeline, *state)
