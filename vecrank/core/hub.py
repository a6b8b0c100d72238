"""The Hugging Face hub as the engine sees it: is a model in the local cache, and is the hub reachable."""

from __future__ import annotations

import os
import socket
import time
from urllib.parse import urlparse

from ..errors import ModelError
from ..models import ModelSource

HUB_PROBE_SECONDS = 3.0


def cached_locally(source: str) -> bool:
    """Whether a hub id's config is already in the local Hugging Face cache."""
    from huggingface_hub import try_to_load_from_cache

    found = try_to_load_from_cache(source, "config.json")
    return isinstance(found, str)


_probe: dict[str, tuple[float, bool]] = {}


def hub_reachable() -> bool:
    """Whether the Hugging Face hub answers a TCP connect within a few seconds (cached for a minute)."""
    if os.environ.get("HF_HUB_OFFLINE", "").lower() in ("1", "true", "yes", "on"):
        return False
    endpoint = os.environ.get("HF_ENDPOINT", "https://huggingface.co")
    parsed = urlparse(endpoint)
    host, port = parsed.hostname or "huggingface.co", parsed.port or (80 if parsed.scheme == "http" else 443)
    now = time.monotonic()
    if host in _probe and now - _probe[host][0] < 60:
        return _probe[host][1]
    try:
        socket.create_connection((host, port), timeout=HUB_PROBE_SECONDS).close()
        reachable = True
    except OSError:
        reachable = False
    _probe[host] = (now, reachable)
    return reachable


def how_to_get(source: ModelSource) -> str:
    """How to bring a hub model onto a machine that cannot reach the hub (for error messages)."""
    return (
        f"to use it offline, run `vecrank download {source.alias or source.source}` where there is network "
        "(and copy the Hugging Face cache, ~/.cache/huggingface, to this machine), or pass a local folder"
    )


def hub_access(source: ModelSource) -> bool:
    """Whether to load from the local cache only: the hub is unreachable and the model is cached.

    No torch: callers check this before any slow work (``vecrank.plugins.check_model_available``).
    A model that is neither cached nor reachable is a :class:`ModelError` at once, not after
    the hub client's retries.
    """
    if source.is_local or hub_reachable():
        return False
    if cached_locally(source.source):
        return True
    name = repr(source.name) if source.alias is None else f"{source.name!r} ({source.source})"
    raise ModelError(
        f"model {name} is not on this machine and the Hugging Face hub cannot be reached; "
        + how_to_get(source)
    )
