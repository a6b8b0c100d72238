"""Load a cross-encoder's tokenizer and classification model, with errors that say why not."""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from transformers import AutoConfig, AutoTokenizer

from ..errors import ModelError
from ..models import ModelSource, resolve_model
from . import cpu
from .alibi import alibi_kernel
from .causal_lm import choose_template, is_causal_lm, load_yes_no
from .checkpoint import load_jinabert, load_transformers
from .decoder import causal_kernel
from .first_token import first_token_only
from .hub import how_to_get, hub_access, hub_reachable
from .jinabert import is_jinabert, unsupported_setting
from .modernbert import pack_layers
from .prompts import PromptTemplate
from .quantize import PER_TOKEN_NAME, check_int8_device, int8_mode, is_int8, quantize_int8
from .varlen import ATTENTION_NAME, PACKABLE_MODEL_TYPES, packs_by_default, varlen_kernel

logger = logging.getLogger(__name__)

DTYPES = {
    "float32": torch.float32,
    "fp32": torch.float32,
    "bfloat16": torch.bfloat16,
    "bf16": torch.bfloat16,
    "float16": torch.float16,
    "fp16": torch.float16,
}


@dataclass
class LoadedModel:
    """A model ready for inference, with what was chosen for it."""

    source: ModelSource
    model: torch.nn.Module
    tokenizer: object
    device: torch.device
    dtype: torch.dtype
    attention: str  # "varlen:<kernel>" or the transformers implementation used padded
    max_length: int
    quantization: str | None = None  # "int8" or "int8-per-token": dynamic int8 linear layers (CPU)
    template: PromptTemplate | None = None  # a yes/no reranker's prompt template (causal LMs)
    answer_rows: torch.Tensor | None = None  # its (yes, no) rows of the LM head, (2, hidden)

    @property
    def dtype_name(self) -> str:
        """``int8`` or ``int8-per-token`` on an int8 path, else the float dtype (``float32``, ...)."""
        return self.quantization or str(self.dtype).removeprefix("torch.")


def pick_device(device: str | None) -> torch.device:
    """``auto`` (or None) picks cuda, then mps, then cpu; a named device must be there."""
    if device in (None, "auto"):
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    try:
        chosen = torch.device(device)
    except RuntimeError as error:
        raise ModelError(f"unknown device {device!r}: use auto, cpu, cuda, cuda:N or mps") from error
    if chosen.type == "cuda" and not torch.cuda.is_available():
        raise ModelError(f"device {device!r}: no CUDA GPU is visible to this torch ({torch.__version__})")
    if chosen.type == "mps" and not _mps_available():
        raise ModelError(f"device {device!r}: MPS is not available on this machine")
    return chosen


def _mps_available() -> bool:
    return bool(getattr(torch.backends, "mps", None) and torch.backends.mps.is_available())


def resolve_dtype(
    dtype: str | torch.dtype | None, precision: str | None, device: torch.device
) -> str | torch.dtype | None:
    """The dtype setting to load with: an explicit ``dtype`` wins; ``auto`` on CPU follows ``precision``.

    ``precision="exact"`` (the default) is fp32 on CPU; ``"fast"`` is the fastest tier of this
    CPU whose ranking agrees with fp32 (see cpu.py). On other devices ``auto`` stays as it is.
    """
    try:
        cpu_dtype = cpu.precision_dtype(precision or "exact", cpu.detect())
    except ValueError as error:
        raise ModelError(str(error)) from error
    if dtype in (None, "auto") and device.type == "cpu":
        return cpu_dtype
    return dtype


def pick_dtype(dtype: str | torch.dtype | None, device: torch.device) -> torch.dtype:
    """``auto`` is bf16 on CUDA and fp32 elsewhere; ``int8`` is fp32 around int8 linear layers (CPU only).

    bf16 on a CPU without native bf16 loads, with a warning that says why it is slow there.
    """
    if isinstance(dtype, torch.dtype):
        chosen = dtype
    elif dtype in (None, "auto"):
        return torch.bfloat16 if device.type == "cuda" else torch.float32
    elif is_int8(dtype):
        check_int8_device(device)
        return torch.float32
    elif dtype not in DTYPES:
        raise ModelError(
            f"unknown dtype {dtype!r}; use one of: auto, {', '.join(DTYPES)}, int8, {PER_TOKEN_NAME}"
        )
    else:
        chosen = DTYPES[dtype]
    if chosen == torch.bfloat16 and device.type == "cpu" and (reason := cpu.bf16_warning(cpu.detect())):
        warnings.warn(reason, RuntimeWarning, stacklevel=3)
    return chosen


