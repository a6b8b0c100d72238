"""``vecrank bench --long`` and the int8 benchmark's pieces, on small sizes."""

from __future__ import annotations

import json

import numpy as np
import torch
from transformers import AutoTokenizer

from vecrank import CrossEncoderReranker
from vecrank.bench.int8 import kendall_tau
from vecrank.bench.models import bert_tokenizer_path
from vecrank.bench.pairs import make_long_pairs
from vecrank.cli import main


def test_long_mode_writes_ratios_and_parity_per_length(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)  # with no --out, the JSON goes into the current folder, named
    out = tmp_path / "long_documents_cpu.json"
    argv = ["bench", "--long", "128,300", "--models", "17m", "--long-tokens", "300", "--repeats", "1"]
    assert main(argv) == 0
    assert "wrote long_documents_cpu.json" in capsys.readouterr().out
    lengths = json.loads(out.read_text())["models"]["17m"]["lengths"]
    assert set(lengths) == {"128", "300"}
    for length, row in lengths.items():
        assert abs(row["tokens_per_pair"] - int(length)) <= 3
        assert row["pairs"] >= 2 and row["ratio"] > 0
        assert row["max_abs_diff"] < 1e-4  # 300 tokens: the banded local layers against ST's masked ones


def test_long_mode_takes_ettin_shapes_only(capsys):
    assert main(["bench", "--long", "1024", "--models", "minilm-l6"]) == 2
    assert "--long takes models 17m" in capsys.readouterr().err


def test_jina_mode_times_the_reference_and_both_dtypes_on_both_pair_sets(tmp_path, capsys):
    out = tmp_path / "jina.json"
    argv = ["bench", "--jina", "--models", "jina-smoke", "--pairs", "30", "--max-length", "128"]
    argv += ["--jina-long", "600", "--long-tokens", "1200", "--repeats", "1", "--out", str(out)]
    assert main(argv) == 0
    sets = json.loads(out.read_text())["models"]["jina-smoke"]["pair_sets"]
    assert set(sets) == {"nq_like", "600_tokens"}
    assert sets["600_tokens"]["pairs"] == 2 and sets["600_tokens"]["reference_batch_size"] == 1
    for row in sets.values():
        assert set(row["pairs_per_s"]) == {"reference", "vecrank_fp32", "vecrank_int8"}
        assert row["fp32_agreement"]["max_abs_diff"] < 1e-4 and row["fp32_agreement"]["same_order"]
    assert "jina-smoke" in capsys.readouterr().out


def test_jina_mode_takes_jina_shapes_only(capsys):
    assert main(["bench", "--jina", "--models", "17m"]) == 2
    assert "--jina takes models jina-turbo" in capsys.readouterr().err


def test_long_pairs_have_the_asked_length():
    tokenizer = AutoTokenizer.from_pretrained(bert_tokenizer_path())
    pairs = make_long_pairs(tokenizer, 3, 2048, seed=1)
    lengths = [len(ids) for ids in tokenizer([q for q, _ in pairs], [d for _, d in pairs])["input_ids"]]
    assert all(abs(length - 2048) <= 3 for length in lengths)


def test_kendall_tau():
    scores = np.array([0.1, 0.5, 0.3, 0.9])
    assert kendall_tau(scores, scores * 2) == 1.0
    assert kendall_tau(scores, -scores) == -1.0
    assert kendall_tau(scores, np.array([0.1, 0.3, 0.5, 0.9])) == 4 / 6  # one swapped pair of six


