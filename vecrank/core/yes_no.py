"""Scoring with a yes/no reranker: prompt every pair, group each query's documents, pack, read the answer.

The score of a pair is ``logit(yes) - logit(no)`` at its last token, so ``sigmoid(score)`` is the
model card's P(yes) over the two answer tokens. With ``prefix_reuse`` each query's head (system
prompt, instruction, query) is computed once per batch and attended by all of its documents.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from ..errors import ConfigError
from ..pairs import Pair
from .decoder import Segment, answer_logits, build_batch
from .loading import LoadedModel


@dataclass
class PromptedPairs:
    """Each pair's own tokens and the query head it continues (-1: none), for one chunk of pairs."""

    heads: list[list[int]]
    tokens: list[list[int]]
    head_of: list[int]

    def __len__(self) -> int:
        return len(self.tokens)

    @property
    def lengths(self) -> list[int]:
        """Each pair's whole length, head included."""
        return [len(t) + (len(self.heads[h]) if h >= 0 else 0) for t, h in zip(self.tokens, self.head_of)]


def check_instruction(loaded: LoadedModel, instruction: str | None) -> None:
    """A ConfigError when an instruction is set for a model that takes none."""
    if instruction is None:
        return
    template = loaded.template
    if template is None or not template.takes_instruction:
        kind = f"prompt template {template.name!r}" if template else f"{loaded.model.config.model_type} model"
        raise ConfigError(
            f"model {loaded.source.name!r} ({kind}) takes no instruction, but instruction={instruction!r} "
            "is set: remove it, or choose an instruction-following reranker such as qwen3-reranker-0.6b"
        )


class YesNoRunner:
    """Prompts, batches and scores pairs on a loaded yes/no reranker."""

    def __init__(self, loaded: LoadedModel, prefix_reuse: bool = True) -> None:
        self.loaded = loaded
        self.prefix_reuse = prefix_reuse

    def encode(
        self, tokenizer, pairs: Sequence[Pair], max_length: int, instruction: str | None
    ) -> PromptedPairs:
        """Prompt every pair with the template, one query at a time (``tokenizer``: one this thread
        holds); heads shared where they match."""
        by_query: dict[str, list[int]] = {}
        for number, (query, _) in enumerate(pairs):
            by_query.setdefault(query, []).append(number)
        heads: list[list[int]] = []
        tokens: list[list[int]] = [[] for _ in pairs]
        head_of = [-1] * len(pairs)
        template = self.loaded.template
        for query, numbers in by_query.items():
            documents = [pairs[n][1] for n in numbers]
            prompts = template.encode(tokenizer, query, documents, instruction, max_length)
            head, size = prompts.head, len(prompts.head)
            for number, sequence in zip(numbers, prompts.sequences):
                shares = self.prefix_reuse and len(sequence) > size and sequence[:size] == head
                if shares and (not heads or heads[-1] is not head):
                    heads.append(head)
                head_of[number] = len(heads) - 1 if shares else -1
                tokens[number] = sequence[size:] if shares else sequence
        return PromptedPairs(heads, tokens, head_of)

    def batches(
        self, prompted: PromptedPairs, batch_tokens: int, max_batch_size: int, workers: int = 1
    ) -> list[list[int]]:
        """Pairs in runs of one query, cut into batches of about equal cost (tails plus the heads
        they need), each within ``batch_tokens``, their count a multiple of ``workers`` so that
        every worker gets the same share: a few large batches of a big model would otherwise
        leave a worker idle while another finishes the last one."""
        order = sorted(range(len(prompted)), key=lambda i: (prompted.head_of[i], i))
        head_cost = sum(len(prompted.heads[h]) for h in set(prompted.head_of) if h >= 0)
        total = head_cost + sum(len(t) for t in prompted.tokens)
        planned = math.ceil(math.ceil(total / batch_tokens) / workers) * workers
        target = total / planned
        while True:  # a query cut in two needs its head twice: widen the target until the plan holds
            batches = self._cut(prompted, order, target, batch_tokens, max_batch_size)
            if len(batches) <= planned or target >= batch_tokens:
                return batches
            target *= 1.02

    @staticmethod
    def _cut(
        prompted: PromptedPairs, order: list[int], target: float, batch_tokens: int, max_batch_size: int
    ) -> list[list[int]]:
        """``order`` cut where a batch would pass ``target`` by more than half its next pair."""
        batches: list[list[int]] = []
        current: list[int] = []
        cost, heads_in = 0, set()

        def added(index: int) -> int:
            head = prompted.head_of[index]
            needs_head = head >= 0 and head not in heads_in
            return len(prompted.tokens[index]) + (len(prompted.heads[head]) if needs_head else 0)

        for index in order:
            more = added(index)
            full = cost + more > batch_tokens or len(current) >= max_batch_size
            if current and (full or cost + more / 2 > target):
                batches.append(current)
                current, cost, heads_in = [], 0, set()
                more = added(index)
            cost += more
            current.append(index)
            heads_in.add(prompted.head_of[index])
        if current:
            batches.append(current)
        return batches

    def forward(self, prompted: PromptedPairs, indices: list[int]) -> torch.Tensor:
        """(n, 1) float32 scores, ``logit(yes) - logit(no)``, of the pairs at ``indices`` (on the device)."""
        used = sorted({prompted.head_of[i] for i in indices if prompted.head_of[i] >= 0})
        local = {head: number for number, head in enumerate(used)}
        segments = [
            Segment(prompted.tokens[i], local.get(prompted.head_of[i]) if prompted.head_of[i] >= 0 else None)
            for i in indices
        ]
        batch = build_batch([prompted.heads[h] for h in used], segments)
        logits = answer_logits(self.loaded.model, self.loaded.answer_rows, batch)
        return (logits[:, 0] - logits[:, 1]).unsqueeze(1)
