"""The Qwen3-Reranker prompt template (0.6B, 4B, 8B), as its model card computes it.

``<Instruct>: {instruction}\\n<Query>: {query}\\n<Document>: {document}`` between the card's system
prefix and assistant suffix; the answer is ``yes`` or ``no``. A pair longer than ``max_length`` loses
the end of its document (the card truncates the formatted text, then adds the suffix).
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.prompts import EncodedPrompts, PromptTemplate, token_ids

PREFIX = (
    "<|im_start|>system\nJudge whether the Document meets the requirements based on the Query and the "
    'Instruct provided. Note that the answer can only be "yes" or "no".<|im_end|>\n<|im_start|>user\n'
)
SUFFIX = "<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\n"
BODY = "<Instruct>: {instruction}\n<Query>: {query}\n<Document>: {document}"
DEFAULT_INSTRUCTION = "Given a web search query, retrieve relevant passages that answer the query"


class Qwen3RerankerTemplate(PromptTemplate):
    """The Qwen3-Reranker card's template, answer tokens and default instruction."""

    name = "qwen3-reranker"
    model_types = ("qwen3",)
    markers = ("rerank",)
    answers = ("yes", "no")
    default_instruction = DEFAULT_INSTRUCTION

    def overhead(self, tokenizer) -> int:
        return len(token_ids(tokenizer, PREFIX)) + len(token_ids(tokenizer, SUFFIX))

    def encode(
        self, tokenizer, query: str, documents: Sequence[str], instruction: str | None, max_length: int
    ) -> EncodedPrompts:
        prefix, suffix = token_ids(tokenizer, PREFIX), token_ids(tokenizer, SUFFIX)
        instruction = self.default_instruction if instruction is None else instruction
        texts = [BODY.format(instruction=instruction, query=query, document=d) for d in documents]
        bodies = tokenizer(
            texts,
            padding=False,
            truncation="longest_first",
            max_length=max_length - len(prefix) - len(suffix),
            return_attention_mask=False,
        )["input_ids"]
        head = BODY.format(instruction=instruction, query=query, document="").removesuffix(" ")
        return EncodedPrompts(
            prefix + token_ids(tokenizer, head), [prefix + body + suffix for body in bodies]
        )
