"""``vecrank bench --long`` and the int8 benchmark's pieces, on small sizes."""

from __future__ import annotations

import json

import numpy as np
from transformers import AutoTokenizer

from vecrank.bench.int8 import kendall_tau
from vecrank.bench.models import bert_tokenizer_path
from vecrank.bench.pairs import make_long_pairs
from vecrank.cli import main


def test_long_mode_writes_ratios_and_parity_per_length(tmp_path, capsys):
    out = tmp_path / "long.json"
    argv = ["bench", "--long", "128,300", "--models", "17m", "--long-tokens", "300", "--repeats", "1"]
    assert main([*argv, "--out", str(out)]) == 0
    lengths = json.loads(out.read_text())["models"]["17m"]["lengths"]
    assert set(lengths) == {"128", "300"}
    for length, row in lengths.items():
        assert abs(row["tokens_per_pair"] - int(length)) <= 3
        assert row["pairs"] >= 2 and row["ratio"] > 0
        assert row["max_abs_diff"] < 1e-4  # 300 tokens: the banded local layers against ST's masked ones
    assert "17m" in capsys.readouterr().out


def test_long_mode_takes_ettin_shapes_only(capsys):
    assert main(["bench", "--long", "1024", "--models", "minilm-l6"]) == 2
    assert "--long takes models 17m" in capsys.readouterr().err


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