def test_train_relevance_model_learns_to_put_the_passage_first(tmp_path):
    """The int8 quality guard's fine-tuning: after it, the grouped passage outscores the others."""
    from vecrank.bench.int8 import train_relevance_model
    from vecrank.testing.tiny_models import build_tiny_model

    folder = build_tiny_model("bert", tmp_path / "bert")
    rng = np.random.default_rng(0)
    words = ["river", "engine", "garden", "castle", "planet"]
    words += ["violin", "harbor", "forest", "copper", "lantern"]
    groups = []
    for word in words * 3:
        others = [str(w) for w in rng.choice([w for w in words if w != word], 3, replace=False)]
        groups.append((word, [f"the {word} is here"] + [f"the {other} is here" for other in others]))

    def passage_first() -> float:
        reranker = CrossEncoderReranker(str(folder), device="cpu", dtype="fp32")
        scores = [reranker.predict([(text, passage) for passage in passages]) for text, passages in groups]
        return float(np.mean([np.argmax(row) == 0 for row in scores]))

    before = passage_first()
    losses = train_relevance_model(folder, groups, seed=0, epochs=20)
    assert len(losses) == 20 and losses[-1] < 0.9 * losses[0]
    assert passage_first() >= before + 0.2


def test_fake_quantize_rounds_to_256_levels_per_range():
    from vecrank.bench.int8 import _fake_quantize

    x = torch.tensor([[0.0, 1.0, 2.0, 3.0], [0.0, 100.0, 0.5, -0.25]])
    whole, per_row = _fake_quantize(x, None), _fake_quantize(x, (-1,))
    step_whole = (100.0 + 0.25) / 255
    assert torch.all((whole - x).abs() <= step_whole / 2 + 1e-6)
    assert torch.all((per_row[0] - x[0]).abs() <= 3.0 / 255 / 2 + 1e-6)  # the small row keeps its own range
    assert (whole[0] - x[0]).abs().max() > (per_row[0] - x[0]).abs().max()
    assert _fake_quantize(x, (-1,)).shape == x.shape


def test_simulated_int8_leaves_the_per_pair_linears_exact(tiny_bert, monkeypatch):
    from vecrank.bench import int8

    pairs = [("vector search", "rerank the hits " * n) for n in range(1, 9)]
    exact = CrossEncoderReranker(str(tiny_bert), device="cpu", dtype="fp32").predict(pairs)
    scores = int8.simulated_int8(tiny_bert, pairs, "token")
    assert np.corrcoef(scores, exact)[0, 1] >= 0.99 and not np.array_equal(scores, exact)
    rows = []
    monkeypatch.setattr(int8, "_fake_quantize", lambda x, dims: rows.append(x.shape[-2]) or x)
    int8.simulated_int8(tiny_bert, pairs[-1:], "token")
    # Only the linears that read every token round their input: the first layer's six, and
    # the last layer's key and value (its query, output and feed-forward read the first token).
    assert rows == [len(CrossEncoderReranker(str(tiny_bert)).tokenize(pairs[-1:]).input_ids[0])] * 8


def test_int8_throughput_times_every_engine_on_the_same_pairs(tmp_path):
    import argparse

    from vecrank.bench.int8 import ENGINES, int8_throughput
    from vecrank.bench.pairs import make_pairs

    tokenizer = AutoTokenizer.from_pretrained(bert_tokenizer_path())
    pair_set = make_pairs(tokenizer, 20, candidates=10, max_length=128)
    args = argparse.Namespace(
        seed=0, max_length=128, cpu_workers=1, st_batch_sizes="8", repeats=1, quiet_wait=0.0
    )
    result = int8_throughput("tiny", tmp_path / "tiny", pair_set, args)
    assert set(result["pairs_per_s"]) == set(ENGINES)
    assert all(rate > 0 for rate in result["pairs_per_s"].values())
    assert "dtype='int8-per-token'" in result["engines"]["vecrank_int8_per_token"]
    for dtype in ("int8", "int8-per-token"):
        ratio = result[f"ratio_{dtype}_vs_st_fp32"]
        assert ratio == round(
            result["pairs_per_s"][f"vecrank_{dtype.replace('-', '_')}"] / result["pairs_per_s"]["st"], 2
        )
        assert 0 < result[f"random_weights_max_abs_diff_{dtype}"] < 0.5
