"""The micro-batcher: merging, token budget, dropped and failed requests, overload, drain on stop."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from vecrank.server.batcher import Batcher
from vecrank.server.errors import Overloaded, Unavailable
from vecrank.server.metrics import Metrics


class FakeReranker:
    """Scores a pair as ``1000 * len(query) + len(document)``; records each call; waits on ``gate``."""

    max_length = 128

    def __init__(self) -> None:
        self.calls: list[tuple[list[tuple[str, str]], int | None]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False

    def predict(self, pairs, *, batch_tokens=None, max_length=None) -> np.ndarray:
        self.calls.append((list(pairs), max_length))
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail:
            raise RuntimeError("engine exploded")
        return np.array([1000 * len(q) + len(d) for q, d in pairs], dtype=np.float32)


def expected(pairs):
    return [1000 * len(q) + len(d) for q, d in pairs]


def pairs_for(query: str, count: int) -> list[tuple[str, str]]:
    return [(query, "d" * (i + 1)) for i in range(count)]


@pytest.fixture
def engine() -> FakeReranker:
    return FakeReranker()


@pytest.fixture
async def batcher(engine: FakeReranker):
    metrics = Metrics()
    batcher = Batcher(engine, "fake", metrics, max_wait_ms=20, merge_tokens=10_000, queue_size=100)
    batcher.start()
    yield batcher
    engine.gate.set()
    await batcher.stop()


async def test_concurrent_requests_share_one_engine_call(batcher: Batcher, engine: FakeReranker) -> None:
    requests = [pairs_for(f"q{i}", i + 1) for i in range(8)]
    results = await asyncio.gather(*(batcher.score(pairs) for pairs in requests))
    for pairs, scores in zip(requests, results):
        assert scores.tolist() == expected(pairs)
    assert len(engine.calls) == 1
    assert engine.calls[0][0] == [pair for pairs in requests for pair in pairs]
    assert batcher.queued_pairs == 0


async def test_clients_answered_by_the_last_call_join_the_next(
    batcher: Batcher, engine: FakeReranker
) -> None:
    engine.gate.clear()
    first = asyncio.create_task(batcher.score(pairs_for("first", 2)))
    await asyncio.to_thread(engine.entered.wait, 5)
    waiting = asyncio.create_task(batcher.score(pairs_for("waiting", 2)))
    await asyncio.sleep(0.05)  # longer than max_wait_ms: "waiting" alone would have gone already
    engine.gate.set()
    await first
    returning = asyncio.create_task(batcher.score(pairs_for("returning", 2)))  # the first client, again
    await asyncio.gather(waiting, returning)
    assert [sorted({q for q, _ in pairs}) for pairs, _ in engine.calls] == [
        ["first"],
        ["returning", "waiting"],
    ]


async def test_token_budget_splits_batches(engine: FakeReranker) -> None:
    batcher = Batcher(engine, "fake", Metrics(), max_wait_ms=20, merge_tokens=45, queue_size=100)
    batcher.start()
    try:
        # each request of 4 short pairs is estimated at 3 + 3 + 4 + 4 = 14 tokens: three fit in 45
        requests = [pairs_for("q", 4) for _ in range(6)]
        results = await asyncio.gather(*(batcher.score(pairs) for pairs in requests))
    finally:
        await batcher.stop()
    assert [r.tolist() for r in results] == [expected(p) for p in requests]
    assert [len(pairs) for pairs, _ in engine.calls] == [12, 12]


async def test_cancelled_request_is_dropped_before_the_engine_sees_it(
    batcher: Batcher, engine: FakeReranker
) -> None:
    engine.gate.clear()
    first = asyncio.create_task(batcher.score(pairs_for("first", 2)))
    await asyncio.to_thread(engine.entered.wait, 5)  # the engine is busy with the first request
    gone = asyncio.create_task(batcher.score(pairs_for("gone", 3)))
    kept = asyncio.create_task(batcher.score(pairs_for("kept", 1)))
    await asyncio.sleep(0.05)
    assert batcher.queued_pairs == 4
    gone.cancel()
    await asyncio.sleep(0)
    assert batcher.queued_pairs == 1
    engine.gate.set()
    assert (await first).tolist() == expected(pairs_for("first", 2))
    assert (await kept).tolist() == expected(pairs_for("kept", 1))
    seen = [query for pairs, _ in engine.calls for query, _ in pairs]
    assert "gone" not in seen and "kept" in seen
    assert batcher._metrics.dropped.value(model="fake") == 3


async def test_full_queue_raises_overloaded(engine: FakeReranker) -> None:
    batcher = Batcher(engine, "fake", Metrics(), max_wait_ms=1, queue_size=5)
    batcher.start()
    engine.gate.clear()
    running = asyncio.create_task(batcher.score(pairs_for("running", 5)))
    await asyncio.to_thread(engine.entered.wait, 5)
    queued = asyncio.create_task(batcher.score(pairs_for("queued", 4)))
    await asyncio.sleep(0.01)
    with pytest.raises(Overloaded, match="4 pairs are waiting"):
        await batcher.score(pairs_for("refused", 2))
    engine.gate.set()
    await asyncio.gather(running, queued)
    assert (await batcher.score(pairs_for("later", 5))).tolist() == expected(pairs_for("later", 5))
    await batcher.stop()


async def test_engine_error_fails_its_batch_and_the_batcher_goes_on(
    batcher: Batcher, engine: FakeReranker
) -> None:
    engine.fail = True
    with pytest.raises(RuntimeError, match="engine exploded"):
        await batcher.score(pairs_for("q", 2))
    engine.fail = False
    assert (await batcher.score(pairs_for("q", 2))).tolist() == expected(pairs_for("q", 2))


async def test_max_length_groups_get_separate_engine_calls(batcher: Batcher, engine: FakeReranker) -> None:
    await asyncio.gather(
        batcher.score(pairs_for("a", 2)),
        batcher.score(pairs_for("b", 2), 16),
        batcher.score(pairs_for("c", 1)),
    )
    assert sorted((len(pairs), max_length) for pairs, max_length in engine.calls) == [(2, 16), (3, None)]


async def test_stop_finishes_queued_work_then_refuses_new(engine: FakeReranker) -> None:
    batcher = Batcher(engine, "fake", Metrics(), max_wait_ms=1)
    batcher.start()
    engine.gate.clear()
    tasks = [asyncio.create_task(batcher.score(pairs_for(f"q{i}", 2))) for i in range(3)]
    await asyncio.to_thread(engine.entered.wait, 5)
    stopping = asyncio.create_task(batcher.stop())
    await asyncio.sleep(0.01)
    with pytest.raises(Unavailable):
        await batcher.score(pairs_for("late", 1))
    engine.gate.set()
    await stopping
    assert [t.result().tolist() for t in tasks] == [expected(pairs_for(f"q{i}", 2)) for i in range(3)]
    assert not batcher.running