def model_folder(source: ModelSource) -> str:
    """The folder or hub id that holds the transformer, following a sentence-transformers modules.json."""
    if not source.is_local:
        return source.source
    modules_file = Path(source.source) / "modules.json"
    if modules_file.is_file():
        for module in json.loads(modules_file.read_text()):
            if module.get("type", "").endswith("Transformer") and module.get("path"):
                return str(Path(source.source) / module["path"])
    return source.source


def _hub_unreachable(error: BaseException) -> bool:
    text = f"{type(error).__name__}: {error}".lower()
    markers = ("offline", "connection", "resolve", "couldn't connect", "network", "timed out")
    return not hub_reachable() or any(m in text for m in markers)


def _not_found(source: ModelSource, error: BaseException) -> ModelError:
    tried = [source.source]
    if source.alias:
        tried.insert(0, f"alias {source.alias!r} -> hub id {source.source!r}")
    message = f"reranker model {source.name!r} could not be loaded; tried: {'; '.join(tried)}"
    if not source.is_local:
        message += f"; no local folder named {source.name!r} exists"
        if _hub_unreachable(error):
            message += f"; {how_to_get(source)}"
    return ModelError(f"{message} ({type(error).__name__}: {error})")


def load_model(
    name: str,
    *,
    device: str | None = None,
    dtype: str | torch.dtype | None = None,
    max_length: int | None = None,
    attention: str = "auto",
    trust_remote_code: bool = False,
    precision: str | None = None,
    prompt_template: str | PromptTemplate | None = None,
) -> LoadedModel:
    """Load tokenizer and model for ``name`` (alias, folder or hub id) on the chosen device.

    ``attention``: ``auto`` packs sequences with varlen attention where the architecture
    allows, on CPU and on CUDA with a varlen kernel that takes the dtype (fp16, bf16; padded
    SDPA elsewhere); ``varlen`` forces packing (any device and dtype: the SDPA loop where no
    kernel takes it); ``sdpa``/``eager`` run padded. JinaBERT runs in vecrank's own module
    (:mod:`.jinabert`); ``trust_remote_code`` runs a checkpoint's hub code instead where that
    module does not implement its config. ``precision`` (``exact`` or ``fast``) chooses the CPU
    tier where ``dtype`` is ``auto`` (see :func:`resolve_dtype`).
    A causal language model is loaded as a yes/no reranker, prompted by ``prompt_template`` or
    its family's template.
    """
    source = resolve_model(name)
    folder = model_folder(source)
    torch_device = pick_device(device)
    dtype = resolve_dtype(dtype, precision, torch_device)
    torch_dtype = pick_dtype(dtype, torch_device)
    local_only = hub_access(source)
    logger.info("loading %s on %s", source.source, torch_device)  # "loaded" follows: the wait between
    config, tokenizer = _config_and_tokenizer(source, folder, trust_remote_code, local_only)
    if is_causal_lm(config):
        return _load_yes_no(
            source,
            folder,
            config,
            tokenizer,
            torch_device,
            torch_dtype,
            dtype,
            max_length,
            local_only,
            trust_remote_code,
            prompt_template,
        )
    if prompt_template is not None:
        raise ModelError(
            f"model {name!r} is a {config.model_type} cross-encoder, not a causal language model: "
            f"prompt_template {prompt_template!r} does not apply to it"
        )
    native = _runs_natively(name, config, trust_remote_code)
    use_varlen = _packs(attention, config, native, torch_device, torch_dtype)
    implementation = ATTENTION_NAME if use_varlen else ("sdpa" if attention == "auto" else attention)
    try:
        if native:
            model = load_jinabert(source.name, folder, config, torch_dtype, local_only)
        else:
            model = load_transformers(
                source.name, folder, torch_dtype, implementation, trust_remote_code, local_only
            )
    except OSError as error:
        raise _not_found(source, error) from error
    model.to(torch_device).eval()
    quantization = _prepare(model, dtype, use_varlen)
    label = _attention_label(model, native, use_varlen, torch_device, torch_dtype)
    logger.info(
        "loaded %s on %s (%s, attention %s)", source.source, torch_device, quantization or torch_dtype, label
    )
    return LoadedModel(
        source=source,
        model=model,
        tokenizer=tokenizer,
        device=torch_device,
        dtype=torch_dtype,
        attention=label,
        max_length=_max_length(max_length, tokenizer, config),
        quantization=quantization,
    )


def _config_and_tokenizer(source: ModelSource, folder: str, trust_remote_code: bool, local_only: bool):
    """The checkpoint's config and tokenizer; a missing model is a ModelError saying what was tried."""
    try:
        config = AutoConfig.from_pretrained(
            folder, trust_remote_code=trust_remote_code, local_files_only=local_only
        )
        tokenizer = AutoTokenizer.from_pretrained(
            folder, trust_remote_code=trust_remote_code, local_files_only=local_only
        )
    except (OSError, ValueError) as error:
        raise _not_found(source, error) from error
    return config, tokenizer


