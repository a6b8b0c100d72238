"""Where the time goes: one pass over the timed pairs split into linears, attention, element-wise
work, tokenisation and overhead, for vecrank (``torch.profiler``) and for a peer runtime (ONNX
Runtime's profiling, OpenVINO's ``PERF_COUNT``).

Every engine runs the pass on one thread, so each figure is one core's work (vecrank's CPU
workers each run a batch on one thread; the peers' timed runs use every core). Op times are
grouped by what each op computes; tokenisation is timed on its own; ``overhead`` is what is
left of the pass's wall time (Python, batching, the runtime's scheduling, the profiler itself).
Quantising an activation for an int8 product counts with the products.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from ..pairs import Pair

if TYPE_CHECKING:
    from .peers import Peer

LINEARS, ATTENTION, ELEMENTWISE, TOKENISATION, OVERHEAD = (
    "linears",
    "attention",
    "element-wise",
    "tokenisation",
    "overhead",
)
OP_CATEGORIES = (LINEARS, ATTENTION, ELEMENTWISE)
CATEGORIES = (*OP_CATEGORIES, TOKENISATION, OVERHEAD)

# torch: the profiler range each linear module runs in (see ``linear_ranges``), and op names.
LINEAR_RANGE = "vecrank.bench::linear"
TORCH_ATTENTION_WORDS = ("scaled_dot_product", "attention", "bmm", "softmax")
TORCH_LINEARS = frozenset({"aten::addmm", "aten::mm", "aten::linear", "aten::_addmm_activation"})
# ONNX Runtime op types. A product with two activation operands (rank 3 or more each) is
# attention's; one with a weight (an initializer, which the profile does not list) is a linear.
ORT_PRODUCTS = frozenset(
    {
        "MatMul",
        "FusedMatMul",
        "Gemm",
        "MatMulInteger",
        "MatMulIntegerToFloat",
        "DynamicQuantizeMatMul",
        "QGemm",
        "QLinearMatMul",
    }
)
ORT_ATTENTION = frozenset({"Attention", "MultiHeadAttention", "Softmax"})
ORT_QUANTISE = frozenset({"DynamicQuantizeLinear"})
# OpenVINO CPU node types: constant-weight products become FullyConnected*, activation ones stay MatMul;
# a fused Subgraph counts as attention when a Softmax went into it.
OV_ATTENTION = frozenset({"MatMul", "Softmax", "ScaledDotProductAttention", "MHA"})
OV_QUANTISE = frozenset({"FakeQuantize"})


def torch_category(event) -> str:
    """The category of one ``torch.profiler`` event: linears for any op inside a linear module's range."""
    parent = event.cpu_parent
    while parent is not None:
        if parent.name == LINEAR_RANGE:
            return LINEARS
        parent = parent.cpu_parent
    name = event.name.lower()
    if any(word in name for word in TORCH_ATTENTION_WORDS):
        return ATTENTION
    if event.name in TORCH_LINEARS or "linear" in name:
        return LINEARS
    return ELEMENTWISE


def torch_op_times(events: Iterable) -> dict[str, float]:
    """Self CPU ms of each op category in ``torch.profiler`` events (ranges themselves left out)."""
    times = dict.fromkeys(OP_CATEGORIES, 0.0)
    for event in events:
        if not event.is_user_annotation:
            times[torch_category(event)] += event.self_cpu_time_total / 1e3
    return times


def onnxruntime_category(op: str, input_shapes: Sequence[Sequence[int]]) -> str:
    """The category of one ONNX Runtime node, from its op type and the shapes of its listed inputs."""
    if op in ORT_ATTENTION:
        return ATTENTION
    if op in ORT_PRODUCTS:
        activations = [shape for shape in input_shapes if len(shape) >= 3]
        return ATTENTION if len(activations) >= 2 else LINEARS
    return LINEARS if op in ORT_QUANTISE else ELEMENTWISE


def onnxruntime_op_times(trace: Iterable[dict], since_us: float = 0.0) -> dict[str, float]:
    """ms of each op category in an ONNX Runtime profile (``enable_profiling``), from ``since_us`` on."""
    times = dict.fromkeys(OP_CATEGORIES, 0.0)
    for event in trace:
        if event.get("cat") != "Node" or not event["name"].endswith("_kernel_time") or event["ts"] < since_us:
            continue
        shapes = [next(iter(typed.values())) for typed in event["args"].get("input_type_shape", [])]
        times[onnxruntime_category(event["args"]["op_name"], shapes)] += event["dur"] / 1e3
    return times


