"""``vecrank bench --peers``: each peer runtime exports and scores a tiny model as vecrank fp32 does."""

from __future__ import annotations

import importlib.util
import json

import numpy as np
import pytest

from vecrank import CrossEncoderReranker
from vecrank.bench import peers
from vecrank.bench.breakdown import CATEGORIES
from vecrank.bench.int8 import top_overlap
from vecrank.cli import main

PAIRS = [
    (" ".join(["key"] * (1 + n % 4)), " ".join(["rotate", "cluster", "vector"] * (n % 13))) for n in range(70)
]
# NNCF's calibration pairs: pairs like the scored ones, none of them scored (as the bench
# calibrates on pairs drawn like the timed ones, with another seed).
CALIBRATION = [(query, f"{document} vector") for query, document in PAIRS]


def _runtime(name: str) -> None:
    if importlib.util.find_spec(name) is None:
        pytest.skip(f"{name} is not installed (the bench-peers extra)")


def _engine_packages(engine: str) -> None:
    """Skip where the runtime of ``engine`` (or NNCF, for OpenVINO's int8 peers) is not installed."""
    _runtime(engine.split("-")[0])
    if engine in peers.ENGINE_PACKAGES:
        _runtime(peers.ENGINE_PACKAGES[engine])


@pytest.fixture(scope="module")
def built(tiny_models, tmp_path_factory):
    """Every installed peer on the tiny BERT and ModernBERT models, and vecrank fp32's scores."""
    found = {}
    for architecture in ("bert", "modernbert"):
        folder = tiny_models[architecture]
        work = tmp_path_factory.mktemp(f"peers-{architecture}")
        runtimes = [r for r in peers.RUNTIMES if importlib.util.find_spec(r) is not None]
        exact = CrossEncoderReranker(str(folder), device="cpu", max_length=128).predict(PAIRS)
        found[architecture] = (peers.build_peers(runtimes, folder, work, 128, 1, CALIBRATION), exact)
    return found


@pytest.mark.parametrize("architecture", ["bert", "modernbert"])
@pytest.mark.parametrize("engine", list(peers.PEER_PRECISIONS))
def test_each_peer_exports_and_scores_as_vecrank_fp32(built, architecture, engine):
    _engine_packages(engine)
    (found, failed), exact = built[architecture]
    assert engine not in failed
    peer = next(p for p in found if p.name == engine)
    scores = peer.predict(PAIRS)
    assert scores.shape == (len(PAIRS),) and np.isfinite(scores).all()
    if peers.PEER_PRECISIONS[engine] == "int8":  # int8 arithmetic: near, never equal
        # Random weights make int8 activations look worse than they are (NNCF's full int8 most).
        assert 1e-4 < np.abs(scores - exact).max() < 3 * exact.std()
        assert np.corrcoef(scores, exact)[0, 1] > 0.95
    else:  # OpenVINO bf16 runs in f32 on CPUs without bf16, so both bounds hold there
        bound = 1e-4 if engine.endswith(("fp32", "f32")) else 0.05
        np.testing.assert_allclose(scores, exact, atol=bound, rtol=0)


def test_onnxruntime_int8_graph_multiplies_in_int8(built):
    _runtime("onnxruntime")
    import onnx

    (found, _), _ = built["bert"]
    graphs = {
        p.name: {node.op_type for node in onnx.load(str(p.graph)).graph.node}
        for p in found
        if p.name.startswith("onnxruntime")
    }
    assert {"MatMulInteger", "DynamicQuantizeLinear"} <= graphs["onnxruntime-int8"]
    assert "MatMulInteger" not in graphs["onnxruntime-fp32"]


