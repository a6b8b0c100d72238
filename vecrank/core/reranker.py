"""The cross-encoder reranker: ``predict`` scores pairs, ``rank`` orders documents for a query."""

from __future__ import annotations

import asyncio
import gc
import logging
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial

import numpy as np
import torch
from tqdm.auto import tqdm

from ..pairs import Pair, distinct
from .batching import EncodedPairs, encode_pairs, pack_batch, pack_batches, pad_batch
from .head import float32_head
from .loading import LoadedModel, load_model
from .prompts import PromptTemplate
from .tokenizer_pool import TokenizerPool
from .transfer import HostCopy
from .varlen import packed_logits, position_offset
from .workers import BatchWorkers
from .yes_no import PromptedPairs, YesNoRunner, check_instruction

logger = logging.getLogger(__name__)

# Pairs tokenised per chunk; on CUDA the next chunk is tokenised while this one runs.
TOKENIZE_CHUNK = 2048
# Default token budgets per batch (padded tokens, or packed tokens when varlen).
GPU_BATCH_TOKENS = 16384
CPU_BATCH_TOKENS = 4096
# Padded batches hold L x L attention scores: past this length the budget shrinks with L.
PADDED_ATTENTION_SPAN = 512
# How the allocators word an allocation that failed, where it is not a torch.OutOfMemoryError:
# cuBLAS and other CUDA libraries allocating outside torch's caching allocator, and the CPU.
OUT_OF_MEMORY_MESSAGES = (
    "CUDA error: out of memory",
    "CUBLAS_STATUS_ALLOC_FAILED",
    "DefaultCPUAllocator: can't allocate",
)


