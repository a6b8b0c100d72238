"""The opt-in int8 CPU path: dynamic int8 matrix products in every linear layer.

Weights are stored as int8 (one scale per output channel); activations are quantised per
call on one grid, multiplied in int8 (fbgemm) and returned as float32. The grid spans the
range of the call's typical tokens: the tokens whose range is over ``OUTLIER_SPAN`` times
the median token's (separators often are) are multiplied again, together, on a grid that
spans them alone, so that a few such tokens do not coarsen the grid of all the others (on
the fine-tuned MiniLM cross-encoder of ``vecrank bench --int8``, Kendall tau against fp32
0.874 -> 0.926, about 2% of rows redone). On CPUs with VNNI the activations use the full 8
bits: torch's default keeps 7 (``reduce_range``), which only guards against a saturation of
older AVX2 kernels, and costs accuracy (on the real MiniLM body, embedding cosine to fp32
0.979 with 7 bits, 0.994 with 8). Everything else (embeddings, norms, attention, rotary, the
packed varlen path, first-token last layer, batch workers) runs as in float32. The grid is
per call, so an int8 score moves slightly with the other pairs of its batch.

``dtype="int8-per-token"`` gives every token its own 8-bit range instead: each row is shifted
and scaled into [-1, 1] (one pass), quantised on that fixed grid inside fbgemm's product (no
second scan for a range), and the shift and scale are put back on the output in place
(``y = half * (W q(x')) + mid * (W 1) + b``). One token with large activations no longer
coarsens the grid of all the others, so scores stay closer to float32, and a pair's score no
longer depends on its batch; the passes over each linear's input and output cost part of
the speed-up.

The weights are packed by torch's ``x86`` engine (its default on x86: fbgemm's packed weights),
whatever ``torch.backends.quantized.engine`` says: both grids rest on fbgemm's product on a
fixed activation grid, which oneDNN's packed weights do not implement.
oneDNN's own dynamic linear (faster on AMX: about 910 int8 GOPS against fbgemm's 400 on one
core) takes one activation range per call, outlier tokens included, whose ranking the guard
measured at Kendall tau 0.865 against fp32; on AMX CPUs the bf16 tier is faster still and
agrees with fp32 (see cpu.py), so the int8 tiers keep the kernel whose grids keep the order.

This uses ``torch.ao.quantization.quantize_dynamic``, which torch marks as deprecated in
favour of torchao but still ships; its warnings are silenced here, in one place.

Linears that read one row per pair stay float32: the pooler and classification head, and in
a first-token last layer (see first_token.py) all but the key and value projections. int8
would save next to nothing there (one row per pair against a few hundred per layer) and
would add its error straight to the score.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Iterator

import torch
from torch.ao.nn.quantized.dynamic import Linear as DynamicLinear

from ..errors import ModelError
from . import cpu
from .first_token import encoder_layers, first_token_linears
from .varlen import FIRST_TOKEN_ONLY

INT8_NAMES = frozenset({"int8", "qint8"})
# The quantized engine that packs the int8 weights (see the module doc).
INT8_ENGINE = "x86"
PER_TOKEN_NAME = "int8-per-token"


def int8_mode(dtype: object) -> str | None:
    """The int8 path a ``dtype`` setting asks for: ``"int8"``, ``"int8-per-token"``, or None."""
    if not isinstance(dtype, str):
        return None
    name = dtype.lower()
    return "int8" if name in INT8_NAMES else PER_TOKEN_NAME if name == PER_TOKEN_NAME else None


def is_int8(dtype: object) -> bool:
    """Whether a ``dtype`` setting asks for an int8 path (a range per call or per token)."""
    return int8_mode(dtype) is not None


def check_int8_device(device: torch.device) -> None:
    """int8 dynamic quantisation runs on CPU only; elsewhere a clear error names the choice."""
    if device.type != "cpu":
        raise ModelError(
            f"dtype 'int8' (and '{PER_TOKEN_NAME}') runs on CPU only (dynamic int8 matrix products); "
            f"on {device.type} use dtype 'bf16' or 'auto', or pass device='cpu'"
        )


def full_range_activations() -> bool:
    """Whether the CPU has VNNI (int8 products summed in 32 bits), so 8-bit activations cannot saturate."""
    return cpu.detect().vnni


@contextlib.contextmanager
def quantized_engine(name: str) -> Iterator[None]:
    """Run the block with ``torch.backends.quantized.engine`` set to ``name``, then restore it."""
    previous = torch.backends.quantized.engine
    torch.backends.quantized.engine = name
    try:
        yield
    finally:
        torch.backends.quantized.engine = previous


def activation_levels() -> int:
    """Steps on each side of zero for 8-bit activations: 127, or 63 (7 bits) where VNNI is missing."""
    return 127 if full_range_activations() else 63


# Tokens whose range is over this many times the median token's share a grid of their own.
OUTLIER_SPAN = 2.0


def fixed_grid_product(rows: torch.Tensor, packed: object, scale: float, zero_point: int) -> torch.Tensor:
    """fbgemm's int8 product of ``rows`` quantised on the given grid (values beyond it saturate)."""
    return torch.ops.quantized.linear_with_input_q_dq_qweight_dq_output_fp32(rows, scale, zero_point, packed)


