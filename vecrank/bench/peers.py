"""Peer CPU runtimes for ``vecrank bench --peers onnxruntime,openvino``, each built at its best.

Every peer runs the model that vecrank runs, exported once with ``torch.onnx.export``
(dynamic batch and sequence axes), on length-sorted batches of ``batch_size`` pairs padded
to their longest, with as many threads as the machine has cores:

- ``onnxruntime-fp32``: full graph optimisation (``ORT_ENABLE_ALL``);
- ``onnxruntime-int8``: ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, dynamic
  int8 activations: what flashrank and fastembed ship), then the same session options;
- ``openvino-f32`` and ``openvino-bf16``: the exported graph compiled for ``CPU`` with
  ``INFERENCE_PRECISION_HINT`` set explicitly (OpenVINO picks bf16 by itself on AMX CPUs);
- ``openvino-int8-weights``: NNCF's ``compress_weights`` (int8 weights, per output channel,
  float activations), compiled with the f32 hint;
- ``openvino-int8-ptq``: NNCF's post-training quantisation (``nncf.quantize``,
  ``ModelType.TRANSFORMER``: int8 weights and activations, SmoothQuant) calibrated on the
  pairs given, compiled with the f32 hint, so that what stays float is float32 as in
  vecrank's int8 tiers.

A peer whose runtime or NNCF is not installed, or that cannot export, quantise or compile a
shape, is reported with the reason instead of a rate.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..pairs import Pair
from .breakdown import onnxruntime_op_times, onnxruntime_pass_start, openvino_op_times, timed_ms

RUNTIMES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}  # peer -> the package it needs
PEER_PRECISIONS = {  # engine -> precision class it competes in
    "onnxruntime-fp32": "exact",
    "onnxruntime-int8": "int8",
    "openvino-f32": "exact",
    "openvino-bf16": "bf16",
    "openvino-int8-weights": "int8",
    "openvino-int8-ptq": "int8",
}
ENGINES = {runtime: tuple(e for e in PEER_PRECISIONS if e.startswith(f"{runtime}-")) for runtime in RUNTIMES}
ENGINE_PACKAGES = {"openvino-int8-weights": "nncf", "openvino-int8-ptq": "nncf"}  # beyond the runtime
BATCH_SIZE = 32
OPSET = 17

Batch = tuple[np.ndarray, dict[str, np.ndarray]]  # pair indices, the runtime's inputs
Profile = Callable[[list[Batch]], tuple[dict[str, float], float]]  # -> op ms by category, wall ms


@dataclass
class Peer:
    """One peer engine: how it was built, the graph it runs, its tokenisation (``encode``), its
    runtime call (``run``: inputs -> logits) and ``profile``, which runs batches on one thread
    under the runtime's profiler (see :mod:`vecrank.bench.breakdown`)."""

    name: str
    built: str
    graph: Path
    encode: Callable[[Sequence[Pair]], list[Batch]]
    run: Callable[[dict[str, np.ndarray]], np.ndarray]
    profile: Profile

    def predict(self, pairs: Sequence[Pair]) -> np.ndarray:
        """Scores of ``pairs``, in input order."""
        scores = np.empty(len(pairs), dtype=np.float32)
        for indices, inputs in self.encode(pairs):
            scores[indices] = np.asarray(self.run(inputs))[:, 0]
        return scores


def parse_peers(text: str) -> list[str]:
    """``"onnxruntime,openvino"`` -> the runtimes named; ValueError names one that is not known."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in RUNTIMES]
    if unknown or not names:
        raise ValueError(f"--peers takes {', '.join(RUNTIMES)} (comma-separated); not {text!r}")
    return names


def missing_package(package: str) -> str | None:
    """Why ``package`` cannot be used here (it is not installed), or None."""
    if importlib.util.find_spec(package) is None:
        return f"{package} is not installed (pip install 'vecrank[bench-peers]')"
    return None


def input_names(folder: Path) -> list[str]:
    """The tokenizer inputs the model takes, in the order the export passes them."""
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(folder)
    with_types = config.model_type == "bert" and getattr(config, "type_vocab_size", 0) > 0
    return ["input_ids", "attention_mask", *(["token_type_ids"] if with_types else [])]


def export_onnx(folder: Path, path: Path) -> Path:
    """Export the sequence-classification model of ``folder`` to ONNX, batch and sequence dynamic."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(folder, attn_implementation="eager").eval()
    names = input_names(folder)
    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in names)
    dynamic = {name: {0: "batch", 1: "sequence"} for name in names}
    with torch.inference_mode():
        torch.onnx.export(
            model,
            example,
            str(path),
            input_names=names,
            output_names=["logits"],
            dynamic_axes={**dynamic, "logits": {0: "batch"}},
            opset_version=OPSET,
            dynamo=False,
        )
    return path