def _runs_natively(name: str, config, trust_remote_code: bool) -> bool:
    """Whether vecrank's JinaBERT runs this model; a JinaBERT variant it does not implement needs hub code."""
    if not is_jinabert(config):
        return False
    unsupported = unsupported_setting(config)
    if unsupported is None:
        return True
    if trust_remote_code:
        return False
    raise ModelError(
        f"model {name!r}: JinaBERT config field {unsupported} is not implemented by vecrank's JinaBERT; "
        "pass trust_remote_code=True to run the model's own code from the hub instead"
    )


def _packs(attention: str, config, native: bool, device: torch.device, dtype: torch.dtype) -> bool:
    """Whether to run packed (varlen) batches; ``attention="varlen"`` where that cannot be is an error."""
    packable = native or (config.model_type in PACKABLE_MODEL_TYPES and not is_jinabert(config))
    if attention == "varlen" and not packable:
        supported = ", ".join(sorted({*PACKABLE_MODEL_TYPES, "JinaBERT"}))
        raise ModelError(
            f"attention='varlen' does not support model type {config.model_type!r}; supported: {supported}"
        )
    if attention != "auto":
        return attention == "varlen"
    if native:
        return device.type == "cpu" or alibi_kernel(device, dtype) == "flash-attn"
    return packable and packs_by_default(device, dtype)


def _prepare(model: torch.nn.Module, dtype: str | torch.dtype | None, use_varlen: bool) -> str | None:
    """Packed-path rewrites (ModernBERT rotary rows, first-token last layer), then int8; returns its mode."""
    if use_varlen:
        if model.config.model_type == "modernbert":
            pack_layers(model)  # reorders float weights: before quantising
        first_token_only(model)
    quantization = int8_mode(dtype)
    if quantization:
        quantize_int8(model, quantization)
    return quantization


def _attention_label(
    model: torch.nn.Module, native: bool, use_varlen: bool, device: torch.device, dtype: torch.dtype
) -> str:
    """``varlen:<kernel>`` when packed, else the padded attention implementation."""
    if use_varlen:
        return f"varlen:{alibi_kernel(device, dtype) if native else varlen_kernel(device, dtype)}"
    return "sdpa" if native else model.config._attn_implementation


def _load_yes_no(
    source: ModelSource,
    folder: str,
    config,
    tokenizer,
    device: torch.device,
    torch_dtype: torch.dtype,
    dtype: str | torch.dtype | None,
    max_length: int | None,
    local_only: bool,
    trust_remote_code: bool,
    prompt_template: str | PromptTemplate | None,
) -> LoadedModel:
    """A causal language model as a yes/no reranker (see causal_lm.py)."""
    template = choose_template(source.source, config, prompt_template)
    try:
        loaded = load_yes_no(
            folder,
            template,
            tokenizer,
            dtype=torch_dtype,
            device=device,
            local_only=local_only,
            trust_remote_code=trust_remote_code,
        )
    except OSError as error:
        raise _not_found(source, error) from error
    quantization = int8_mode(dtype)
    if quantization:
        quantize_int8(loaded.decoder, quantization)
    requested = max_length if max_length is not None else template.default_max_length(tokenizer)
    limit = _max_length(requested, tokenizer, config)
    overhead = template.overhead(tokenizer)
    if limit <= overhead:
        raise ModelError(
            f"model {source.name!r}: max_length {limit} leaves no room for the query and document "
            f"(template {template.name!r} takes {overhead} tokens)"
        )
    label = f"causal:{causal_kernel(device)}"
    logger.info(
        "loaded %s on %s (%s, yes/no reranker, template %s)",
        source.source,
        device,
        quantization or torch_dtype,
        template.name,
    )
    return LoadedModel(
        source=source,
        model=loaded.decoder,
        tokenizer=tokenizer,
        device=device,
        dtype=torch_dtype,
        attention=label,
        max_length=limit,
        quantization=quantization,
        template=template,
        answer_rows=loaded.answer_rows,
    )


def _max_length(requested: int | None, tokenizer, config) -> int:
    """The caller's max_length, else the tokenizer's, capped by the position table."""
    limit = getattr(config, "max_position_embeddings", None) or 512
    if config.model_type in ("xlm-roberta", "roberta"):
        limit -= config.pad_token_id + 1
    if requested is not None:
        if requested <= 0:
            raise ModelError(f"max_length must be positive, got {requested}")
        return min(requested, limit)
    model_max = getattr(tokenizer, "model_max_length", None)
    if isinstance(model_max, int) and 0 < model_max < 1_000_000:
        return min(model_max, limit)
    return limit
