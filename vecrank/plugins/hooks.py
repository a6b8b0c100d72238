"""Calling hook implementations one at a time, so a failure names the plugin it came from.

Implementations are called in pluggy's order (``tryfirst`` first, then the last registered
first, ``trylast`` last). An exception that is not a :class:`VecrankError` becomes a
:class:`PluginError` naming the plugin and the hook.
"""

from __future__ import annotations

from typing import Any

import pluggy

from ..errors import PluginError, VecrankError


def call_impl(impl: pluggy.HookImpl, **kwargs: Any) -> Any:
    """One implementation with the arguments it takes (a plugin may take fewer than the spec)."""
    try:
        return impl.function(**{name: kwargs[name] for name in impl.argnames})
    except VecrankError:
        raise
    except Exception as error:
        raise PluginError(
            f"plugin {impl.plugin_name!r} raised in {impl.function.__name__}: "
            f"{type(error).__name__}: {error}",
            plugin=impl.plugin_name,
        ) from error


def first_result(hook: pluggy.HookCaller, **kwargs: Any) -> Any:
    """The first answer that is not None, as a ``firstresult`` hook gives it (None: no plugin answered)."""
    for impl in reversed(hook.get_hookimpls()):
        result = call_impl(impl, **kwargs)
        if result is not None:
            return result
    return None


def call_each(hook: pluggy.HookCaller, **kwargs: Any) -> None:
    """Every implementation in turn, for hooks that act in place (``vecrank_after_rerank``)."""
    for impl in reversed(hook.get_hookimpls()):
        call_impl(impl, **kwargs)


def check_no_wrappers(pm: pluggy.PluginManager) -> None:
    """A :class:`PluginError` for a hook wrapper: vecrank calls implementations one at a time."""
    for hook in pm.hook.__dict__.values():
        if not isinstance(hook, pluggy.HookCaller):
            continue
        for impl in hook.get_hookimpls():
            if impl.hookwrapper or impl.wrapper:
                raise PluginError(
                    f"plugin {impl.plugin_name!r}: {hook.name} is a hook wrapper, which vecrank does not "
                    "support; implement the hook itself (tryfirst/trylast set the order)",
                    plugin=impl.plugin_name,
                )