def sorted_batches(
    tokenizer, pairs: Sequence[Pair], max_length: int, names: Sequence[str]
) -> Iterator[Batch]:
    """Length-sorted batches of ``BATCH_SIZE`` pairs padded to their longest: (indices, numpy inputs)."""
    encoded = tokenizer(
        [query for query, _ in pairs],
        [document for _, document in pairs],
        truncation=True,
        max_length=max_length,
    )
    order = np.argsort([len(ids) for ids in encoded["input_ids"]], kind="stable")
    for start in range(0, len(order), BATCH_SIZE):
        indices = order[start : start + BATCH_SIZE]
        rows = [{name: encoded[name][i] for name in names} for i in indices]
        padded = tokenizer.pad(rows, return_tensors="np")
        yield indices, {name: padded[name].astype(np.int64) for name in names}


def _ort_session(path: Path, threads: int, profile_prefix: str | None = None):
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    if profile_prefix:
        options.enable_profiling = True
        options.profile_file_prefix = profile_prefix
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def _ort_profile(path: Path) -> Profile:
    """Run batches twice on one thread with ONNX Runtime's profiling; the second pass's op times."""

    def profile(batches: list[Batch]) -> tuple[dict[str, float], float]:
        session = _ort_session(path, 1, str(path.with_suffix("")) + "-profile")
        for _, inputs in batches:  # warm-up pass
            session.run(["logits"], inputs)
        _, wall = timed_ms(lambda: [session.run(["logits"], inputs) for _, inputs in batches])
        trace_path = Path(session.end_profiling())
        trace = json.loads(trace_path.read_text())
        trace_path.unlink()
        return onnxruntime_op_times(trace, onnxruntime_pass_start(trace, len(batches))), wall

    return profile


