"""Yes/no rerankers (Qwen3-Reranker, mxbai-rerank-v2) score as their references do (fp32, CPU).

References: the Qwen3-Reranker card's padded computation, the ``mxbai-rerank`` package, and
sentence-transformers' ``CrossEncoder`` on the same folder; within 1e-4, in the same order.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sentence_transformers import CrossEncoder
from transformers import AutoModelForCausalLM, AutoTokenizer

from vecrank import CrossEncoderReranker
from vecrank.plugins.qwen3_template import BODY, DEFAULT_INSTRUCTION, PREFIX, SUFFIX

QUERY = "what is the capital of france"
DOCUMENTS = [
    "paris is the capital of france",
    "berlin is a city in germany with a long history",
    "",
    "the river runs to the sea " * 60,  # truncated
    "Schlüssel, façade, naïve: 中文 文本",
    "cats and dogs live in the house",
    "capital",
]
PAIRS = [(QUERY, d) for d in DOCUMENTS] + [("dogs", "cats and dogs live"), ("", "an empty query")]
INSTRUCTION = "Given a question about a city, find the passage that names it"


def card_scores(folder, pairs, instruction=None, max_length=512) -> np.ndarray:
    """The Qwen3-Reranker model card's computation: left-padded batch, logits of the last position."""
    tokenizer = AutoTokenizer.from_pretrained(folder, padding_side="left")
    model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
    prefix = tokenizer.encode(PREFIX, add_special_tokens=False)
    suffix = tokenizer.encode(SUFFIX, add_special_tokens=False)
    instruction = DEFAULT_INSTRUCTION if instruction is None else instruction
    texts = [BODY.format(instruction=instruction, query=q, document=d) for q, d in pairs]
    inputs = tokenizer(
        texts,
        padding=False,
        truncation="longest_first",
        return_attention_mask=False,
        max_length=max_length - len(prefix) - len(suffix),
    )
    inputs["input_ids"] = [prefix + ids + suffix for ids in inputs["input_ids"]]
    inputs = tokenizer.pad(inputs, padding=True, return_tensors="pt")
    with torch.no_grad():
        logits = model(**inputs).logits[:, -1, :]
    yes, no = tokenizer.convert_tokens_to_ids("yes"), tokenizer.convert_tokens_to_ids("no")
    return (logits[:, yes] - logits[:, no]).numpy()


def assert_same(scores: np.ndarray, expected: np.ndarray) -> None:
    np.testing.assert_allclose(scores, expected, atol=1e-4, rtol=0)
    assert list(np.argsort(-scores, kind="stable")) == list(np.argsort(-expected, kind="stable"))
    assert np.ptp(expected) > 1e-2  # the pairs score differently: order is a real check


@pytest.mark.parametrize("prefix_reuse", [True, False])
@pytest.mark.parametrize("max_length", [96, 512])
def test_qwen3_matches_the_model_card(tiny_llm_rerankers, prefix_reuse, max_length):
    folder = tiny_llm_rerankers["qwen3"]
    reranker = CrossEncoderReranker(
        str(folder), device="cpu", max_length=max_length, prefix_reuse=prefix_reuse, batch_tokens=300
    )
    assert reranker.loaded.template.name == "qwen3-reranker"
    assert_same(reranker.predict(PAIRS), card_scores(folder, PAIRS, max_length=max_length))


def test_qwen3_instruction_matches_the_model_card(tiny_llm_rerankers):
    folder = tiny_llm_rerankers["qwen3"]
    expected = card_scores(folder, PAIRS, instruction=INSTRUCTION)
    assert not np.allclose(expected, card_scores(folder, PAIRS), atol=1e-3)
    per_call = CrossEncoderReranker(str(folder), device="cpu").predict(PAIRS, instruction=INSTRUCTION)
    assert_same(per_call, expected)
    own = CrossEncoderReranker(str(folder), device="cpu", instruction=INSTRUCTION, prefix_reuse=False)
    assert_same(own.predict(PAIRS), expected)


