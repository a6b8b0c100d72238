"""The student: loaded as a sentence-transformers CrossEncoder (a bare encoder gets a one-label head),
trained with ``CrossEncoderTrainer`` on the teacher's raw scores, bf16 on a GPU and fp32 on CPU.
"""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Sequence
from pathlib import Path

from ..errors import ConfigError
from ..extras import needs_extra

LOSSES = ("mse", "margin-mse", "listwise")


def check_student(name: str) -> None:
    """A ConfigError for a causal LM (not supported yet) or a model whose config cannot be read offline."""
    with needs_extra("vecrank distill", extra="distill"):
        from transformers import AutoConfig
        from transformers.models.auto.modeling_auto import (
            MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
            MODEL_FOR_MASKED_LM_MAPPING_NAMES,
        )
    try:
        config = AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as error:
        raise ConfigError(
            f"--student {name!r}: expected an encoder folder or a downloaded hub id; found: {error}"
        ) from None
    architectures = config.architectures or []
    causal = any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures) or (
        config.model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and config.model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )
    if causal:
        raise ConfigError(
            f"--student {name!r} is a causal LM ({config.model_type}, "
            f"{', '.join(architectures) or 'no head'}): "
            "expected a cross-encoder or an encoder body (BERT, ModernBERT, XLM-R, DeBERTa-v2); "
            "LLM students are not supported yet"
        )


def load_student(name: str, max_length: int):
    """``name`` as a one-label CrossEncoder (a head is added to a bare encoder)."""
    with needs_extra("vecrank distill", extra="distill"):
        from sentence_transformers.cross_encoder import CrossEncoder
    return CrossEncoder(name, num_labels=1, max_length=max_length)


def training_rows(
    queries: Sequence[str], candidates: Sequence[Sequence[str]], scores: Sequence[Sequence[float]], loss: str
) -> dict[str, list]:
    """The columns ``loss`` reads: (query, document, score) pointwise, triplets of margins, or lists."""
    if loss == "mse":
        rows: dict[str, list] = {"query": [], "document": [], "label": []}
        for query, texts, found in zip(queries, candidates, scores):
            rows["query"] += [query] * len(texts)
            rows["document"] += list(texts)
            rows["label"] += [float(s) for s in found]
        return rows
    if loss == "margin-mse":
        rows = {"query": [], "best": [], "other": [], "label": []}
        for query, texts, found in zip(queries, candidates, scores):
            best = max(range(len(texts)), key=lambda i: found[i])
            for i, text in enumerate(texts):
                if i != best:
                    rows["query"].append(query)
                    rows["best"].append(texts[best])
                    rows["other"].append(text)
                    rows["label"].append(float(found[best]) - float(found[i]))
        return rows
    if loss == "listwise":
        return {
            "query": list(queries),
            "documents": [list(texts) for texts in candidates],
            "label": [[float(s) for s in found] for found in scores],
        }
    raise ConfigError(f"--loss {loss!r}: expected one of {', '.join(LOSSES)}")


def train(
    student,
    rows: dict[str, list],
    loss: str,
    work: Path,
    *,
    epochs: float,
    batch_size: int,
    lr: float,
    seed: int,
    progress: bool = True,
) -> None:
    """Fit ``student`` in place with ``CrossEncoderTrainer``."""
    with needs_extra("vecrank distill", extra="distill"):
        import datasets
        import torch
        from sentence_transformers.cross_encoder import CrossEncoderTrainer, CrossEncoderTrainingArguments
        from sentence_transformers.cross_encoder.losses import ListNetLoss, MarginMSELoss, MSELoss

    gpu = torch.cuda.is_available()
    objective = {"mse": MSELoss, "margin-mse": MarginMSELoss, "listwise": ListNetLoss}[loss](student)
    args = CrossEncoderTrainingArguments(
        output_dir=str(work / "trainer"),
        num_train_epochs=epochs,
        per_device_train_batch_size=max(1, batch_size // 16) if loss == "listwise" else batch_size,
        learning_rate=lr,
        warmup_steps=0.1,
        bf16=gpu,
        use_cpu=not gpu,
        seed=seed,
        save_strategy="no",
        report_to="none",
        logging_strategy="no",
        disable_tqdm=not progress,
    )
    dataset = datasets.Dataset.from_dict(rows)
    with contextlib.redirect_stdout(sys.stderr):  # the trainer's own prints: stdout keeps the report alone
        CrossEncoderTrainer(model=student, args=args, train_dataset=dataset, loss=objective).train()
