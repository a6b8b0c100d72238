"""Built-in plugin: registers the Qwen3-Reranker prompt template (see ``qwen3_template``)."""

from __future__ import annotations

from ..hookspecs import hookimpl
from .qwen3_template import Qwen3RerankerTemplate


@hookimpl
def vecrank_register_prompt_templates(register):
    register(Qwen3RerankerTemplate())
