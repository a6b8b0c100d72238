"""Whether a reranker can be used on this machine now, answered in seconds, before any slow work.

Commands that index, load or deploy first (``eval``, ``demo --model``, ``serve --ray``) call
:func:`check_model_available` so that a missing model is a one-line error at once, not after.
"""

from __future__ import annotations

from ..cascade import parse_stages
from ..core.hub import hub_access
from ..errors import ModelError
from ..models import is_remote_model, resolve_model
from .manager import check_model_name, get_reranker_registry

CROSS_ENCODER_PLUGIN = "vecrank.plugins.cross_encoder"


def check_model_available(name: str) -> None:
    """A :class:`ModelError` unless every model ``name`` names can be loaded here now.

    ``name`` may be a cascade (``ettin-17m@30>ettin-1b``). A URL passes (its service answers when
    used); a plugin's reranker needs what it imports installed; a hub model must be in the local
    cache or the hub reachable. A name that names nothing is a ConfigError with close names.
    """
    for model, _ in parse_stages(name):
        check_model_name(model)
        if is_remote_model(model):
            continue
        entry = get_reranker_registry().get(model)
        if entry is not None and entry.plugin != CROSS_ENCODER_PLUGIN:
            available = getattr(entry.factory, "available", None)
            missing = available() if callable(available) else None
            if missing:
                raise ModelError(
                    f"reranker {model!r} (plugin {entry.plugin!r}) cannot run here: needs {missing}"
                )
            continue
        hub_access(resolve_model(model))
