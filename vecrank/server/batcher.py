"""Merge concurrent requests into engine calls, and let large requests take turns with small ones.

One queue and one worker task per loaded model. A request's pairs are sorted by length and split
into chunks of about ``chunk_tokens`` (an engine-sized piece of work). Each engine call takes at
most one chunk from each waiting request, the requests that have been served least first, up to
``merge_tokens``: a request of 600 long documents is scored chunk by chunk, and a 3-document
request that arrives meanwhile is served in the next call, not after the whole large request.

Once the engine is free the worker lets the call fill for up to ``max_wait_ms`` (or until
``merge_tokens`` are waiting), so that clients answered by the last call can join the next one; the
engine sorts the merged pairs by length and packs its forward passes by ``batch_tokens``. If a
merged call fails, each request's chunk is run again on its own, so that only the request that
caused the failure gets the error. Requests whose client has gone away are dropped while still
queued; a full queue raises ``Overloaded``.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from dataclasses import dataclass, field

import numpy as np

from ..core.reranker import CrossEncoderReranker, Pair
from .errors import Overloaded, Unavailable
from .metrics import Metrics

logger = logging.getLogger(__name__)

# Characters per token, to size chunks and calls before tokenising (the engine packs by real tokens).
CHARS_PER_TOKEN = 4


@dataclass(eq=False)
class _Request:
    """One request's pairs, its chunks (pair indices, longest first) and the scores so far."""

    pairs: list[Pair]
    chunks: list[list[int]]
    chunk_tokens: list[int]
    future: asyncio.Future
    arrival: int
    scores: np.ndarray = field(init=False)
    taken: int = 0  # chunks handed to the engine
    scored: int = 0  # chunks scored
    queued_at: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.scores = np.empty(len(self.pairs), dtype=np.float32)

    @property
    def untaken_pairs(self) -> int:
        return sum(len(chunk) for chunk in self.chunks[self.taken :])

    @property
    def untaken_tokens(self) -> int:
        return sum(self.chunk_tokens[self.taken :])


