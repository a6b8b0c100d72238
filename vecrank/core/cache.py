"""One loaded model per (model, device, dtype, precision, attention): shared by every collection naming it."""

from __future__ import annotations

import threading

from ..models import resolve_model
from .prompts import PromptTemplate
from .reranker import CrossEncoderReranker

_loaded: dict[tuple, CrossEncoderReranker] = {}
_lock = threading.Lock()


def get_reranker(
    name: str,
    *,
    device: str | None = None,
    dtype: str | None = None,
    attention: str = "auto",
    trust_remote_code: bool = False,
    precision: str | None = None,
    prompt_template: str | PromptTemplate | None = None,
) -> CrossEncoderReranker:
    """The shared :class:`CrossEncoderReranker` for ``name``, loaded on first use.

    A yes/no reranker is shared too: its instruction is given per call (``predict(instruction=)``).
    """
    key = (
        resolve_model(name).source,
        device or "auto",
        dtype or "auto",
        precision or "exact",
        attention,
        trust_remote_code,
        prompt_template,
    )
    with _lock:
        if key not in _loaded:
            _loaded[key] = CrossEncoderReranker(
                name,
                device=device,
                dtype=dtype,
                attention=attention,
                trust_remote_code=trust_remote_code,
                precision=precision,
                prompt_template=prompt_template,
            )
        return _loaded[key]


def loaded_rerankers() -> list[CrossEncoderReranker]:
    """The rerankers loaded so far in this process."""
    with _lock:
        return list(_loaded.values())


def clear() -> None:
    """Forget every loaded model (tests, or to free memory)."""
    with _lock:
        _loaded.clear()