def onnxruntime_pass_start(trace: Iterable[dict], run: int) -> float:
    """The start (µs) of the ``run``-th ``model_run`` (from 0) in an ONNX Runtime profile."""
    starts = sorted(e["ts"] for e in trace if e.get("cat") == "Session" and e["name"] == "model_run")
    return starts[run]


def openvino_category(node_type: str, fused_from: str = "") -> str:
    """The category of one OpenVINO CPU node, from its type and the layers fused into it."""
    if node_type.startswith("FullyConnected") or node_type in OV_QUANTISE:
        return LINEARS
    if node_type in OV_ATTENTION or (node_type == "Subgraph" and "Softmax" in fused_from):
        return ATTENTION
    return ELEMENTWISE


def openvino_op_times(nodes: Iterable[tuple[str, str, float]]) -> dict[str, float]:
    """ms of each op category from OpenVINO (node type, layers fused into it, µs) rows."""
    times = dict.fromkeys(OP_CATEGORIES, 0.0)
    for node_type, fused_from, microseconds in nodes:
        times[openvino_category(node_type, fused_from)] += microseconds / 1e3
    return times


def summary(op_ms: Mapping[str, float], tokenisation_ms: float, wall_ms: float) -> dict:
    """ms and share of the pass's wall time of each category; ``overhead`` is the wall time left."""
    ms = {**op_ms, TOKENISATION: tokenisation_ms, OVERHEAD: wall_ms - tokenisation_ms - sum(op_ms.values())}
    return {
        "wall_ms": round(wall_ms, 1),
        "ms": {category: round(ms[category], 1) for category in CATEGORIES},
        "share": {category: round(ms[category] / wall_ms, 3) for category in CATEGORIES},
    }


@contextmanager
def linear_ranges(model: torch.nn.Module) -> Iterator[None]:
    """Run every linear module of ``model`` (float or int8) inside a profiler range named
    ``LINEAR_RANGE``, so that the ops it calls (quantising, rescaling) count as linears."""
    from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

    open_ranges: list = []

    def enter(module, args) -> None:
        open_ranges.append(torch.profiler.record_function(LINEAR_RANGE).__enter__())

    def leave(module, args, output) -> None:
        open_ranges.pop().__exit__(None, None, None)

    linears = [m for m in model.modules() if isinstance(m, (torch.nn.Linear, DynamicLinear))]
    handles = [
        h for m in linears for h in (m.register_forward_pre_hook(enter), m.register_forward_hook(leave))
    ]
    try:
        yield
    finally:
        for handle in handles:
            handle.remove()


def timed_ms(function: Callable[[], object]) -> tuple[object, float]:
    """What ``function`` returns, and the ms it took."""
    start = time.perf_counter()
    result = function()
    return result, (time.perf_counter() - start) * 1e3


def vecrank_breakdown(
    folder: Path, dtype: str, pairs: Sequence[Pair], max_length: int, warm_up: int = 32
) -> dict:
    """vecrank at ``dtype`` on one thread: a profiled ``predict`` over ``pairs``; tokenisation timed apart."""
    from ..core import CrossEncoderReranker

    reranker = CrossEncoderReranker(
        str(folder), device="cpu", dtype=dtype, max_length=max_length, cpu_workers=1
    )
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        reranker.predict(pairs[:warm_up])
        _, tokenisation = timed_ms(lambda: reranker.tokenize(pairs))
        with (
            linear_ranges(reranker.model),
            torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CPU]) as profiler,
        ):
            _, wall = timed_ms(lambda: reranker.predict(pairs))
    finally:
        torch.set_num_threads(threads)
    return summary(torch_op_times(profiler.events()), tokenisation, wall)


def peer_breakdown(peer: Peer, pairs: Sequence[Pair]) -> dict:
    """``peer`` on one thread: its tokenisation and padding timed, then its runtime's profile of them."""
    batches, tokenisation = timed_ms(lambda: peer.encode(pairs))
    op_ms, run_ms = peer.profile(batches)
    return summary(op_ms, tokenisation, tokenisation + run_ms)
