"""Built-in plugin: the mxbai-rerank-v2 prompt (base, large), as the ``mxbai-rerank`` package computes it.

The query (``instruction: ...\\nquery: ...`` with an instruction) and ``document: ...`` go between a
Qwen chat prefix and a task prompt; the answer is ``1`` or ``0``. Of the ``max_length`` tokens, the
template takes its own; the query gets at most three quarters of the rest, the document what remains
(its end is cut), as in ``MxbaiRerankV2.prepare_inputs``.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.prompts import EncodedPrompts, PromptTemplate, token_ids
from ..hookspecs import hookimpl

SEP = "\n"
PREFIX = (
    "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
    "<|im_start|>user\n"
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n"
TASK = (
    "You are a search relevance expert who evaluates how well documents match search queries. For each "
    "query-document pair, carefully analyze the semantic relationship between them, then provide your "
    "binary relevance judgment (0 for not relevant, 1 for relevant).\nRelevance:"
)
# The package's own default max_length, which counts the query and document but not the template.
PACKAGE_MAX_LENGTH = 8192


class MxbaiRerankV2Template(PromptTemplate):
    """mxbai-rerank-v2's template and answer tokens; no instruction unless one is given."""

    name = "mxbai-rerank-v2"
    model_types = ("qwen2",)
    markers = ("mxbai-rerank",)
    answers = ("1", "0")
    default_instruction = None

    def overhead(self, tokenizer) -> int:
        return sum(len(token_ids(tokenizer, text)) for text in (PREFIX, TASK, SUFFIX, SEP, SEP))

    def default_max_length(self, tokenizer) -> int:
        return PACKAGE_MAX_LENGTH + self.overhead(tokenizer) - len(token_ids(tokenizer, SEP))

    def encode(
        self, tokenizer, query: str, documents: Sequence[str], instruction: str | None, max_length: int
    ) -> EncodedPrompts:
        sep, prefix = token_ids(tokenizer, SEP), token_ids(tokenizer, PREFIX)
        closing = sep + token_ids(tokenizer, TASK) + token_ids(tokenizer, SUFFIX)
        # The package's max_length: query, separator and document, without the template.
        budget = max_length - len(prefix) - len(closing)
        query_text = f"instruction: {instruction}{SEP}query: {query}" if instruction else f"query: {query}"
        query_ids = token_ids(tokenizer, query_text)[: budget * 3 // 4]
        room = budget - len(query_ids) - len(sep)
        bodies = tokenizer(
            [f"document: {document}" for document in documents],
            add_special_tokens=False,
            truncation=True,
            max_length=room,
            return_attention_mask=False,
        )["input_ids"]
        head = prefix + query_ids + sep
        return EncodedPrompts(head, [head + body + closing for body in bodies])


@hookimpl
def vecrank_register_prompt_templates(register):
    register(MxbaiRerankV2Template())