class CrossEncoderReranker:
    """A cross-encoder that scores (query, document) pairs with raw logits.

    ``name`` is an alias (``ettin-17m``, ``minilm-l6``, ...), a local folder (a
    sentence-transformers CrossEncoder folder or a plain sequence-classification
    folder) or a hub id. Scores come back in input order.

    ``dtype="int8"`` (CPU only) runs every linear layer with dynamic int8 matrix products;
    ``dtype="int8-per-token"`` gives each token's activations their own range (closer to
    float32, slower). ``dtype="bfloat16"`` runs every layer in bf16 (fast on CPUs with AMX or
    AVX-512 BF16; elsewhere it warns). With no ``dtype``, ``precision="fast"`` picks the fastest
    CPU tier whose ranking agrees with fp32, ``"exact"`` (the default) fp32 (see core/cpu.py).
    ``batch_tokens`` caps each batch (default 16384 tokens on CUDA, 4096 on CPU). On CPU,
    ``cpu_workers`` batches (default: torch's thread count) run side by side, one intra-op
    thread each.

    A causal language model (Qwen3-Reranker, mxbai-rerank-v2) is a yes/no reranker: its score is
    ``logit(yes) - logit(no)`` under its family's prompt template (``prompt_template`` names one
    explicitly), with ``instruction`` as the task (per call too: ``predict(..., instruction=)``) and,
    with ``prefix_reuse``, each query's prompt computed once for all of its documents.
    """

    def __init__(
        self,
        name: str,
        *,
        device: str | None = None,
        dtype: str | torch.dtype | None = None,
        max_length: int | None = None,
        batch_tokens: int | None = None,
        max_batch_size: int = 512,
        attention: str = "auto",
        trust_remote_code: bool = False,
        cpu_workers: int | None = None,
        precision: str | None = None,
        instruction: str | None = None,
        prompt_template: str | PromptTemplate | None = None,
        prefix_reuse: bool = True,
    ) -> None:
        self.loaded: LoadedModel = load_model(
            name,
            device=device,
            dtype=dtype,
            max_length=max_length,
            attention=attention,
            trust_remote_code=trust_remote_code,
            prompt_template=prompt_template,
            precision=precision,
        )
        check_instruction(self.loaded, instruction)
        self.name = name
        self.instruction = instruction
        self._yes_no = YesNoRunner(self.loaded, prefix_reuse) if self.loaded.template else None
        self.tokenizers = TokenizerPool(self.loaded.tokenizer)
        on_cpu = self.device.type == "cpu"
        self.batch_tokens = batch_tokens or (CPU_BATCH_TOKENS if on_cpu else GPU_BATCH_TOKENS)
        self._workers = BatchWorkers((cpu_workers or torch.get_num_threads()) if on_cpu else 1)
        self.max_batch_size = max_batch_size
        self._lock = threading.Lock()
        config = self.model.config
        self._with_token_types = config.model_type in ("bert", "deberta-v2") and (
            getattr(config, "type_vocab_size", 0) > 0
        )
        self._packed = self.loaded.attention.startswith("varlen")
        # Packed attention (varlen kernels, banded local layers) grows linearly with length.
        self._attention_span = None if self._packed else PADDED_ATTENTION_SPAN
        # Tokenise the next chunk on a worker thread while this one runs (CUDA: the CPU is free).
        self._overlap_tokenization = self.device.type == "cuda"
        self._position_offset = position_offset(self.model)
        float32_head(self.model)

    @property
    def model(self) -> torch.nn.Module:
        return self.loaded.model

    @property
    def tokenizer(self):
        """The loaded tokenizer; threads that encode borrow their own copy from ``tokenizers``."""
        return self.loaded.tokenizer

    @property
    def device(self) -> torch.device:
        return self.loaded.device

    @property
    def max_length(self) -> int:
        return self.loaded.max_length

    @property
    def cpu_workers(self) -> int:
        """Batches run side by side on CPU (1 elsewhere)."""
        return self._workers.count

    @property
    def num_labels(self) -> int:
        return 1 if self._yes_no else self.model.config.num_labels

    def __repr__(self) -> str:
        loaded = self.loaded
        return (
            f"CrossEncoderReranker({self.name!r}, device={loaded.device.type!r}, "
            f"dtype={loaded.dtype_name!r}, attention={loaded.attention!r}, "
            f"max_length={loaded.max_length})"
        )

    def tokenize(
        self, pairs: Sequence[Pair], max_length: int | None = None, instruction: str | None = None
    ) -> EncodedPairs | PromptedPairs:
        """Token ids of every pair, truncated at ``max_length`` (longest side first; a yes/no
        reranker's prompt loses the end of its document)."""
        length = self.max_length if max_length is None else min(max_length, self.max_length)
        if length <= 0:
            raise ValueError(f"max_length must be positive, got {max_length}")
        with self.tokenizers.borrow() as tokenizer:
            if self._yes_no:
                return self._yes_no.encode(tokenizer, pairs, length, instruction or self.instruction)
            return encode_pairs(tokenizer, pairs, length, self._with_token_types)

    @torch.inference_mode()
    def predict(
        self,
        pairs: Sequence[Pair],
        *,
        batch_tokens: int | None = None,
        max_length: int | None = None,
        show_progress_bar: bool = False,
        instruction: str | None = None,
    ) -> np.ndarray:
        """Raw logits for each pair, in input order: shape (n,) for one label, (n, labels) else.

        ``max_length`` lowers the model's own limit for this call (the model is shared). Each
        distinct pair is scored once, so identical pairs get identical scores. ``instruction``
        replaces the reranker's own for this call (yes/no rerankers only).
        """
        check_instruction(self.loaded, instruction)
        pairs, positions = distinct(_check_pairs(pairs))
        scores = np.empty((len(pairs), self.num_labels), dtype=np.float32)
        budget = batch_tokens or self.batch_tokens
        with (
            self._lock,
            tqdm(total=len(pairs), desc="Reranking", unit="pair", disable=not show_progress_bar) as progress,
        ):
            # Each batch's logits are read once the next batch is queued: the GPU never waits for the CPU.
            pending: tuple[list[int], HostCopy] | None = None
            for start, encoded in self._encoded_chunks(pairs, max_length, instruction):
                batches = (
                    self._yes_no.batches(encoded, budget, self.max_batch_size, self._workers.count)
                    if self._yes_no
                    else pack_batches(encoded.lengths, budget, self.max_batch_size, self._attention_span)
                )
                run = partial(self._run_batch, encoded)
                for indices, logits in zip(batches, self._workers.map(run, batches)):
                    copy = HostCopy(logits)
                    if pending is not None:
                        _store(scores, *pending, progress)
                    pending = ([start + i for i in indices], copy)
            if pending is not None:
                _store(scores, *pending, progress)
        scores = scores[positions]
        return scores[:, 0] if self.num_labels == 1 else scores

    async def apredict(self, pairs: Sequence[Pair], **kwargs) -> np.ndarray:
        """:meth:`predict` on a worker thread, for async callers."""
        return await asyncio.to_thread(self.predict, pairs, **kwargs)

    def rank(
        self,
        query: str,
        documents: Sequence[str],
        top_k: int | None = None,
        return_documents: bool = False,
    ) -> list[dict]:
        """Documents sorted by score: ``[{"corpus_id", "score", "text"?}]``, best first."""
        if self.num_labels != 1:
            raise ValueError(f"rank needs a model with one output label, this one has {self.num_labels}")
        if isinstance(documents, str):
            raise TypeError("documents must be a sequence of strings, not one string")
        scores = self.predict([(query, document) for document in documents])
        order = np.argsort(-scores, kind="stable")
        if top_k is not None:
            order = order[:top_k]
        results = []
        for index in order:
            item = {"corpus_id": int(index), "score": float(scores[index])}
            if return_documents:
                item["text"] = documents[index]
            results.append(item)
        return results

    async def arank(self, query: str, documents: Sequence[str], **kwargs) -> list[dict]:
        """:meth:`rank` on a worker thread, for async callers."""
        return await asyncio.to_thread(self.rank, query, documents, **kwargs)

    def _encoded_chunks(
        self, pairs: Sequence[Pair], max_length: int | None, instruction: str | None = None
    ) -> Iterator[tuple[int, EncodedPairs | PromptedPairs]]:
        """Tokenised chunks of ``pairs``, the next one tokenised during compute where that overlaps."""
        starts = range(0, len(pairs), TOKENIZE_CHUNK)
        chunks = [pairs[s : s + TOKENIZE_CHUNK] for s in starts]
        lengths, instructions = [max_length] * len(chunks), [instruction] * len(chunks)
        if not self._overlap_tokenization or len(chunks) <= 1:
            yield from zip(starts, map(self.tokenize, chunks, lengths, instructions))
            return
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="vecrank-tokenize") as pool:
            yield from zip(starts, pool.map(self.tokenize, chunks, lengths, instructions))

    def _run_batch(self, encoded: EncodedPairs, indices: list[int]) -> torch.Tensor:
        """Float32 logits of one batch, on the device; out of memory, split the batch in two and retry."""
        try:
            return self._forward(encoded, indices)
        except RuntimeError as error:
            if len(indices) == 1 or not _out_of_memory(error):
                raise
        # Past the except block the failed pass's traceback, and the tensors its frames hold, are gone.
        self._release_memory()
        logger.warning("out of %s memory on %d pairs; retrying in halves", self.device.type, len(indices))
        half = len(indices) // 2
        return torch.cat([self._run_batch(encoded, indices[:half]), self._run_batch(encoded, indices[half:])])

    def _release_memory(self) -> None:
        """Free what a failed pass left: cycles first, then the CUDA allocator's cached blocks."""
        gc.collect()
        if self.device.type == "cuda":
            torch.cuda.empty_cache()

    def _forward(self, encoded: EncodedPairs | PromptedPairs, indices: list[int]) -> torch.Tensor:
        if self._yes_no:
            return self._yes_no.forward(encoded, indices)
        if self._packed:
            batch = pack_batch(encoded, indices, self._position_offset).to(self.device)
            logits = packed_logits(self.model, batch)
        else:
            padded = pad_batch(encoded, indices, self.tokenizer.pad_token_id or 0).to(self.device)
            inputs = {"input_ids": padded.input_ids, "attention_mask": padded.attention_mask}
            if padded.token_type_ids is not None:
                inputs["token_type_ids"] = padded.token_type_ids
            logits = self.model(**inputs).logits
        return logits.float()


def _store(scores: np.ndarray, positions: list[int], copy: HostCopy, progress: tqdm) -> None:
    scores[positions] = copy.numpy()
    progress.update(len(positions))


def _out_of_memory(error: RuntimeError) -> bool:
    """A GPU out-of-memory error (torch's, or a CUDA library's), or a CPU allocation that failed."""
    return isinstance(error, torch.OutOfMemoryError) or any(
        message in str(error) for message in OUT_OF_MEMORY_MESSAGES
    )


def _check_pairs(pairs: Sequence[Pair]) -> list[Pair]:
    """Validate pairs, naming the first bad one."""
    if isinstance(pairs, (str, bytes)):
        raise TypeError("pairs must be a sequence of (query, document) tuples, not a string")
    checked = []
    for number, pair in enumerate(pairs):
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise TypeError(f"pair {number} must be a (query, document) tuple, got {pair!r:.80}")
        query, document = pair
        if not isinstance(query, str) or not isinstance(document, str):
            raise TypeError(
                f"pair {number} must hold two strings, got ({type(query).__name__}, "
                f"{type(document).__name__})"
            )
        checked.append((query, document))
    return checked
