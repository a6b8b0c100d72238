"""Merge concurrent requests into engine batches: one queue and one worker task per loaded model.

A request puts its pairs in the queue with a future and waits. Once the engine is free, the
worker lets the batch fill for up to ``max_wait_ms`` (or until ``merge_tokens`` is reached), so
that clients answered by the last call can join the next one. It then runs one
``reranker.predict`` on a worker thread and resolves every future. The engine sorts the merged
pairs by length and packs its forward passes by ``batch_tokens``, so merging several passes'
worth into one call wastes less padding than one call per request. Requests whose client has
gone away are dropped while still queued; a full queue raises ``Overloaded``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from dataclasses import dataclass, field

import numpy as np

from ..core.reranker import CrossEncoderReranker, Pair
from .errors import Overloaded, Unavailable
from .metrics import Metrics

logger = logging.getLogger(__name__)

# Characters per token, to size batches before tokenising (the engine packs by real tokens).
CHARS_PER_TOKEN = 4


@dataclass(eq=False)
class _Request:
    pairs: list[Pair]
    max_length: int | None
    tokens: int
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)
    taken: bool = False


class Batcher:
    """The queue and worker of one reranker; ``score`` returns raw logits in input order."""

    def __init__(
        self,
        reranker: CrossEncoderReranker,
        name: str,
        metrics: Metrics,
        *,
        max_wait_ms: float = 2.0,
        merge_tokens: int = 65_536,
        batch_tokens: int | None = None,
        queue_size: int = 32_768,
    ) -> None:
        self.reranker = reranker
        self.name = name
        self._metrics = metrics
        self._max_wait = max_wait_ms / 1000
        self._merge_tokens = merge_tokens
        self._batch_tokens = batch_tokens
        self._queue_size = queue_size
        self._waiting: deque[_Request] = deque()
        self._queued_pairs = 0
        self._queued_tokens = 0
        self._wakeup = asyncio.Event()
        self._closing = False
        self._task: asyncio.Task | None = None
        self._engine_free_since = 0.0

    @property
    def queued_pairs(self) -> int:
        return self._queued_pairs

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done() and not self._closing

    def start(self) -> None:
        """Start the worker on the running event loop."""
        self._task = asyncio.get_running_loop().create_task(self._work(), name=f"vecrank-batcher-{self.name}")

    async def stop(self) -> None:
        """Refuse new work, finish what is queued, then end the worker."""
        self._closing = True
        self._wakeup.set()
        if self._task is not None:
            await self._task

    async def score(self, pairs: list[Pair], max_length: int | None = None) -> np.ndarray:
        """Raw logits of ``pairs``, scored in a batch shared with other requests."""
        if self._closing or self._task is None:
            raise Unavailable()
        if self._queued_pairs and self._queued_pairs + len(pairs) > self._queue_size:
            raise Overloaded(
                f"server overloaded: {self._queued_pairs} pairs are waiting for this model "
                f"(queue_size {self._queue_size}); retry later"
            )
        request = _Request(
            pairs, max_length, self._estimate_tokens(pairs), asyncio.get_running_loop().create_future()
        )
        self._waiting.append(request)
        self._queued_pairs += len(pairs)
        self._queued_tokens += request.tokens
        self._wakeup.set()
        try:
            return await request.future
        except asyncio.CancelledError:
            if not request.taken:
                self._unqueue(request)
                self._metrics.record_dropped(self.name, len(pairs))
            raise

    def _estimate_tokens(self, pairs: list[Pair]) -> int:
        limit = self.reranker.max_length
        return sum(
            min(limit, (len(query) + len(document)) // CHARS_PER_TOKEN + 3) for query, document in pairs
        )

    def _unqueue(self, request: _Request) -> None:
        request.taken = True
        self._queued_pairs -= len(request.pairs)
        self._queued_tokens -= request.tokens

    async def _work(self) -> None:
        while True:
            self._drop_cancelled()
            if not self._waiting:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._fill()
            await self._run(self._take())
            self._engine_free_since = time.monotonic()

    def _drop_cancelled(self) -> None:
        while self._waiting and self._waiting[0].future.done():
            self._waiting.popleft()

    async def _fill(self) -> None:
        """Wait until the budget is reached or ``max_wait_ms`` has passed since the oldest request
        arrived or the engine became free, whichever is later."""
        deadline = max(self._waiting[0].queued_at, self._engine_free_since) + self._max_wait
        while self._queued_tokens < self._merge_tokens and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Request]:
        """The oldest live requests that fit the token budget (at least one)."""
        batch: list[_Request] = []
        tokens = 0
        while self._waiting:
            request = self._waiting[0]
            if request.future.done():
                self._waiting.popleft()
                continue
            if batch and tokens + request.tokens > self._merge_tokens:
                break
            self._waiting.popleft()
            self._unqueue(request)
            batch.append(request)
            tokens += request.tokens
        return batch

    async def _run(self, batch: list[_Request]) -> None:
        """One engine call per distinct ``max_length`` in the batch; results go back to each future."""
        groups: dict[int | None, list[_Request]] = {}
        for request in batch:
            groups.setdefault(request.max_length, []).append(request)
        for max_length, requests in groups.items():
            pairs = [pair for request in requests for pair in request.pairs]
            try:
                scores = await asyncio.to_thread(
                    self.reranker.predict, pairs, batch_tokens=self._batch_tokens, max_length=max_length
                )
            except Exception as error:
                logger.exception("model %r failed on a batch of %d pairs", self.name, len(pairs))
                for request in requests:
                    if not request.future.done():
                        request.future.set_exception(error)
                continue
            self._metrics.record_batch(self.name, len(pairs))
            start = 0
            for request in requests:
                end = start + len(request.pairs)
                if not request.future.done():
                    request.future.set_result(scores[start:end])
                start = end
