"""Cascades: each stage scores only the hits the stage before kept, so a big model reads the best few.

A one-model reranker is a cascade of one stage. The final order is the last stage's
scores for the hits that reached it, then the hits each earlier stage dropped, in that
stage's order (latest stage first); ties keep the order the hits came in. Each stage
scores each distinct (query, text) pair once, so identical pairs get identical scores.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Generator, Sequence
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


def run_cascade(
    queries: Sequence[str], texts: Sequence[Sequence[str]], stages: Sequence[tuple[ScoreFn, int | None]]
) -> list[list[Staged]]:
    """For each query's texts, the last stage that scored each one and its score there.

    ``stages`` are (score function, keep) pairs; a stage scores every query's remaining
    pairs in one call and passes each query's ``keep`` best on (None: the last stage).
    """
    steps = _steps(queries, texts, [keep for _, keep in stages])
    scores = None
    while True:
        try:
            number, pairs = steps.send(scores)
        except StopIteration as done:
            return done.value
        scores = stages[number][0](pairs)


async def arun_cascade(
    queries: Sequence[str], texts: Sequence[Sequence[str]], stages: Sequence[tuple[AsyncScoreFn, int | None]]
) -> list[list[Staged]]:
    """:func:`run_cascade` with score functions that are awaited."""
    steps = _steps(queries, texts, [keep for _, keep in stages])
    scores = None
    while True:
        try:
            number, pairs = steps.send(scores)
        except StopIteration as done:
            return done.value
        scores = await stages[number][0](pairs)


def _steps(
    queries: Sequence[str], texts: Sequence[Sequence[str]], keeps: Sequence[int | None]
) -> Generator[tuple[int, list[Pair]], Sequence[float], list[list[Staged]]]:
    """Yield (stage, distinct pairs to score), receive their scores; return the outcome."""
    results: list[list[Staged]] = [[Staged(-1, 0.0)] * len(group) for group in texts]
    remaining = [list(range(len(group))) for group in texts]
    for number, keep in enumerate(keeps):
        pairs = [(queries[q], texts[q][i]) for q, indices in enumerate(remaining) for i in indices]
        unique, positions = distinct(pairs)
        scores = (yield number, unique) if unique else []
        flat = iter(positions)
        for q, indices in enumerate(remaining):
            for i in indices:
                results[q][i] = Staged(number, float(scores[next(flat)]))
        if keep is None:
            break
        remaining = [order(results[q], indices)[:keep] for q, indices in enumerate(remaining)]
    return results


def order(staged: Sequence[Staged], indices: Sequence[int] | None = None) -> list[int]:
    """``indices`` (default: all) best first: later stage first, then higher score, then input order."""
    chosen = range(len(staged)) if indices is None else indices
    return sorted(chosen, key=lambda i: (-staged[i].stage, -staged[i].score, i))