def onnxruntime_peers(
    onnx_path: Path, threads: int, encode: Callable, calibration: list[Batch]
) -> dict[str, Callable[[], Peer]]:
    """ONNX Runtime fp32 and dynamic int8, full graph optimisation, ``threads`` intra-op threads."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    def peer(name: str, path: Path, how: str) -> Peer:
        session = _ort_session(path, threads)
        built = f"onnxruntime {onnxruntime.__version__}, {how}, ORT_ENABLE_ALL, {threads} threads"
        return Peer(
            name, built, path, encode, lambda inputs: session.run(["logits"], inputs)[0], _ort_profile(path)
        )

    def int8() -> Peer:
        path = onnx_path.with_name("model-int8.onnx")
        quantize_dynamic(str(onnx_path), str(path), weight_type=QuantType.QInt8)
        return peer("onnxruntime-int8", path, "quantize_dynamic(weight_type=QInt8)")

    return {"onnxruntime-fp32": lambda: peer("onnxruntime-fp32", onnx_path, "fp32"), "onnxruntime-int8": int8}


def _ov_compile(core, model, precision: str, threads: int, profiling: bool = False):
    config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads}
    return core.compile_model(model, "CPU", {**config, **({"PERF_COUNT": True} if profiling else {})})


def _ov_profile(core, model, precision: str) -> Profile:
    """Run batches twice on one thread with ``PERF_COUNT``; the second pass's node times.

    OpenVINO's CPU plugin reports each node's mean time over every inference since compiling,
    so the second pass's total is the mean after both passes times 2n less the mean after the
    first times n.
    """

    def totals(request, runs: int) -> dict[str, tuple[str, float]]:
        return {
            node.node_name: (node.node_type, node.real_time.total_seconds() * 1e6 * runs)
            for node in request.get_profiling_info()
        }

    def profile(batches: list[Batch]) -> tuple[dict[str, float], float]:
        compiled = _ov_compile(core, model, precision, 1, profiling=True)
        fused = {
            op.get_friendly_name(): op.get_rt_info()["originalLayersNames"].astype(str)
            for op in compiled.get_runtime_model().get_ordered_ops()
        }
        request = compiled.create_infer_request()
        for _, inputs in batches:  # warm-up pass
            request.infer(inputs)
        first = totals(request, len(batches))
        wall = sum(timed_ms(lambda i=inputs: request.infer(i))[1] for _, inputs in batches)
        nodes = [
            (node_type, fused.get(name, ""), microseconds - first.get(name, (node_type, 0.0))[1])
            for name, (node_type, microseconds) in totals(request, 2 * len(batches)).items()
        ]
        return openvino_op_times(nodes), wall

    return profile


def openvino_peers(
    onnx_path: Path, threads: int, encode: Callable, calibration: list[Batch]
) -> dict[str, Callable[[], Peer]]:
    """OpenVINO on CPU: ``INFERENCE_PRECISION_HINT`` f32 and bf16, and NNCF's two int8 recipes
    (weight compression; post-training quantisation calibrated on ``calibration``)."""
    import openvino

    core = openvino.Core()
    model = core.read_model(str(onnx_path))

    def peer(name: str, graph, precision: str, how: str = "") -> Peer:
        path = onnx_path
        if graph is not model:  # NNCF's graph, kept beside the export as OpenVINO IR
            path = onnx_path.with_name(f"{name}.xml")
            openvino.save_model(graph, str(path), compress_to_fp16=False)
        compiled = _ov_compile(core, graph, precision, threads)
        runs_in = compiled.get_property("INFERENCE_PRECISION_HINT")  # f32 where the CPU lacks bf16
        runs_in = runs_in.to_string() if isinstance(runs_in, openvino.Type) else runs_in
        built = (
            f"openvino {openvino.__version__}, {how}INFERENCE_PRECISION_HINT={precision} "
            f"(runs in {runs_in}), {threads} threads"
        )
        run = lambda inputs: compiled(inputs)[0]  # noqa: E731
        return Peer(name, built, path, encode, run, _ov_profile(core, graph, precision))

    def weights() -> Peer:
        nncf = _nncf()
        compressed = nncf.compress_weights(model.clone(), mode=nncf.CompressWeightsMode.INT8_ASYM)
        how = f"nncf {nncf.__version__} compress_weights(mode=INT8_ASYM): int8 weights, float activations, "
        return peer("openvino-int8-weights", compressed, "f32", how)

    def ptq() -> Peer:
        if not calibration:
            raise ValueError("nncf.quantize needs calibration pairs; none were given")
        nncf = _nncf()
        quantized = nncf.quantize(
            model.clone(),
            nncf.Dataset([inputs for _, inputs in calibration]),
            model_type=nncf.ModelType.TRANSFORMER,
            subset_size=len(calibration),
        )
        pairs = sum(len(indices) for indices, _ in calibration)
        how = (
            f"nncf {nncf.__version__} quantize(model_type=TRANSFORMER) calibrated on {pairs} pairs "
            f"({len(calibration)} batches): int8 weights and activations, "
        )
        return peer("openvino-int8-ptq", quantized, "f32", how)

    return {
        "openvino-f32": lambda: peer("openvino-f32", model, "f32"),
        "openvino-bf16": lambda: peer("openvino-bf16", model, "bf16"),
        "openvino-int8-weights": weights,
        "openvino-int8-ptq": ptq,
    }


def _nncf():
    """NNCF, its per-layer tables and progress logs quietened."""
    import nncf

    nncf.set_log_level(logging.WARNING)
    return nncf


BUILDERS = {"onnxruntime": onnxruntime_peers, "openvino": openvino_peers}


def build_peers(
    runtimes: Sequence[str],
    folder: Path,
    work: Path,
    max_length: int,
    threads: int | None = None,
    calibration: Sequence[Pair] = (),
) -> tuple[list[Peer], dict[str, str]]:
    """The peers of ``runtimes`` on the model of ``folder``, and the reason for each engine that
    could not run. ``calibration``: the pairs NNCF's post-training quantisation calibrates on
    (pairs other than the timed ones)."""
    from transformers import AutoTokenizer

    threads = threads or os.cpu_count() or 1
    failed: dict[str, str] = {}
    runnable = []
    for runtime in runtimes:
        if reason := missing_package(RUNTIMES[runtime]):
            failed.update(dict.fromkeys(ENGINES[runtime], reason))
        else:
            runnable.append(runtime)
    if not runnable:
        return [], failed
    names = input_names(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)

    def encode(pairs: Sequence[Pair]) -> list[Batch]:
        return list(sorted_batches(tokenizer, pairs, max_length, names))

    work.mkdir(parents=True, exist_ok=True)
    try:
        onnx_path = export_onnx(folder, work / "model.onnx")
    except Exception as error:  # any exporter failure is the peer's result, reported
        reason = f"torch.onnx.export failed: {type(error).__name__}: {error}"
        return [], {**failed, **{engine: reason for r in runnable for engine in ENGINES[r]}}
    calibration_batches = encode(calibration) if calibration else []
    peers = []
    for runtime in runnable:
        try:
            builds = BUILDERS[runtime](onnx_path, threads, encode, calibration_batches)
        except Exception as error:  # a runtime that cannot read the graph: reported, not left out
            failed.update(dict.fromkeys(ENGINES[runtime], f"{type(error).__name__}: {error}"))
            continue
        for name, build in builds.items():
            if (package := ENGINE_PACKAGES.get(name)) and (reason := missing_package(package)):
                failed[name] = reason
                continue
            try:
                peers.append(build())
            except Exception as error:  # cannot quantise or compile this shape: reported, not left out
                failed[name] = f"{type(error).__name__}: {error}"
    return peers, failed
