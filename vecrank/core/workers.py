"""CPU batch workers: whole batches run side by side, each on one intra-op thread.

One batch split across a few cores by OpenMP synchronises at every one of the many small
operators of a small encoder, and stalls whenever another process holds one of the cores; a
batch per core keeps every operator single-threaded. Measured on 2 cores with the 17m and
MiniLM-L6 shapes: 3-9% more pairs/s on an idle machine, 2-3x on a busy one.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

import torch

T = TypeVar("T")
R = TypeVar("R")


def _single_threaded() -> None:
    torch.get_num_threads()  # settle this thread's lazy initialisation first, or it would undo the next line
    torch.set_num_threads(1)


class BatchWorkers:
    """Maps a batch function over batches, in order of the batches, on ``count`` worker threads."""

    def __init__(self, count: int) -> None:
        if count < 1:
            raise ValueError(f"worker count must be at least 1, got {count}")
        self.count = count
        self._pool: ThreadPoolExecutor | None = None

    def map(self, function: Callable[[T], R], batches: Iterable[T]) -> Iterator[R]:
        """``function`` over ``batches``: on the caller's thread for one worker or one batch."""
        batches = list(batches)
        if self.count == 1 or len(batches) < 2:
            return map(function, batches)
        if self._pool is None:
            self._pool = self._start()
        return self._pool.map(_in_inference_mode(function), batches)

    def _start(self) -> ThreadPoolExecutor:
        """Start every worker at one intra-op thread, then give back the process-wide default.

        ``torch.set_num_threads`` sets the calling thread's OpenMP threads and a process-wide
        default that threads started later inherit; the caller's value is restored afterwards.
        """
        caller_threads = torch.get_num_threads()
        pool = ThreadPoolExecutor(self.count, thread_name_prefix="vecrank-cpu", initializer=_single_threaded)
        barrier = threading.Barrier(self.count)
        for started in [pool.submit(barrier.wait) for _ in range(self.count)]:
            started.result()
        torch.set_num_threads(caller_threads)
        return pool

    def close(self) -> None:
        """Stop the worker threads (they start again on the next ``map``)."""
        if self._pool is not None:
            self._pool.shutdown()
            self._pool = None


def _in_inference_mode(function: Callable[[T], R]) -> Callable[[T], R]:
    """Inference mode is per thread: enter it on the worker too."""

    def run(batch: T) -> R:
        with torch.inference_mode():
            return function(batch)

    return run
