"""Prompt templates of yes/no rerankers: causal language models asked whether a document answers a query.

A template turns (instruction, query, documents) into token ids for one family (Qwen3-Reranker,
mxbai-rerank-v2, ...) and names the two answer tokens; the score is ``logit(yes) - logit(no)`` at
the last position. Templates live in plugins (``vecrank_register_prompt_templates``); the plugin
manager publishes them here, where the loader finds the one that fits a checkpoint. No torch here.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from ..errors import ModelError

HOW_TO_REGISTER = (
    "a plugin registers one with the vecrank_register_prompt_templates hook "
    "(register(template), a vecrank.core.prompts.PromptTemplate; see vecrank/plugins/qwen3_reranker.py)"
)


@dataclass(frozen=True)
class EncodedPrompts:
    """Token ids of one query's documents: ``head`` is shared by all that start with it."""

    head: list[int]
    sequences: list[list[int]]


class PromptTemplate:
    """How one family of yes/no rerankers is prompted; subclasses set the fields and ``encode``.

    ``model_types`` are the ``config.json`` model types of the family; a checkpoint of one of them
    is taken for this reranker when its name (alias, hub id or folder) contains one of ``markers``,
    or when the template is named explicitly. ``answers`` are the (yes, no) texts, one token each.
    """

    name: str = ""
    model_types: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    answers: tuple[str, str] = ("yes", "no")
    default_instruction: str | None = None
    takes_instruction: bool = True

    def recognises(self, name: str, model_type: str) -> bool:
        """Whether a checkpoint named ``name`` of ``model_type`` is one of this family's rerankers."""
        lowered = name.lower()
        return model_type in self.model_types and any(marker in lowered for marker in self.markers)

    def default_max_length(self, tokenizer) -> int:
        """Tokens per pair, template included, when the caller sets none."""
        return 8192

    def overhead(self, tokenizer) -> int:
        """Template tokens around the query and document; a pair's ``max_length`` must exceed it."""
        raise NotImplementedError

    def encode(
        self, tokenizer, query: str, documents: Sequence[str], instruction: str | None, max_length: int
    ) -> EncodedPrompts:
        """Each document's token ids (at most ``max_length``) and the head they share (one query)."""
        raise NotImplementedError


def token_ids(tokenizer, text: str) -> list[int]:
    """The ids of ``text`` alone, without special tokens (how the cards tokenise template pieces)."""
    return tokenizer.encode(text, add_special_tokens=False)


def answer_token_ids(template: PromptTemplate, tokenizer, folder: str) -> tuple[int, int]:
    """The (yes, no) token ids; a ModelError naming the folder and token unless each is one token."""
    ids = []
    for answer in template.answers:
        encoded = token_ids(tokenizer, answer)
        if len(encoded) != 1:
            raise ModelError(
                f"model {folder!r}: the tokenizer encodes the answer token {answer!r} of prompt template "
                f"{template.name!r} as {len(encoded)} tokens {encoded}, not one; this checkpoint does not "
                "fit that template"
            )
        ids.append(encoded[0])
    return ids[0], ids[1]


class TemplateRegistry:
    """The prompt templates the loaded plugins registered, by name."""

    def __init__(self) -> None:
        self._by_name: dict[str, PromptTemplate] = {}
        self._lock = threading.Lock()

    def replace(self, templates: Iterable[PromptTemplate]) -> None:
        """Hold exactly ``templates`` (the plugin manager's current set)."""
        with self._lock:
            self._by_name = {template.name.lower(): template for template in templates}

    def names(self) -> list[str]:
        return sorted(self._by_name)

    def get(self, name: str) -> PromptTemplate:
        """The template named ``name``; a ModelError listing the known ones otherwise."""
        template = self._by_name.get(name.lower())
        if template is None:
            known = ", ".join(self.names()) or "none registered"
            raise ModelError(f"unknown prompt template {name!r} (known: {known}); {HOW_TO_REGISTER}")
        return template

    def for_checkpoint(
        self, name: str, model_type: str, architecture: str, named: str | PromptTemplate | None
    ) -> PromptTemplate:
        """The template of a causal-LM checkpoint: the one ``named`` (or given), else the family's that
        recognises it."""
        if isinstance(named, PromptTemplate):
            return named
        if named is not None:
            return self.get(named)
        for template in self._by_name.values():
            if template.recognises(name, model_type):
                return template
        families = [t for t in self._by_name.values() if model_type in t.model_types]
        if families:
            names = ", ".join(repr(t.name) for t in families)
            raise ModelError(
                f"model {name!r} is a plain {architecture} ({model_type}), not a known reranker: its name "
                f"contains none of the markers of the {model_type} reranker templates ({names}); to use it "
                f"as a yes/no reranker anyway, name a template (prompt_template = {families[0].name!r})"
            )
        raise ModelError(
            f"model {name!r} is a {architecture} ({model_type}) and no prompt template is registered for "
            f"model type {model_type!r}; {HOW_TO_REGISTER}. Templates are loaded with the plugins "
            "(vecrank.plugins.get_plugin_manager(), which vecrank.CrossEncoderReranker runs for you)"
        )


TEMPLATES = TemplateRegistry()
