"""The micro-batcher: merging, token budget, chunks taking turns, dropped and failed requests (isolated),
overload, drain on stop."""

from __future__ import annotations

import asyncio
import threading

import numpy as np
import pytest

from vecrank.server.batcher import Batcher
from vecrank.server.errors import Overloaded, Unavailable
from vecrank.server.metrics import Metrics


class FakeReranker:
    """Scores a pair as ``1000 * len(query) + len(document)``; records each call; waits on ``gate``;
    fails on every call (``fail``) or on calls holding the document ``poison``."""

    max_length = 128

    def __init__(self) -> None:
        self.calls: list[list[tuple[str, str]]] = []
        self.gate = threading.Event()
        self.gate.set()
        self.entered = threading.Event()
        self.fail = False
        self.poison: str | None = None

    def predict(self, pairs, *, batch_tokens=None) -> np.ndarray:
        self.calls.append(list(pairs))
        self.entered.set()
        assert self.gate.wait(10)
        if self.fail or any(d == self.poison for _, d in pairs):
            raise RuntimeError("engine exploded")
        return np.array([1000 * len(q) + len(d) for q, d in pairs], dtype=np.float32)


def expected(pairs):
    return [1000 * len(q) + len(d) for q, d in pairs]


def pairs_for(query: str, count: int, length: int = 1) -> list[tuple[str, str]]:
    return [(query, "d" * (i + length)) for i in range(count)]


def longest_first(pairs: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return sorted(pairs, key=lambda pair: -len(pair[1]))


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
    assert engine.calls[0] == [pair for pairs in requests for pair in longest_first(pairs)]
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
    assert [sorted({q for q, _ in pairs}) for pairs in engine.calls] == [
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
    assert [len(pairs) for pairs in engine.calls] == [12, 12]


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
    seen = [query for pairs in engine.calls for query, _ in pairs]
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
    with pytest.raises(Overloaded, match="queue of this model is full"):
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


async def test_a_failed_merged_call_is_rerun_apart_so_only_the_guilty_request_fails(
    batcher: Batcher, engine: FakeReranker
) -> None:
    engine.poison = "poison"
    innocent = [pairs_for(f"q{i}", 3) for i in range(4)]
    guilty = [("bad", "poison"), ("bad", "fine")]
    results = await asyncio.gather(
        *(batcher.score(pairs) for pairs in innocent[:2]),
        batcher.score(guilty),
        *(batcher.score(pairs) for pairs in innocent[2:]),
        return_exceptions=True,
    )
    assert isinstance(results[2], RuntimeError)
    for pairs, scores in zip(innocent, results[:2] + results[3:]):
        assert scores.tolist() == expected(pairs)
    assert len(engine.calls) == 1 + 5  # the merged call, then each request on its own
    assert (await batcher.score(pairs_for("after", 2))).tolist() == expected(pairs_for("after", 2))


async def test_large_request_is_split_into_chunks_that_take_turns(engine: FakeReranker) -> None:
    # each pair ("big", 40 to 51 "d"s) is estimated at 13 to 16 tokens: two or three per 40-token chunk
    batcher = Batcher(engine, "fake", Metrics(), max_wait_ms=1, merge_tokens=1_000, chunk_tokens=40)
    batcher.start()
    try:
        engine.gate.clear()
        big_pairs = pairs_for("big", 12, length=40)
        big = asyncio.create_task(batcher.score(big_pairs))
        await asyncio.to_thread(engine.entered.wait, 5)  # the big request's first chunk is in the engine
        small = asyncio.create_task(batcher.score(pairs_for("small", 2)))
        await asyncio.sleep(0.01)
        engine.gate.set()
        assert (await big).tolist() == expected(big_pairs)
        assert (await small).tolist() == expected(pairs_for("small", 2))
    finally:
        await batcher.stop()
    queries = [sorted({query for query, _ in pairs}) for pairs in engine.calls]
    # one chunk per request per call: the small request is served beside the big one's second chunk,
    # long before its last (first come, first served would put it after all of them)
    assert queries[:2] == [["big"], ["big", "small"]]
    assert queries[2:] == [["big"]] * (len(queries) - 2) and len(queries) >= 4
    assert all(sum(query == "big" for query, _ in pairs) <= 3 for pairs in engine.calls)
    assert engine.calls[0] == longest_first(big_pairs)[: len(engine.calls[0])]


async def test_a_failed_chunk_fails_its_request_and_drops_the_rest(engine: FakeReranker) -> None:
    batcher = Batcher(engine, "fake", Metrics(), max_wait_ms=1, chunk_tokens=40)
    batcher.start()
    try:
        engine.poison = "d" * 50  # the longest pair: in the first chunk
        with pytest.raises(RuntimeError):
            await batcher.score(pairs_for("big", 12, length=40))
        await asyncio.sleep(0.01)
        assert len(engine.calls) == 1 and batcher.queued_pairs == 0
    finally:
        await batcher.stop()


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
