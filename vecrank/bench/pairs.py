"""Deterministic (query, passage) pairs with a natural-questions-like token-length mix.

Queries are about 10 tokens; passages are log-normal around 120 tokens with a tail to the
maximum length. Text is whole words drawn from the real BERT vocabulary (with some
punctuation), and lengths are measured with that tokenizer.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from transformers import PreTrainedTokenizerBase

QUERY_TOKENS_MEAN = 10.0
QUERY_TOKENS_SD = 3.0
PASSAGE_TOKENS_MEDIAN = 120.0
PASSAGE_TOKENS_SIGMA = 0.6
_WORD = re.compile(r"^[a-z]{2,}$")

Pair = tuple[str, str]


@dataclass(frozen=True)
class PairSet:
    """Pairs grouped by query: ``queries`` queries with ``candidates`` passages each."""

    pairs: list[Pair]
    queries: int
    candidates: int

    def query_group(self, number: int) -> list[Pair]:
        """The ``candidates`` pairs of query ``number``."""
        start = number * self.candidates
        return self.pairs[start : start + self.candidates]


def vocabulary_words(tokenizer: PreTrainedTokenizerBase) -> list[str]:
    """Whole lowercase words of the tokenizer's vocabulary (no pieces, no special tokens)."""
    return sorted(word for word in tokenizer.get_vocab() if _WORD.match(word))


def make_pairs(
    tokenizer: PreTrainedTokenizerBase,
    count: int,
    *,
    candidates: int = 100,
    max_length: int = 512,
    seed: int = 0,
) -> PairSet:
    """``count`` pairs (rounded up to whole queries of ``candidates`` passages), seeded."""
    rng = np.random.default_rng(seed)
    words = np.array(vocabulary_words(tokenizer))
    queries = max(1, -(-count // candidates))
    pairs: list[Pair] = []
    for _ in range(queries):
        query_tokens = int(np.clip(rng.normal(QUERY_TOKENS_MEAN, QUERY_TOKENS_SD), 3, 32))
        query = _sentence(rng, words, query_tokens).rstrip(".,") + "?"
        budget = max_length - query_tokens - 3
        lengths = rng.lognormal(np.log(PASSAGE_TOKENS_MEDIAN), PASSAGE_TOKENS_SIGMA, candidates)
        for length in np.clip(lengths.astype(int), 8, budget):
            pairs.append((query, _sentence(rng, words, int(length))))
    return PairSet(pairs, queries, candidates)


def _sentence(rng: np.random.Generator, words: np.ndarray, tokens: int) -> str:
    """About ``tokens`` tokens of text: vocabulary words, a comma or full stop every few words."""
    chosen = words[rng.integers(0, len(words), tokens)].tolist()
    out: list[str] = []
    used = 0
    for word in chosen:
        if used >= tokens:
            break
        mark = rng.random()
        out.append(word + ("," if mark < 0.06 else "." if mark < 0.12 else ""))
        used += 2 if mark < 0.12 else 1
    return " ".join(out).capitalize()


def token_length_stats(tokenizer: PreTrainedTokenizerBase, pairs: list[Pair], max_length: int) -> dict:
    """Token lengths of the pairs as the model sees them (special tokens, truncation)."""
    encoded = tokenizer(
        [q for q, _ in pairs], [d for _, d in pairs], truncation="longest_first", max_length=max_length
    )
    lengths = np.array([len(ids) for ids in encoded["input_ids"]])
    queries = list(dict.fromkeys(query for query, _ in pairs))
    query_lengths = [len(ids) for ids in tokenizer(queries, add_special_tokens=False)["input_ids"]]
    return {
        "pairs": len(pairs),
        "pair_tokens_mean": round(float(lengths.mean()), 1),
        "pair_tokens_p50": int(np.percentile(lengths, 50)),
        "pair_tokens_p95": int(np.percentile(lengths, 95)),
        "pair_tokens_max": int(lengths.max()),
        "truncated_share": round(float((lengths >= max_length).mean()), 4),
        "query_tokens_mean": round(float(np.mean(query_lengths)), 1),
        "total_tokens": int(lengths.sum()),
    }


def make_long_pairs(
    tokenizer: PreTrainedTokenizerBase, count: int, length: int, *, seed: int = 0
) -> list[Pair]:
    """``count`` pairs of about ``length`` tokens (special tokens included): a short query, a long passage."""
    rng = np.random.default_rng(seed)
    words = np.array(vocabulary_words(tokenizer))
    pairs = []
    for _ in range(count):
        query_tokens = int(np.clip(rng.normal(QUERY_TOKENS_MEAN, QUERY_TOKENS_SD), 3, 32))
        query = _sentence(rng, words, query_tokens).rstrip(".,") + "?"
        query_length = len(tokenizer(query, add_special_tokens=False)["input_ids"])
        pairs.append((query, _sentence(rng, words, length - 3 - query_length)))
    return pairs
