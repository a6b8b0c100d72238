"""Scores equal sentence-transformers ``CrossEncoder.predict`` (fp32, CPU) for every architecture."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import CrossEncoder

from vecrank import CrossEncoderReranker

QUERY = "how do I rotate the encryption keys of a database cluster?"
DOCUMENTS = [
    "Rotate keys by creating a new key version, re-encrypting data keys, and retiring the old one.",
    "Bread needs flour, water, salt and yeast.",
    "",
    "key " * 300,  # truncated at max_length
    "Schlüsselrotation: créez une nouvelle clé, puis désactivez l'ancienne. 中文 文本",
    "rotate",
    "The cluster stores its master key in a hardware security module; rotation is yearly. " * 4,
    "¿Dónde está la biblioteca? Ñandú, façade, naïve, Straße.",
]
PAIRS = [(QUERY, document) for document in DOCUMENTS] + [("", "an empty query"), ("ключ", "ключ")]


def reference_scores(folder, max_length: int) -> np.ndarray:
    model = CrossEncoder(str(folder), device="cpu", max_length=max_length)
    return model.predict(PAIRS, activation_fn=torch.nn.Identity(), batch_size=4)


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta", "deberta-v2", "modernbert"])
@pytest.mark.parametrize("max_length", [32, 96])
def test_scores_match_sentence_transformers(tiny_models, architecture, max_length):
    folder = tiny_models[architecture]
    expected = reference_scores(folder, max_length)
    reranker = CrossEncoderReranker(str(folder), device="cpu", max_length=max_length, batch_tokens=256)
    scores = reranker.predict(PAIRS)
    assert scores.shape == (len(PAIRS),)
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)
    assert list(np.argsort(-scores, kind="stable")) == list(np.argsort(-expected, kind="stable"))


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta", "modernbert"])
def test_packed_varlen_path_matches_sentence_transformers(tiny_models, architecture):
    folder = tiny_models[architecture]
    expected = reference_scores(folder, 96)
    reranker = CrossEncoderReranker(str(folder), device="cpu", max_length=96, attention="varlen")
    assert reranker.loaded.attention == "varlen:sdpa-loop"
    np.testing.assert_allclose(reranker.predict(PAIRS), expected, atol=1e-4, rtol=0)


def test_rank_orders_like_sentence_transformers(tiny_bert):
    expected = CrossEncoder(str(tiny_bert), device="cpu").rank(
        QUERY, DOCUMENTS, activation_fn=torch.nn.Identity(), return_documents=True
    )
    ranking = CrossEncoderReranker(str(tiny_bert), device="cpu").rank(QUERY, DOCUMENTS, return_documents=True)
    assert [item["corpus_id"] for item in ranking] == [item["corpus_id"] for item in expected]
    assert [item["text"] for item in ranking] == [item["text"] for item in expected]
    np.testing.assert_allclose(
        [item["score"] for item in ranking], [item["score"] for item in expected], atol=1e-4
    )
