"""The classification head in float32 on a half-precision model.

A bf16 head rounds its logits to bf16's 8 significant bits (steps of 0.0625 above 8), so close
scores tie and rankings break. The head is a few small matrices: run in float32, from the
encoder's half-precision output, it costs nothing measurable.
"""

from __future__ import annotations

import torch
from transformers import PreTrainedModel


def head_modules(model: PreTrainedModel) -> list[torch.nn.Module]:
    """The modules between the encoder's hidden states and the logits: the task head and the pooler."""
    base = model.base_model
    modules = [module for module in model.children() if module is not base]
    pooler = getattr(base, "pooler", None)
    if pooler is not None:
        modules.append(pooler)
    return [module for module in modules if next(module.parameters(), None) is not None]


def float32_head(model: PreTrainedModel) -> None:
    """Cast a sequence classifier's head to float32, and its inputs on the way in.

    A float32 model, and any model but a ``...ForSequenceClassification`` (whose head could be
    a whole vocabulary), are left as they are.
    """
    half = model.get_input_embeddings().weight.dtype != torch.float32
    if not half or not type(model).__name__.endswith("ForSequenceClassification"):
        return
    for module in head_modules(model):
        module.float()
        module.register_forward_pre_hook(_float32_inputs)


def _float32_inputs(module: torch.nn.Module, args: tuple) -> tuple:
    return tuple(arg.float() if torch.is_tensor(arg) and arg.is_floating_point() else arg for arg in args)
