"""``vecrank bench --peers``: each peer runtime exports and scores a tiny model as vecrank fp32 does."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from vecrank import CrossEncoderReranker
from vecrank.bench import peers
from vecrank.bench.int8 import top_overlap
from vecrank.cli import main

PAIRS = [
    (" ".join(["key"] * (1 + n % 4)), " ".join(["rotate", "cluster", "vector"] * (n % 13))) for n in range(70)
]


def _runtime(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (the bench-peers extra)")


@pytest.fixture(scope="module")
def built(tiny_models, tmp_path_factory):
    """Every installed peer on the tiny BERT and ModernBERT models, and vecrank fp32's scores."""
    found = {}
    for architecture in ("bert", "modernbert"):
        folder = tiny_models[architecture]
        work = tmp_path_factory.mktemp(f"peers-{architecture}")
        runtimes = [r for r in peers.RUNTIMES if importlib.util.find_spec(r) is not None]
        exact = CrossEncoderReranker(str(folder), device="cpu", max_length=128).predict(PAIRS)
        found[architecture] = (peers.build_peers(runtimes, folder, work, 128, threads=1), exact)
    return found


@pytest.mark.parametrize("architecture", ["bert", "modernbert"])
@pytest.mark.parametrize("engine", list(peers.PEER_PRECISIONS))
def test_each_peer_exports_and_scores_as_vecrank_fp32(built, architecture, engine):
    _runtime(engine.split("-")[0])
    (found, failed), exact = built[architecture]
    assert not failed
    peer = next(p for p in found if p.name == engine)
    scores = peer.predict(PAIRS)
    assert scores.shape == (len(PAIRS),) and np.isfinite(scores).all()
    if peers.PEER_PRECISIONS[engine] == "int8":
        assert 1e-4 < np.abs(scores - exact).max() < 0.5  # int8 arithmetic: near, never equal
    else:  # OpenVINO bf16 runs in f32 on CPUs without bf16, so both bounds hold there
        bound = 1e-4 if engine.endswith(("fp32", "f32")) else 0.05
        np.testing.assert_allclose(scores, exact, atol=bound, rtol=0)


def test_onnxruntime_int8_graph_multiplies_in_int8(built):
    _runtime("onnxruntime")
    import onnx

    (found, _), _ = built["bert"]
    graphs = {p.name: {node.op_type for node in onnx.load(str(p.graph)).graph.node} for p in found}
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= graphs["onnxruntime-int8"]
    assert "MatMulInteger" not in graphs["onnxruntime-fp32"]


def test_batches_are_length_sorted_and_cover_every_pair(tiny_bert):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_bert)
    names = peers.input_names(tiny_bert)
    seen, lengths = [], []
    for indices, inputs in peers.sorted_batches(tokenizer, PAIRS, 128, names):
        assert set(inputs) == set(names) and len(indices) <= peers.BATCH_SIZE
        seen += indices.tolist()
        lengths.append(inputs["attention_mask"].sum(1).max())
    assert sorted(seen) == list(range(len(PAIRS))) and lengths == sorted(lengths)


def test_a_peer_that_cannot_run_is_reported_with_the_reason(tiny_bert, tmp_path, monkeypatch):
    monkeypatch.setitem(peers.RUNTIMES, "openvino", "no_such_runtime_package")
    found, failed = peers.build_peers(["openvino"], tiny_bert, tmp_path, 128)
    assert found == [] and "no_such_runtime_package is not installed" in failed["openvino"]
    _runtime("onnxruntime")

    def refuse(folder, path):
        raise RuntimeError("unsupported operator aten::scaled_dot_product_attention")

    monkeypatch.setattr(peers, "export_onnx", refuse)
    found, failed = peers.build_peers(["onnxruntime"], tiny_bert, tmp_path, 128)
    assert failed == {
        "onnxruntime": "torch.onnx.export failed: RuntimeError: unsupported operator "
        "aten::scaled_dot_product_attention"
    }


def test_unknown_peer_is_named(capsys):
    assert main(["bench", "--device", "cpu", "--peers", "onnxruntime,tensorrt", "--models", "tiny"]) == 2
    assert "--peers takes onnxruntime, openvino" in capsys.readouterr().err


def test_top_overlap():
    reference = np.arange(20.0)
    assert top_overlap(reference, reference) == 1.0
    assert top_overlap(reference, -reference) == 0.0
    assert top_overlap(reference[:5], reference[:5]) == 1.0


def test_peers_mode_writes_every_engine_with_its_ratios(tmp_path, capsys):
    _runtime("onnxruntime")
    out = tmp_path / "peers.json"
    argv = ["bench", "--device", "cpu", "--peers", "onnxruntime", "--models", "tiny", "--pairs", "100"]
    assert main([*argv, "--repeats", "1", "--max-length", "64", "--out", str(out)]) == 0
    result = json.loads(out.read_text())["models"]["tiny"]
    engines = result["engines"]
    assert set(engines) == {
        "st-fp32",
        "vecrank-float32",
        "vecrank-bfloat16",
        "vecrank-int8",
        "vecrank-int8-per-token",
        "onnxruntime-fp32",
        "onnxruntime-int8",
    }
    best = engines[result["vecrank_best_tier"]]
    assert best["ratio_to_vecrank_best"] == 1.0
    assert (
        engines["onnxruntime-fp32"]["max_abs_diff"] < 1e-4
        and engines["onnxruntime-fp32"]["precision_class"] == "exact"
    )
    assert "top10_overlap" not in engines["vecrank-int8"]  # random weights: no ranking agreement claimed
    assert "onnxruntime-fp32" in capsys.readouterr().out
