"""The opt-in int8 CPU path: dynamic int8 matrix products in every linear layer.

Weights are stored as int8 (one scale per output channel); activations are quantised per
call from their observed range, multiplied in int8 (fbgemm) and returned as float32. On CPUs
with VNNI the activations use the full 8 bits: torch's default keeps 7 (``reduce_range``),
which only guards against a saturation of older AVX2 kernels, and costs accuracy (on the real
MiniLM body, embedding cosine to fp32 0.979 with 7 bits, 0.994 with 8). Everything else
(embeddings, norms, attention, rotary, the packed varlen path, first-token last layer, batch
workers) runs as in float32. The activation scale is per call, so an int8 score moves slightly
with the other pairs of its batch.

This uses ``torch.ao.quantization.quantize_dynamic``, which torch marks as deprecated in
favour of torchao but still ships; its warnings are silenced here, in one place.
"""

from __future__ import annotations

import functools
import warnings

import torch
from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

from ..errors import ModelError

INT8_NAMES = frozenset({"int8", "qint8"})


def is_int8(dtype: object) -> bool:
    """Whether a ``dtype`` setting asks for the int8 path."""
    return isinstance(dtype, str) and dtype.lower() in INT8_NAMES


def check_int8_device(device: torch.device) -> None:
    """int8 dynamic quantisation runs on CPU only; elsewhere a clear error names the choice."""
    if device.type != "cpu":
        raise ModelError(
            f"dtype 'int8' runs on CPU only (dynamic int8 matrix products); on {device.type} use "
            "dtype 'bf16' or 'auto', or pass device='cpu'"
        )


@functools.cache
def full_range_activations() -> bool:
    """Whether the CPU has VNNI (int8 products summed in 32 bits), so 8-bit activations cannot saturate."""
    try:
        with open("/proc/cpuinfo") as handle:
            flags = next((line.split(":", 1)[1].split() for line in handle if line.startswith("flags")), [])
    except OSError:
        return False
    return "avx512_vnni" in flags or "avx_vnni" in flags


class Int8Linear(DynamicLinear):
    """torch's dynamic int8 linear, with 8-bit activations where the CPU allows (see module doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ops.quantized.linear_dynamic(
            x, self._packed_params._packed_params, reduce_range=not full_range_activations()
        ).to(x.dtype)


def quantize_int8(model: torch.nn.Module) -> torch.nn.Module:
    """Swap every ``nn.Linear`` of ``model`` for an :class:`Int8Linear`, in place; returns ``model``."""
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated")
        quantize_dynamic(
            model,
            {torch.nn.Linear: per_channel_dynamic_qconfig},
            dtype=torch.qint8,
            mapping={torch.nn.Linear: Int8Linear},
            inplace=True,
        )
    return model


def count_int8_linears(model: torch.nn.Module) -> int:
    """How many linear layers of ``model`` run in int8."""
    return sum(isinstance(module, Int8Linear) for module in model.modules())
