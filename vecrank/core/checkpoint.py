"""Build a model from its checkpoint, and refuse one that would leave weights freshly initialised.

A ``model_type`` that transformers knows is not enough: a JinaBERT config says ``"bert"``, and
a plain BERT built from it would start with random position embeddings and ignore the gated
feed-forward, scoring garbage without a word. Every load therefore compares the model's
weights with the checkpoint's: a weight the checkpoint lacks is a :class:`ModelError` naming
it; a checkpoint weight the model does not use is a warning. A checkpoint that cannot be found
raises ``OSError`` for the caller to explain.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

import torch
from transformers import AutoModelForSequenceClassification, PretrainedConfig
from transformers.utils.hub import cached_file

from ..errors import ModelError
from .jinabert import build as build_jinabert

logger = logging.getLogger(__name__)

WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
# Names listed in full in a weight error; more are counted.
LISTED_WEIGHTS = 12


def check_weights(name: str, fresh: Iterable[str], unused: Iterable[str]) -> None:
    """Weights the checkpoint lacks (freshly initialised) are a ModelError naming them; unused ones warn."""

    def listed(names: list[str]) -> str:
        more = f" and {len(names) - LISTED_WEIGHTS} more" if len(names) > LISTED_WEIGHTS else ""
        return ", ".join(names[:LISTED_WEIGHTS]) + more

    fresh, unused = sorted(fresh), sorted(unused)
    if fresh:
        raise ModelError(
            f"model {name!r}: {len(fresh)} weights are not in the checkpoint and would be random: "
            f"{listed(fresh)}; is it a sequence-classification checkpoint of this architecture?"
        )
    if unused:
        logger.warning("model %r: %d checkpoint weights are not used: %s", name, len(unused), listed(unused))


def read_state_dict(path: str) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` or ``.bin`` checkpoint file (no code runs: weights only)."""
    if path.endswith(".safetensors"):
        from safetensors.torch import load_file

        return load_file(path)
    return torch.load(path, map_location="cpu", weights_only=True)


def load_transformers(
    name: str,
    folder: str,
    dtype: torch.dtype,
    implementation: str,
    trust_remote_code: bool,
    local_only: bool,
) -> torch.nn.Module:
    """A transformers sequence-classification model with every weight from its checkpoint."""
    options = {"dtype": dtype, "trust_remote_code": trust_remote_code, "local_files_only": local_only}
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            folder, attn_implementation=implementation, output_loading_info=True, **options
        )
    except ValueError as error:
        if implementation != "sdpa" or "attention implementation" not in str(error):
            raise ModelError(f"model {name!r}: {error}") from error
        # An architecture without SDPA support (DeBERTa-v2): its own default attention.
        model, info = AutoModelForSequenceClassification.from_pretrained(
            folder, output_loading_info=True, **options
        )
    fresh = {*info["missing_keys"], *(str(key) for key in info["mismatched_keys"])}
    check_weights(name, fresh, info["unexpected_keys"])
    return model


def load_jinabert(
    name: str, folder: str, config: PretrainedConfig, dtype: torch.dtype, local_only: bool
) -> torch.nn.Module:
    """vecrank's JinaBERT with the checkpoint's weights (safetensors, else a weights-only ``.bin``)."""
    path = None
    for filename in WEIGHT_FILES:
        path = cached_file(
            folder, filename, local_files_only=local_only, _raise_exceptions_for_missing_entries=False
        )
        if path:
            break
    if not path:
        raise ModelError(f"model {name!r}: no weights file ({' or '.join(WEIGHT_FILES)}) in {folder}")
    try:
        model, missing, unused = build_jinabert(config, read_state_dict(path))
    except ValueError as error:
        raise ModelError(f"model {name!r} ({path}): {error}") from error
    check_weights(name, missing, unused)
    return model.to(dtype)