def test_openvino_int8_graphs_hold_int8_weights_and_quantise_activations(built):
    _engine_packages("openvino-int8-ptq")
    import openvino

    (found, _), _ = built["bert"]
    graphs = {
        p.name: openvino.Core().read_model(str(p.graph)) for p in found if p.name.startswith("openvino")
    }

    def int8_constants(model) -> int:
        return sum(
            op.get_type_name() == "Constant" and op.get_output_element_type(0).get_type_name() in ("i8", "u8")
            for op in model.get_ops()
        )

    def fake_quantizes(model) -> int:
        return sum(op.get_type_name() == "FakeQuantize" for op in model.get_ops())

    assert int8_constants(graphs["openvino-f32"]) == 0
    assert (
        int8_constants(graphs["openvino-int8-weights"]) > 0
        and fake_quantizes(graphs["openvino-int8-weights"]) == 0
    )
    assert fake_quantizes(graphs["openvino-int8-ptq"]) > 0
    built_by = {p.name: p.built for p in found}
    assert "compress_weights" in built_by["openvino-int8-weights"]
    assert "quantize(model_type=TRANSFORMER) calibrated on 70 pairs" in built_by["openvino-int8-ptq"]
    assert "runs in f32" in built_by["openvino-int8-ptq"]


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
    assert found == [] and set(failed) == set(peers.ENGINES["openvino"])
    assert all("no_such_runtime_package is not installed" in reason for reason in failed.values())
    _runtime("onnxruntime")

    def refuse(folder, path):
        raise RuntimeError("unsupported operator aten::scaled_dot_product_attention")

    monkeypatch.setattr(peers, "export_onnx", refuse)
    found, failed = peers.build_peers(["onnxruntime"], tiny_bert, tmp_path, 128)
    reason = "torch.onnx.export failed: RuntimeError: unsupported operator aten::scaled_dot_product_attention"
    assert found == [] and failed == {"onnxruntime-fp32": reason, "onnxruntime-int8": reason}


def test_an_openvino_int8_peer_that_cannot_build_is_reported_beside_those_that_run(
    tiny_bert, tmp_path, monkeypatch
):
    _runtime("openvino")
    monkeypatch.setitem(peers.ENGINE_PACKAGES, "openvino-int8-weights", "no_such_nncf")
    found, failed = peers.build_peers(["openvino"], tiny_bert, tmp_path, 128, 1)  # no calibration pairs
    assert {p.name for p in found} == {"openvino-f32", "openvino-bf16"}
    assert (
        failed["openvino-int8-weights"]
        == "no_such_nncf is not installed (pip install 'vecrank[bench-peers]')"
    )
    if importlib.util.find_spec("nncf") is None:
        assert "nncf is not installed" in failed["openvino-int8-ptq"]
    else:
        assert (
            failed["openvino-int8-ptq"]
            == "ValueError: nncf.quantize needs calibration pairs; none were given"
        )


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
    report = json.loads(out.read_text())
    result = report["models"]["tiny"]
    engines = result["engines"]
    assert set(engines) == {
        "st-fp32",
        "st-bf16",
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
    assert engines["st-bf16"]["precision_class"] == "bf16" and engines["st-bf16"]["max_abs_diff"] < 0.1
    assert "top10_overlap" not in engines["vecrank-int8"]  # random weights: no ranking agreement claimed
    assert report["ranking_agreement"] == "not measured: add minilm-l6 (real weights) to --models"
    fastest_peer = max(("onnxruntime-fp32", "onnxruntime-int8"), key=lambda e: engines[e]["pairs_per_s"])
    breakdown = result["time_breakdown"]
    assert set(breakdown) == {result["vecrank_best_tier"], fastest_peer}
    for found in breakdown.values():
        assert (
            set(found["ms"]) == set(CATEGORIES)
            and found["ms"]["linears"] > 0
            and found["ms"]["attention"] > 0
        )
        assert sum(found["ms"].values()) == pytest.approx(found["wall_ms"], abs=0.5)
    printed = capsys.readouterr().out
    assert "onnxruntime-fp32" in printed and f"{fastest_peer:<24} one thread: linears" in printed


def test_agreement_ranks_only_on_real_weights():
    from vecrank.bench.pairs import PairSet
    from vecrank.bench.peer_run import agreement

    pair_set = PairSet([("q", "d")] * 40, queries=2, candidates=20)
    reference = np.tile(np.arange(20.0), 2)
    reversed_ranks = -reference
    assert agreement(reversed_ranks, reference, pair_set, real_weights=True) == {
        "max_abs_diff": 38.0,
        "top10_overlap": 0.0,
        "kendall_tau": -1.0,
    }
    assert agreement(reference + 0.5, reference, pair_set, real_weights=False) == {"max_abs_diff": 0.5}
