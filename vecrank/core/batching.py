"""Tokenise (query, document) pairs once, sort by token length, and pack batches by a token budget."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, fields, replace
from itertools import chain
from typing import TypeVar

import numpy as np
import torch
from transformers import PreTrainedTokenizerBase

from .transfer import to_device


@dataclass
class EncodedPairs:
    """Token ids of every pair, unpadded, in input order."""

    input_ids: list[list[int]]
    token_type_ids: list[list[int]] | None

    def __len__(self) -> int:
        return len(self.input_ids)

    @property
    def lengths(self) -> list[int]:
        return [len(ids) for ids in self.input_ids]


def encode_pairs(
    tokenizer: PreTrainedTokenizerBase,
    pairs: Sequence[tuple[str, str]],
    max_length: int,
    with_token_types: bool,
) -> EncodedPairs:
    """Tokenise pairs with the fast tokenizer's batch API, truncating the longest side first."""
    if not pairs:
        return EncodedPairs([], [] if with_token_types else None)
    queries = [query for query, _ in pairs]
    documents = [document for _, document in pairs]
    encoded = tokenizer(
        queries,
        documents,
        truncation="longest_first",
        max_length=max_length,
        padding=False,
        return_attention_mask=False,
        return_token_type_ids=with_token_types,
    )
    token_types = encoded["token_type_ids"] if with_token_types else None
    return EncodedPairs(encoded["input_ids"], token_types)


def pack_batches(
    lengths: Sequence[int],
    batch_tokens: int,
    max_batch_size: int = 1024,
    attention_span: int | None = None,
) -> list[list[int]]:
    """Group indices into batches, longest first, so that each batch fits ``batch_tokens``.

    A batch's cost is counted as ``len(batch) * longest``, which is what a padded batch
    computes; a single sequence longer than the budget still forms its own batch. Where
    attention holds a full ``L x L`` matrix per sequence (padded batches), pass
    ``attention_span``: sequences longer than it count ``longest / attention_span`` times
    more, so the batch shrinks as memory grows with the square of the length.
    """
    if batch_tokens <= 0:
        raise ValueError(f"batch_tokens must be positive, got {batch_tokens}")
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    longest = 0
    for index in order:
        length = max(lengths[index], 1)
        grown = max(longest, length)
        weight = max(1.0, grown / attention_span) if attention_span else 1.0
        if current and (grown * weight * (len(current) + 1) > batch_tokens or len(current) >= max_batch_size):
            batches.append(current)
            current, grown = [], length
        current.append(index)
        longest = grown
    if current:
        batches.append(current)
    return batches


Batch = TypeVar("Batch", bound="_DeviceBatch")


class _DeviceBatch:
    """Moves every tensor field of a batch dataclass to a device (pinned, non-blocking on CUDA)."""

    def to(self: Batch, device: torch.device) -> Batch:
        """This batch with all its tensors on ``device``."""
        moved = {
            field.name: to_device(value, device)
            for field in fields(self)
            if isinstance(value := getattr(self, field.name), torch.Tensor)
        }
        return replace(self, **moved)


@dataclass
class PaddedBatch(_DeviceBatch):
    """A right-padded batch, ready for a standard forward pass."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    token_type_ids: torch.Tensor | None


@dataclass
class PackedBatch(_DeviceBatch):
    """Sequences concatenated into one row, with cumulative lengths for varlen attention."""

    input_ids: torch.Tensor
    position_ids: torch.Tensor
    token_type_ids: torch.Tensor | None
    cu_seqlens: torch.Tensor
    max_seqlen: int


def _flat(rows: list[list[int]], total: int) -> np.ndarray:
    """Concatenate token rows into one int64 array."""
    return np.fromiter(chain.from_iterable(rows), dtype=np.int64, count=total)


def pad_batch(encoded: EncodedPairs, indices: Sequence[int], pad_token_id: int) -> PaddedBatch:
    """Right-pad the sequences at ``indices`` into one batch."""
    rows = [encoded.input_ids[i] for i in indices]
    lengths = np.array([len(row) for row in rows])
    mask = np.arange(lengths.max()) < lengths[:, None]
    input_ids = np.full(mask.shape, pad_token_id, dtype=np.int64)
    input_ids[mask] = _flat(rows, int(lengths.sum()))
    token_type_ids = None
    if encoded.token_type_ids is not None:
        types = np.zeros(mask.shape, dtype=np.int64)
        types[mask] = _flat([encoded.token_type_ids[i] for i in indices], int(lengths.sum()))
        token_type_ids = torch.from_numpy(types)
    return PaddedBatch(torch.from_numpy(input_ids), torch.from_numpy(mask.astype(np.int64)), token_type_ids)


def pack_batch(encoded: EncodedPairs, indices: Sequence[int], position_offset: int = 0) -> PackedBatch:
    """Concatenate the sequences at ``indices`` into one unpadded row."""
    rows = [encoded.input_ids[i] for i in indices]
    lengths = np.array([len(row) for row in rows])
    total = int(lengths.sum())
    cu_seqlens = np.zeros(len(rows) + 1, dtype=np.int32)
    np.cumsum(lengths, out=cu_seqlens[1:])
    positions = np.arange(total) - np.repeat(cu_seqlens[:-1], lengths) + position_offset
    token_type_ids = None
    if encoded.token_type_ids is not None:
        types = _flat([encoded.token_type_ids[i] for i in indices], total)
        token_type_ids = torch.from_numpy(types).unsqueeze(0)
    return PackedBatch(
        input_ids=torch.from_numpy(_flat(rows, total)).unsqueeze(0),
        position_ids=torch.from_numpy(positions).unsqueeze(0),
        token_type_ids=token_type_ids,
        cu_seqlens=torch.from_numpy(cu_seqlens),
        max_seqlen=int(lengths.max()),
    )
