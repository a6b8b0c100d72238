"""The bi-encoder's scorers share one loaded model; each thread encodes on its own tokenizer copy, so
two scorers with different ``max_length`` embedding at once each keep their own truncation."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import torch

from vecrank.config import CollectionConfig
from vecrank.plugins.bi_encoder import BiEncoderScorer

LONG = "the river runs through the old city and past the school where music is taught " * 8
ROUNDS = 10  # on one shared tokenizer, about a third of the rounds read the other scorer's truncation


def test_scorers_with_different_max_length_embedding_at_once_each_keep_their_truncation() -> None:
    short = BiEncoderScorer(CollectionConfig(model="minilm-bi", max_length=8))
    long = BiEncoderScorer(CollectionConfig(model="minilm-bi", max_length=48))
    assert short.model is long.model and short.tokenizers is long.tokenizers  # one load, shared
    texts = [f"{number} {LONG}" for number in range(8)]
    alone = {scorer: scorer.embed(texts, batch_size=4) for scorer in (short, long)}
    assert not torch.allclose(alone[short], alone[long], atol=1e-3)  # truncation shows in the vectors
    start = threading.Barrier(2)

    def embed(scorer: BiEncoderScorer) -> list[torch.Tensor]:
        rounds = []
        for _ in range(ROUNDS):
            start.wait()  # both scorers tokenise at the same moment, every round
            rounds.append(scorer.embed(texts, batch_size=4))
        return rounds

    with ThreadPoolExecutor(2) as pool:
        together = {scorer: pool.submit(embed, scorer) for scorer in (short, long)}
        for scorer, rounds in together.items():
            for vectors in rounds.result():
                assert torch.allclose(vectors, alone[scorer], atol=1e-5), scorer.max_length
