"""The prompt templates of yes/no rerankers that plugins register, handed to the engine's loader."""

from __future__ import annotations

import pluggy

from ..core.prompts import TEMPLATES, PromptTemplate
from .hooks import call_impl


def publish_templates(pm: pluggy.PluginManager) -> None:
    """Collect ``vecrank_register_prompt_templates`` from every plugin into the engine's registry."""
    templates: list[PromptTemplate] = []
    for impl in pm.hook.vecrank_register_prompt_templates.get_hookimpls():

        def register(template):
            if not isinstance(template, PromptTemplate) or not template.name:
                raise TypeError(f"expected a named vecrank.core.prompts.PromptTemplate, got {template!r}")
            templates.append(template)

        call_impl(impl, register=register)
    TEMPLATES.replace(templates)
