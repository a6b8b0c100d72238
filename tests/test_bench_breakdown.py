"""Where the time goes: op events of each profiler grouped into linears, attention and element-wise work."""

from __future__ import annotations

import importlib.util
from types import SimpleNamespace

import pytest
import torch

from vecrank.bench import breakdown
from vecrank.bench.breakdown import ATTENTION, CATEGORIES, ELEMENTWISE, LINEARS

PAIRS = [(f"key {n % 5}", " ".join(["rotate", "cluster", "vector"] * (1 + n % 9))) for n in range(40)]


def _event(name: str, self_us: float, parent=None, annotation: bool = False) -> SimpleNamespace:
    return SimpleNamespace(
        name=name, self_cpu_time_total=self_us, cpu_parent=parent, is_user_annotation=annotation
    )


def test_torch_events_group_by_op_and_by_the_linear_they_run_in():
    linear = _event(breakdown.LINEAR_RANGE, 50.0, annotation=True)  # a range: its own time is overhead
    quantised = _event("quantized::linear_dynamic", 4000.0, linear)
    events = [
        linear,
        quantised,
        _event("aten::aminmax", 300.0, linear),  # the activation range of an int8 linear
        _event("aten::index_select", 200.0, _event("aten::something", 0.0, linear)),  # nested deeper
        _event("aten::addmm", 1000.0),
        _event("aten::_scaled_dot_product_flash_attention_for_cpu", 2000.0),
        _event("aten::bmm", 500.0),
        _event("aten::_softmax", 250.0),
        _event("aten::gelu", 700.0),
        _event("aten::native_layer_norm", 300.0),
    ]
    assert breakdown.torch_op_times(events) == pytest.approx(
        {LINEARS: 5.5, ATTENTION: 2.75, ELEMENTWISE: 1.0}
    )


def _ort_node(
    op: str, us: float, *shapes: list[int], ts: float = 100.0, suffix: str = "_kernel_time"
) -> dict:
    inputs = [{"float": shape} for shape in shapes]
    return {
        "cat": "Node",
        "name": f"/x/{op}{suffix}",
        "ts": ts,
        "dur": us,
        "args": {"op_name": op, "input_type_shape": inputs},
    }


def test_onnxruntime_nodes_group_by_op_type_and_operands():
    trace = [
        {"cat": "Session", "name": "model_run", "ts": 0.0, "dur": 90.0},
        _ort_node("MatMul", 9000.0, [32, 28, 384], ts=10.0),  # the warm-up pass: left out
        {"cat": "Session", "name": "model_run", "ts": 100.0, "dur": 90.0},
        _ort_node("MatMul", 3000.0, [32, 28, 384]),  # weights are initializers, not listed: a linear
        _ort_node("MatMulInteger", 1000.0, [32, 28, 384], []),  # activation and its zero point
        _ort_node("DynamicQuantizeLinear", 500.0, [32, 28, 384]),
        _ort_node("Gemm", 100.0, [32, 384], [1]),
        _ort_node("FusedMatMul", 2000.0, [32, 4, 28, 16], [32, 4, 28, 16]),  # Q by K: attention
        _ort_node("MatMul", 1000.0, [32, 4, 28, 28], [32, 4, 28, 16]),
        _ort_node("Softmax", 500.0, [32, 4, 28, 28]),
        _ort_node("LayerNormalization", 700.0, [32, 28, 384]),
        _ort_node("MatMul", 999.0, [32, 28, 384], suffix="_fence_before"),
    ]
    start = breakdown.onnxruntime_pass_start(trace, 1)
    assert start == 100.0
    assert breakdown.onnxruntime_op_times(trace, start) == pytest.approx(
        {LINEARS: 4.6, ATTENTION: 3.5, ELEMENTWISE: 0.7}
    )


def test_openvino_nodes_group_by_type_and_what_was_fused():
    nodes = [
        ("FullyConnected", "", 3000.0),
        ("FullyConnectedCompressed", "", 1000.0),
        ("FakeQuantize", "", 500.0),
        ("Subgraph", "/attn/Mul_4,/attn/Add_2,/attn/Softmax,/attn/MatMul_1,", 2000.0),
        ("MatMul", "/attn/MatMul", 1000.0),
        ("Subgraph", "/mlp/Mul,/mlp/Add", 400.0),  # fused element-wise work
        ("MVN", "", 300.0),
    ]
    assert breakdown.openvino_op_times(nodes) == pytest.approx(
        {LINEARS: 4.5, ATTENTION: 3.0, ELEMENTWISE: 0.7}
    )


def test_summary_leaves_the_rest_of_the_wall_time_to_overhead():
    found = breakdown.summary({LINEARS: 50.0, ATTENTION: 20.0, ELEMENTWISE: 10.0}, 15.0, 100.0)
    assert found["ms"] == {
        LINEARS: 50.0,
        ATTENTION: 20.0,
        ELEMENTWISE: 10.0,
        "tokenisation": 15.0,
        "overhead": 5.0,
    }
    assert found["share"]["linears"] == 0.5 and sum(found["share"].values()) == pytest.approx(1.0)


@pytest.mark.parametrize("dtype", ["float32", "int8"])
def test_a_real_vecrank_run_splits_its_time(tiny_models, dtype):
    threads = torch.get_num_threads()
    found = breakdown.vecrank_breakdown(tiny_models["bert"], dtype, PAIRS, 128)
    assert set(found["ms"]) == set(CATEGORIES)
    assert all(found["ms"][category] > 0 for category in (LINEARS, ATTENTION, ELEMENTWISE, "tokenisation"))
    assert sum(found["ms"].values()) == pytest.approx(found["wall_ms"], abs=0.5)
    assert torch.get_num_threads() == threads  # restored: the pass ran on one thread


def test_every_op_an_int8_linear_calls_counts_as_a_linear(tiny_bert):
    from vecrank import CrossEncoderReranker

    reranker = CrossEncoderReranker(str(tiny_bert), device="cpu", dtype="int8", cpu_workers=1)
    with (
        breakdown.linear_ranges(reranker.model),
        torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler,
    ):
        reranker.predict(PAIRS)
    events = [e for e in profiler.events() if not e.is_user_annotation]
    inside = [e for e in events if breakdown.torch_category(e) == LINEARS]
    assert any(e.name.startswith("quantized::") for e in inside)
    assert any(e.name not in breakdown.TORCH_LINEARS and "linear" not in e.name for e in inside)
    assert not [h for m in reranker.model.modules() for h in m._forward_pre_hooks.values()]  # hooks removed


@pytest.mark.parametrize("engine", ["onnxruntime-fp32", "openvino-f32"])
def test_a_real_peer_run_splits_its_time(tiny_models, tmp_path, engine):
    from vecrank.bench import peers

    runtime = engine.split("-")[0]
    if importlib.util.find_spec(runtime) is None:
        pytest.skip(f"{runtime} is not installed (the bench-peers extra)")
    found, _ = peers.build_peers([runtime], tiny_models["modernbert"], tmp_path, 128, 1)
    peer = next(p for p in found if p.name == engine)
    split = breakdown.peer_breakdown(peer, PAIRS)
    assert set(split["ms"]) == set(CATEGORIES)
    assert all(split["ms"][category] > 0 for category in (LINEARS, ATTENTION, ELEMENTWISE, "tokenisation"))
    assert sum(split["ms"].values()) == pytest.approx(split["wall_ms"], abs=0.5)
