"""(query, text) pairs, and scoring each distinct pair once."""

from __future__ import annotations

from collections.abc import Sequence

Pair = tuple[str, str]


def distinct(pairs: Sequence[Pair]) -> tuple[list[Pair], list[int]]:
    """Each distinct pair once (first-seen order), and for every input pair its index among them.

    Scoring only the distinct pairs gives identical pairs identical scores, whatever batch
    they would have landed in, and saves the work on duplicates (chunked documents repeat).
    """
    index: dict[Pair, int] = {}
    positions = [index.setdefault(pair, len(index)) for pair in pairs]
    return list(index), positions
