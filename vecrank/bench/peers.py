"""Peer CPU runtimes for ``vecrank bench --peers onnxruntime,openvino``, each built at its best.

Every peer runs the model that vecrank runs, exported once with ``torch.onnx.export``
(dynamic batch and sequence axes), on length-sorted batches of ``batch_size`` pairs padded
to their longest, with as many threads as the machine has cores:

- ``onnxruntime-fp32``: full graph optimisation (``ORT_ENABLE_ALL``);
- ``onnxruntime-int8``: ``onnxruntime.quantization.quantize_dynamic`` (int8 weights, dynamic
  int8 activations: what flashrank and fastembed ship), then the same session options;
- ``openvino-f32`` and ``openvino-bf16``: the exported graph compiled for ``CPU`` with
  ``INFERENCE_PRECISION_HINT`` set explicitly (OpenVINO picks bf16 by itself on AMX CPUs).

A peer whose runtime is not installed, or that cannot export or compile a shape, is
reported with the reason instead of a rate.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..pairs import Pair

RUNTIMES = {"onnxruntime": "onnxruntime", "openvino": "openvino"}  # peer -> the package it needs
PEER_PRECISIONS = {  # engine -> precision class it competes in
    "onnxruntime-fp32": "exact",
    "onnxruntime-int8": "int8",
    "openvino-f32": "exact",
    "openvino-bf16": "bf16",
}
BATCH_SIZE = 32
OPSET = 17


@dataclass
class Peer:
    """One peer engine: how it was built, the graph it runs, its ``predict`` (scores in input order)."""

    name: str
    built: str
    graph: Path
    predict: Callable[[Sequence[Pair]], np.ndarray]


def parse_peers(text: str) -> list[str]:
    """``"onnxruntime,openvino"`` -> the runtimes named; ValueError names one that is not known."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    unknown = [name for name in names if name not in RUNTIMES]
    if unknown or not names:
        raise ValueError(f"--peers takes {', '.join(RUNTIMES)} (comma-separated); not {text!r}")
    return names


def missing_runtime(runtime: str) -> str | None:
    """Why ``runtime`` cannot run here (its package is not installed), or None."""
    package = RUNTIMES[runtime]
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


def sorted_batches(tokenizer, pairs: Sequence[Pair], max_length: int, names: Sequence[str]):
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


def batched_predict(tokenizer, max_length: int, names: Sequence[str], run: Callable[[dict], np.ndarray]):
    """A ``predict`` over pairs that runs ``run`` (inputs -> logits) on length-sorted batches."""

    def predict(pairs: Sequence[Pair]) -> np.ndarray:
        scores = np.empty(len(pairs), dtype=np.float32)
        for indices, inputs in sorted_batches(tokenizer, pairs, max_length, names):
            scores[indices] = np.asarray(run(inputs))[:, 0]
        return scores

    return predict


def onnxruntime_peers(onnx_path: Path, threads: int, predict_with) -> list[Peer]:
    """ONNX Runtime fp32 and dynamic int8, full graph optimisation, ``threads`` intra-op threads."""
    import onnxruntime
    from onnxruntime.quantization import QuantType, quantize_dynamic

    options = onnxruntime.SessionOptions()
    options.graph_optimization_level = onnxruntime.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.intra_op_num_threads = threads
    int8_path = onnx_path.with_name("model-int8.onnx")
    quantize_dynamic(str(onnx_path), str(int8_path), weight_type=QuantType.QInt8)
    peers = []
    for name, path, how in (
        ("onnxruntime-fp32", onnx_path, "fp32"),
        ("onnxruntime-int8", int8_path, "quantize_dynamic(weight_type=QInt8)"),
    ):
        session = onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        built = f"onnxruntime {onnxruntime.__version__}, {how}, ORT_ENABLE_ALL, {threads} threads"
        run = predict_with(lambda inputs, s=session: s.run(["logits"], inputs)[0])
        peers.append(Peer(name, built, path, run))
    return peers


def openvino_peers(onnx_path: Path, threads: int, predict_with) -> list[Peer]:
    """OpenVINO on CPU with ``INFERENCE_PRECISION_HINT`` f32 and bf16, ``threads`` inference threads."""
    import openvino

    core = openvino.Core()
    model = core.read_model(str(onnx_path))
    peers = []
    for precision in ("f32", "bf16"):
        config = {"INFERENCE_PRECISION_HINT": precision, "INFERENCE_NUM_THREADS": threads}
        compiled = core.compile_model(model, "CPU", config)
        runs_in = compiled.get_property("INFERENCE_PRECISION_HINT")  # f32 where the CPU lacks bf16
        built = (
            f"openvino {openvino.__version__}, INFERENCE_PRECISION_HINT={precision} (runs in {runs_in}), "
            f"{threads} threads"
        )
        peers.append(
            Peer(
                f"openvino-{precision}",
                built,
                onnx_path,
                predict_with(lambda inputs, c=compiled: c(inputs)[0]),
            )
        )
    return peers


BUILDERS = {"onnxruntime": onnxruntime_peers, "openvino": openvino_peers}


def build_peers(
    runtimes: Sequence[str], folder: Path, work: Path, max_length: int, threads: int | None = None
) -> tuple[list[Peer], dict[str, str]]:
    """The peers of ``runtimes`` on the model of ``folder``, and the reason for each that could not run."""
    from transformers import AutoTokenizer

    threads = threads or os.cpu_count() or 1
    failed: dict[str, str] = {}
    runnable = []
    for runtime in runtimes:
        if reason := missing_runtime(runtime):
            failed[runtime] = reason
        else:
            runnable.append(runtime)
    if not runnable:
        return [], failed
    names = input_names(folder)
    tokenizer = AutoTokenizer.from_pretrained(folder)
    work.mkdir(parents=True, exist_ok=True)
    try:
        onnx_path = export_onnx(folder, work / "model.onnx")
    except Exception as error:  # any exporter failure is the peer's result, reported
        return [], {
            **failed,
            **{r: f"torch.onnx.export failed: {type(error).__name__}: {error}" for r in runnable},
        }
    peers = []
    for runtime in runnable:
        try:
            peers += BUILDERS[runtime](
                onnx_path, threads, lambda run: batched_predict(tokenizer, max_length, names, run)
            )
        except Exception as error:  # a runtime that cannot compile the graph: reported, not left out
            failed[runtime] = f"{type(error).__name__}: {error}"
    return peers, failed