def test_qwen3_matches_sentence_transformers(tiny_llm_rerankers):
    folder = str(tiny_llm_rerankers["qwen3"])
    short = [pair for pair in PAIRS if len(pair[1]) < 200]  # CrossEncoder truncates the rendered chat
    model = CrossEncoder(folder, device="cpu")
    expected = model.predict(short, activation_fn=torch.nn.Identity(), batch_size=4)
    assert_same(CrossEncoderReranker(folder, device="cpu").predict(short), expected)
    instructed = model.predict(short, activation_fn=torch.nn.Identity(), prompt=INSTRUCTION)
    assert_same(
        CrossEncoderReranker(folder, device="cpu").predict(short, instruction=INSTRUCTION), instructed
    )


def prepare_for_model(ids, pair_ids, *, truncation, max_length, **_):
    """transformers 4's ``prepare_for_model`` as the package calls it (transformers 5 removed it):
    the two id lists joined, the second cut at its end to fit ``max_length``, no special tokens."""
    assert truncation == "only_second"
    overflow = max(0, len(ids) + len(pair_ids) - max_length)
    return {"input_ids": ids + pair_ids[: len(pair_ids) - overflow]}


@pytest.mark.parametrize("instruction", [None, INSTRUCTION])
@pytest.mark.parametrize("package_max_length", [40, 8192])
def test_mxbai_matches_the_mxbai_rerank_package(tiny_llm_rerankers, instruction, package_max_length):
    from mxbai_rerank import MxbaiRerankV2

    folder = str(tiny_llm_rerankers["qwen2"])
    package = MxbaiRerankV2(folder, device="cpu", torch_dtype=torch.float32, max_length=package_max_length)
    package.tokenizer.prepare_for_model = prepare_for_model
    queries, documents = zip(*PAIRS)
    expected = package.predict(list(queries), list(documents), instruction=instruction).numpy()
    # The package's max_length leaves out its template; the engine's counts every token.
    reranker = CrossEncoderReranker(
        folder, device="cpu", max_length=package.max_length + package.predefined_length
    )
    assert reranker.loaded.template.name == "mxbai-rerank-v2"
    assert_same(reranker.predict(PAIRS, instruction=instruction), expected)


def test_default_max_length_is_the_cards(tiny_llm_rerankers):
    # Both folders' position tables hold 512 tokens, below the cards' 8192 defaults.
    assert CrossEncoderReranker(str(tiny_llm_rerankers["qwen3"]), device="cpu").max_length == 512


def test_int8_keeps_the_top_ten(tiny_llm_rerankers):
    import random

    from vecrank.core.quantize import count_int8_linears
    from vecrank.testing.tiny_models import _WORDS

    folder = str(tiny_llm_rerankers["qwen3"])
    exact = CrossEncoderReranker(folder, device="cpu")
    int8 = CrossEncoderReranker(folder, device="cpu", dtype="int8")
    assert count_int8_linears(int8.model) == 2 * 7  # every projection of both layers
    kept = []
    for seed in range(8):  # eight queries' worth of 40 documents: agreement on average, as the guard means it
        rng = random.Random(seed)
        documents = [" ".join(rng.choice(_WORDS) for _ in range(rng.randint(5, 60))) for _ in range(40)]
        pairs = [(QUERY, document) for document in documents]
        top = set(np.argsort(-exact.predict(pairs))[:10]) & set(np.argsort(-int8.predict(pairs))[:10])
        kept.append(len(top))
    assert np.mean(kept) >= 9 and min(kept) >= 8


def test_batches_share_the_work_evenly_between_the_cpu_workers():
    from vecrank.core.yes_no import PromptedPairs, YesNoRunner

    heads = [[1] * 90, [2] * 100]  # two queries of 32 documents, 100-200 tokens each
    tokens = [[3] * (100 + (n * 37) % 101) for n in range(64)]
    prompted = PromptedPairs(heads, tokens, head_of=[n // 32 for n in range(64)])
    runner = YesNoRunner.__new__(YesNoRunner)

    def costs(batches):
        return [
            sum(len(tokens[i]) for i in b) + sum(len(heads[h]) for h in {n // 32 for n in b}) for b in batches
        ]

    for workers in (1, 2, 4):
        batches = runner.batches(prompted, 4096, 1024, workers)
        assert sorted(i for b in batches for i in b) == list(range(64))
        assert len(batches) % workers == 0 and max(costs(batches)) <= 4096
        assert max(costs(batches)) - min(costs(batches)) <= 200  # about one document apart
    assert len(runner.batches(prompted, 100_000, 1024, 1)) == 1  # one worker, all within budget: one batch
