"""The load a Weaviate server puts on its reranker module: requests of 32 documents, several at once.

Weaviate's own reranker-transformers module scores one request at a time with
sentence-transformers; vecrank's server merges the requests that are waiting into one engine
call. This times the engines under that shape, without HTTP: sentence-transformers one request
per call, vecrank one request per call, and vecrank with ``concurrent`` requests merged per call.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable

import numpy as np
import torch

from . import measure
from .pairs import PairSet

DOCUMENTS_PER_REQUEST = 32


def weaviate_module_load(
    engines: tuple, pair_set: PairSet, concurrent: int, args: argparse.Namespace
) -> dict:
    """Pairs/s of each way of serving ``pair_set``'s requests, and how vecrank's scores agree."""
    st, ours = engines
    requests = [pair_set.query_group(number) for number in range(pair_set.queries)]
    merged = [sum(requests[i : i + concurrent], []) for i in range(0, len(requests), concurrent)]

    def serve(predict: Callable[[list], np.ndarray], calls: list[list]) -> Callable[[], np.ndarray]:
        return lambda: np.concatenate([predict(call) for call in calls])

    ways = {
        "sentence_transformers_per_request": serve(
            lambda call: st.predict(call, batch_size=DOCUMENTS_PER_REQUEST, show_progress_bar=False), requests
        ),
        "vecrank_per_request": serve(ours.predict, requests),
        f"vecrank_{concurrent}_requests_merged": serve(ours.predict, merged),
    }
    for way in ways.values():  # warm-up
        way()
    stopwatch = measure.Stopwatch(args.quiet_wait)
    seconds: dict[str, list[float]] = {way: [] for way in ways}
    scores: dict[str, np.ndarray] = {}
    for _ in range(args.repeats):
        for name, way in ways.items():
            timing = stopwatch.time(lambda n=name, w=way: scores.__setitem__(n, w()))
            seconds[name].append(timing.seconds)
    pairs = len(pair_set.pairs)
    rates = {name: round(pairs / float(np.median(runs)), 1) for name, runs in seconds.items()}
    baseline = rates["sentence_transformers_per_request"]
    tolerance = 1e-4 if ours.loaded.dtype == torch.float32 else 5e-2
    reference = np.asarray(scores["sentence_transformers_per_request"], dtype=np.float32)
    return {
        "documents_per_request": DOCUMENTS_PER_REQUEST,
        "requests": len(requests),
        "concurrent": concurrent,
        "engine": repr(ours),
        "pairs_per_s": rates,
        "ratios_vs_sentence_transformers": {name: round(rate / baseline, 2) for name, rate in rates.items()},
        "agreement": {
            name: measure.score_agreement(scores[name], reference, pair_set, tolerance)
            for name in ways
            if name.startswith("vecrank")
        },
    }
