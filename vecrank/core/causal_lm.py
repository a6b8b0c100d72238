"""Load a causal language model as a yes/no reranker: its decoder, and the two answer rows of its LM head.

A checkpoint whose ``config.json`` names a ``*ForCausalLM`` architecture is prompted by a template
(:mod:`.prompts`): the one named, or the one its family's plugin recognises by name. Only the
decoder and the (yes, no) rows of the LM head are kept: the vocabulary-wide head is never run.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from transformers import AutoModelForCausalLM, PretrainedConfig

from ..errors import ModelError
from .decoder import DECODER_MODEL_TYPES
from .prompts import TEMPLATES, PromptTemplate, answer_token_ids


@dataclass
class YesNoModel:
    """A decoder, the template that prompts it, and the (2, hidden) rows of its yes and no tokens."""

    decoder: torch.nn.Module
    template: PromptTemplate
    answer_rows: torch.Tensor


def is_causal_lm(config: PretrainedConfig) -> bool:
    """Whether a checkpoint's config names a causal language model (``*ForCausalLM``)."""
    return any(name.endswith("ForCausalLM") for name in (getattr(config, "architectures", None) or ()))


def choose_template(
    name: str, config: PretrainedConfig, named: str | PromptTemplate | None
) -> PromptTemplate:
    """The template of a causal-LM checkpoint, or a ModelError that says why there is none."""
    architecture = config.architectures[0]
    template = TEMPLATES.for_checkpoint(name, config.model_type, architecture, named)
    if config.model_type not in DECODER_MODEL_TYPES:
        raise ModelError(
            f"model {name!r}: prompt template {template.name!r} is registered, but the engine does not run "
            f"{architecture} layers (it runs: {', '.join(sorted(DECODER_MODEL_TYPES))})"
        )
    if getattr(config, "use_sliding_window", False):
        raise ModelError(f"model {name!r}: sliding-window attention is not supported for yes/no rerankers")
    return template


def load_yes_no(
    folder: str,
    template: PromptTemplate,
    tokenizer,
    *,
    dtype: torch.dtype,
    device: torch.device,
    local_only: bool,
    trust_remote_code: bool,
) -> YesNoModel:
    """The decoder of ``folder`` on ``device`` and the answer rows of ``template``'s tokens."""
    answers = answer_token_ids(template, tokenizer, folder)
    model, info = AutoModelForCausalLM.from_pretrained(
        folder,
        dtype=dtype,
        trust_remote_code=trust_remote_code,
        local_files_only=local_only,
        output_loading_info=True,
    )
    if info.get("missing_keys"):
        missing = sorted(info["missing_keys"])
        raise ModelError(f"model {folder!r}: weights missing from the checkpoint: {', '.join(missing[:5])}")
    head = model.get_output_embeddings()
    if getattr(head, "bias", None) is not None:
        raise ModelError(f"model {folder!r}: an LM head with a bias is not supported for yes/no rerankers")
    rows = head.weight.detach()[list(answers)].clone().to(device)
    decoder = model.base_model.to(device).eval()
    return YesNoModel(decoder=decoder, template=template, answer_rows=rows)
