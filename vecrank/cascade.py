"""Cascades: each stage scores only the hits the stage before kept, so a big model reads the best few.

A one-model reranker is a cascade of one stage. The final order is the last stage's
scores for the hits that reached it, then the hits each earlier stage dropped, in that
stage's order (latest stage first); ties keep the order the hits came in. Each stage
scores each distinct (query, text) pair once, so identical pairs get identical scores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass

from .errors import ConfigError
from .pairs import Pair, distinct

ScoreFn = Callable[[list[Pair]], Sequence[float]]
AsyncScoreFn = Callable[[list[Pair]], Awaitable[Sequence[float]]]


def check_stages(stages: Sequence[tuple[str, int | None]]) -> None:
    """A ValueError saying what is wrong with (model, keep) stages, unless they form a cascade."""
    if len(stages) < 2:
        raise ValueError("a cascade needs at least two stages (for one model, set `model`)")
    *passing, (last, last_keep) = stages
    for number, (model, keep) in enumerate(passing, start=1):
        if keep is None:
            raise ValueError(
                f"stage {number} ({model!r}) needs `keep`: how many hits go on to stage {number + 1}"
            )
        if keep < 1:
            raise ValueError(f"stage {number} ({model!r}) keeps {keep} hits: `keep` must be at least 1")
    if last_keep is not None:
        raise ValueError(f"the last stage ({last!r}) orders every hit it gets: remove its `keep`")
    for number, ((_, before), (model, keep)) in enumerate(zip(passing, passing[1:]), start=2):
        if keep >= before:
            raise ValueError(
                f"stage {number} ({model!r}) keeps {keep} of the {before} hits it gets: "
                "`keep` must shrink from stage to stage"
            )


def parse_stages(name: str) -> list[tuple[str, int | None]]:
    """(model, keep) stages of a name: ``a`` is one model, ``a@30>b`` a cascade.

    In ``ettin-17m@30>ettin-1b`` ettin-17m scores every candidate and keeps its best 30,
    which ettin-1b then orders. A ConfigError says what is wrong.
    """
    if ">" not in name:
        return [(name, None)]
    stages: list[tuple[str, int | None]] = []
    for part in (part.strip() for part in name.split(">")):
        model, sep, keep = part.rpartition("@")
        if not sep:
            model, keep = part, ""
        if not model or (sep and not keep.isdigit()):
            raise ConfigError(
                f"cascade {name!r}: write each stage as MODEL@KEEP and the last as MODEL, e.g. a@30>b"
            )
        stages.append((model, int(keep) if keep else None))
    try:
        check_stages(stages)
    except ValueError as error:
        raise ConfigError(f"cascade {name!r}: {error}") from None
    return stages


@dataclass(frozen=True)
class Staged:
    """The last stage (0-based) that scored a text, and the score it gave."""

    stage: int
    score: float


class Cascade:
    """One run of a cascade, with no I/O: the pairs each stage scores, and what the stages gave.

    Ask :meth:`next_pairs`, score them, hand the scores to :meth:`record`; repeat until
    :meth:`next_pairs` gives None, then read :attr:`results`.
    """

    def __init__(
        self, queries: Sequence[str], texts: Sequence[Sequence[str]], keeps: Sequence[int | None]
    ) -> None:
        self.queries, self.texts, self.keeps = queries, texts, list(keeps)
        self.results: list[list[Staged]] = [[Staged(-1, 0.0)] * len(group) for group in texts]
        self.stage = 0
        self._remaining = [list(range(len(group))) for group in texts]
        self._positions: list[int] = []

    def next_pairs(self) -> list[Pair] | None:
        """The distinct pairs the current stage scores (each once); None when the cascade is done."""
        while self.stage < len(self.keeps):
            pairs = [
                (self.queries[q], self.texts[q][i]) for q, kept in enumerate(self._remaining) for i in kept
            ]
            unique, self._positions = distinct(pairs)
            if unique:
                return unique
            self.record([])
        return None

    def record(self, scores: Sequence[float]) -> None:
        """The scores of :meth:`next_pairs`, in order; each query's ``keep`` best go on to the next stage."""
        flat = iter(self._positions)
        for q, kept in enumerate(self._remaining):
            for i in kept:
                self.results[q][i] = Staged(self.stage, float(scores[next(flat)]))
        keep = self.keeps[self.stage]
        if keep is None:
            self.stage = len(self.keeps)
            return
        self._remaining = [order(self.results[q], kept)[:keep] for q, kept in enumerate(self._remaining)]
        self.stage += 1


def run_cascade(
    queries: Sequence[str], texts: Sequence[Sequence[str]], stages: Sequence[tuple[ScoreFn, int | None]]
) -> list[list[Staged]]:
    """For each query's texts, the last stage that scored each one and its score there.

    ``stages`` are (score function, keep) pairs; a stage scores every query's remaining
    pairs in one call and passes each query's ``keep`` best on (None: the last stage).
    """
    cascade = Cascade(queries, texts, [keep for _, keep in stages])
    while (pairs := cascade.next_pairs()) is not None:
        cascade.record(stages[cascade.stage][0](pairs))
    return cascade.results


async def arun_cascade(
    queries: Sequence[str], texts: Sequence[Sequence[str]], stages: Sequence[tuple[AsyncScoreFn, int | None]]
) -> list[list[Staged]]:
    """:func:`run_cascade` with score functions that are awaited."""
    cascade = Cascade(queries, texts, [keep for _, keep in stages])
    while (pairs := cascade.next_pairs()) is not None:
        cascade.record(await stages[cascade.stage][0](pairs))
    return cascade.results


def order(staged: Sequence[Staged], indices: Sequence[int] | None = None) -> list[int]:
    """``indices`` (default: all) best first: later stage first, then higher score, then input order."""
    chosen = range(len(staged)) if indices is None else indices
    return sorted(chosen, key=lambda i: (-staged[i].stage, -staged[i].score, i))