@dataclass(eq=False)
class _Chunk:
    """The piece of a request that goes into one engine call."""

    request: _Request
    indices: list[int]

    @property
    def pairs(self) -> list[Pair]:
        return [self.request.pairs[i] for i in self.indices]


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
        chunk_tokens: int = 8_192,
        batch_tokens: int | None = None,
        queue_size: int = 32_768,
    ) -> None:
        self.reranker = reranker
        self.name = name
        self._metrics = metrics
        self._max_wait = max_wait_ms / 1000
        self._merge_tokens = merge_tokens
        self._chunk_tokens = chunk_tokens
        self._batch_tokens = batch_tokens
        self._queue_size = queue_size
        self._waiting: list[_Request] = []
        self._arrivals = itertools.count()
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

    async def score(self, pairs: list[Pair]) -> np.ndarray:
        """Raw logits of ``pairs``, scored in chunks shared with other requests' chunks."""
        if self._closing or self._task is None:
            raise Unavailable()
        if self._queued_pairs and self._queued_pairs + len(pairs) > self._queue_size:
            raise Overloaded("server overloaded: the queue of this model is full; retry later")
        if not pairs:
            return np.empty(0, dtype=np.float32)
        chunks, chunk_tokens = self._split(pairs)
        future = asyncio.get_running_loop().create_future()
        request = _Request(pairs, chunks, chunk_tokens, future, next(self._arrivals))
        self._waiting.append(request)
        self._queued_pairs += len(pairs)
        self._queued_tokens += sum(chunk_tokens)
        self._wakeup.set()
        try:
            return await future
        except asyncio.CancelledError:
            if request in self._waiting:
                self._metrics.record_dropped(self.name, request.untaken_pairs)
                self._unqueue(request)
            raise

    def _split(self, pairs: list[Pair]) -> tuple[list[list[int]], list[int]]:
        """Pair indices, longest first, in chunks of about ``chunk_tokens`` estimated tokens."""
        limit = self.reranker.max_length
        tokens = [
            min(limit, (len(query) + len(document)) // CHARS_PER_TOKEN + 3) for query, document in pairs
        ]
        chunks: list[list[int]] = []
        costs: list[int] = []
        longest_first = sorted(range(len(pairs)), key=lambda i: -len(pairs[i][0]) - len(pairs[i][1]))
        for index in longest_first:
            if not chunks or costs[-1] + tokens[index] > self._chunk_tokens:
                chunks.append([])
                costs.append(0)
            chunks[-1].append(index)
            costs[-1] += tokens[index]
        return chunks, costs

    def _unqueue(self, request: _Request) -> None:
        """Take a request out of the queue with its chunks that were not handed out yet."""
        self._waiting.remove(request)
        self._queued_pairs -= request.untaken_pairs
        self._queued_tokens -= request.untaken_tokens

    async def _work(self) -> None:
        while True:
            self._drop_finished()
            if not self._waiting:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._fill()
            await self._run(self._take())
            self._engine_free_since = time.monotonic()

    def _drop_finished(self) -> None:
        """Forget requests that already have an answer (cancelled, or failed in an earlier chunk)."""
        for request in [request for request in self._waiting if request.future.done()]:
            self._unqueue(request)

    async def _fill(self) -> None:
        """Wait until ``merge_tokens`` are queued or ``max_wait_ms`` has passed since the oldest request
        arrived or the engine became free, whichever is later."""
        oldest = min(request.queued_at for request in self._waiting)
        deadline = max(oldest, self._engine_free_since) + self._max_wait
        while self._queued_tokens < self._merge_tokens and not self._closing:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            try:
                await asyncio.wait_for(self._wakeup.wait(), remaining)
            except asyncio.TimeoutError:
                return

    def _take(self) -> list[_Chunk]:
        """The next chunk of each waiting request, least served first, up to ``merge_tokens``."""
        self._drop_finished()
        taken: list[_Chunk] = []
        tokens = 0
        for request in sorted(self._waiting, key=lambda r: (r.taken, r.arrival)):
            cost = request.chunk_tokens[request.taken]
            if taken and tokens + cost > self._merge_tokens:
                break
            taken.append(_Chunk(request, request.chunks[request.taken]))
            tokens += cost
            request.taken += 1
            self._queued_pairs -= len(taken[-1].indices)
            self._queued_tokens -= cost
            if request.taken == len(request.chunks):
                self._waiting.remove(request)
        return taken

    async def _run(self, chunks: list[_Chunk]) -> None:
        """One engine call for the chunks; if it fails, each chunk again on its own."""
        if not chunks:
            return
        try:
            scores = await self._predict([pair for chunk in chunks for pair in chunk.pairs])
        except Exception as error:
            if len(chunks) == 1:
                self._fail(chunks[0], error)
                return
            logger.warning(
                "model %r failed on %d merged requests (%s); scoring each on its own",
                self.name,
                len(chunks),
                type(error).__name__,
            )
            for chunk in chunks:
                await self._run([chunk])
            return
        start = 0
        for chunk in chunks:
            self._deliver(chunk, scores[start : start + len(chunk.indices)])
            start += len(chunk.indices)

    async def _predict(self, pairs: list[Pair]) -> np.ndarray:
        scores = await asyncio.to_thread(self.reranker.predict, pairs, batch_tokens=self._batch_tokens)
        self._metrics.record_batch(self.name, len(pairs))
        return scores

    def _fail(self, chunk: _Chunk, error: Exception) -> None:
        logger.error(
            "model %r failed on a request of %d pairs: %s: %s",
            self.name,
            len(chunk.request.pairs),
            type(error).__name__,
            error,
            exc_info=error,
        )
        if not chunk.request.future.done():
            chunk.request.future.set_exception(error)

    @staticmethod
    def _deliver(chunk: _Chunk, scores: np.ndarray) -> None:
        request = chunk.request
        request.scores[chunk.indices] = scores
        request.scored += 1
        if request.scored == len(request.chunks) and not request.future.done():
            request.future.set_result(request.scores)