def _spanning_grid(low: torch.Tensor, high: torch.Tensor) -> tuple[float, int]:
    """Scale and zero point of the 8-bit (7 without VNNI) grid over ``low.min()``, ``high.max()`` and 0."""
    least, greatest = min(low.min().item(), 0.0), max(high.max().item(), 0.0)
    scale = max((greatest - least) / (2 * activation_levels() + 1), torch.finfo(torch.float32).tiny)
    return scale, round(-least / scale)


class Int8Linear(DynamicLinear):
    """torch's dynamic int8 linear, on a grid that outlier tokens do not stretch (see module doc)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        rows = x.reshape(-1, x.shape[-1])
        if not len(rows):
            return torch.zeros(*x.shape[:-1], self.out_features, dtype=x.dtype)
        low, high = rows.amin(-1), rows.amax(-1)
        span = high - low
        outlier = span > OUTLIER_SPAN * span.median()
        typical = ~outlier
        packed = self._packed_params._packed_params
        out = fixed_grid_product(rows, packed, *_spanning_grid(low[typical], high[typical]))
        if outlier.any():  # their rows saturated above; redo them on their own grid
            index = outlier.nonzero().squeeze(1)
            redone = fixed_grid_product(
                rows.index_select(0, index), packed, *_spanning_grid(low[index], high[index])
            )
            out.index_copy_(0, index, redone)
        return out.view(*x.shape[:-1], out.shape[-1])


class PerTokenInt8Linear(Int8Linear):
    """An :class:`Int8Linear` whose activations get one 8-bit range per token (see module doc)."""

    @classmethod
    def from_float(cls, mod: torch.nn.Linear, use_precomputed_fake_quant: bool = False) -> PerTokenInt8Linear:
        linear = super().from_float(mod, use_precomputed_fake_quant)
        weight, bias = linear.weight(), linear.bias()
        linear._packed_params.set_weight_bias(weight, None)  # the bias is added after the rescale
        linear.register_buffer("weight_sums", weight.dequantize().sum(1))
        linear.register_buffer("float_bias", torch.zeros_like(linear.weight_sums) if bias is None else bias)
        return linear

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        low, high = x.amin(-1, keepdim=True), x.amax(-1, keepdim=True)
        half = ((high - low) * 0.5).clamp_(min=torch.finfo(x.dtype).tiny)
        mid, inverse = low + half, half.reciprocal()
        # Every row now lies in [-1, 1] and is quantised on one fixed grid, so a row's result
        # does not depend on the other rows of its batch. (A constant row, of range 0, may
        # become +-inf and saturate; its output is then mid * (W 1) + b, exact.)
        levels = activation_levels()
        product = fixed_grid_product(
            torch.addcmul(-mid * inverse, x, inverse),
            self._packed_params._packed_params,
            1 / levels,
            levels + 1,
        )
        return product.mul_(half).addcmul_(mid, self.weight_sums).add_(self.float_bias)


def per_pair_linears(model: torch.nn.Module) -> set[str]:
    """Names of the linear layers of ``model`` that read one row per pair, not one per token.

    Those outside the encoder layers (pooler, head), and those of a first-token last layer
    that see first tokens only. Empty for architectures whose layers are not known here.
    """
    names = first_token_linears(model) if hasattr(model, "config") else None
    if names is None:
        return set()
    layers = encoder_layers(model)
    token_rows = {id(module) for module in layers.modules() if isinstance(module, torch.nn.Linear)}
    if getattr(model, FIRST_TOKEN_ONLY, False):
        token_rows -= {id(layers[-1].get_submodule(name)) for name in names}
    return {
        name
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and id(module) not in token_rows
    }


def quantize_int8(model: torch.nn.Module, mode: str = "int8") -> torch.nn.Module:
    """Swap the ``nn.Linear`` layers of ``model`` that read every token for int8 ones, in place.

    :class:`Int8Linear` (one grid per call, outlier tokens on their own) for ``mode="int8"``, or
    :class:`PerTokenInt8Linear` for ``"int8-per-token"``; those of :func:`per_pair_linears`
    stay float32. Returns ``model``.
    """
    from torch.ao.quantization import per_channel_dynamic_qconfig, quantize_dynamic

    float_names = per_pair_linears(model)
    every_token = {
        name: per_channel_dynamic_qconfig
        for name, module in model.named_modules()
        if isinstance(module, torch.nn.Linear) and name not in float_names
    }

    with warnings.catch_warnings(), quantized_engine(INT8_ENGINE):
        warnings.filterwarnings("ignore", category=DeprecationWarning, module=r"torch\.ao")
        warnings.filterwarnings("ignore", message=r".*torch\.ao\.quantization is deprecated")
        warnings.filterwarnings("ignore", message=r".*quantize_per_(tensor|channel).*deprecated")
        quantize_dynamic(
            model,
            every_token,
            dtype=torch.qint8,
            mapping={torch.nn.Linear: PerTokenInt8Linear if mode == PER_TOKEN_NAME else Int8Linear},
            inplace=True,
        )
    return model


def count_int8_linears(model: torch.nn.Module) -> int:
    """How many linear layers of ``model`` run in int8 (per call or per token)."""
    return sum(isinstance(module, Int8Linear) for module in model.modules())
