"""Each thread encodes on its own tokenizer copy: truncation set by one user never reaches another."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from vecrank.core import CrossEncoderReranker, get_reranker
from vecrank.core.tokenizer_pool import TokenizerPool
from vecrank.server.texts import TextCutter

LONG = "the river runs through the old city and past the school " * 40
QUERY = "where does the river run"


@pytest.fixture(scope="module")
def reranker(tiny_bert: Path) -> CrossEncoderReranker:
    return get_reranker(str(tiny_bert))


def untruncated_tokens(reranker: CrossEncoderReranker, text: str) -> int:
    return len(reranker.tokenizer(text, add_special_tokens=False)["input_ids"])


def test_a_borrower_gets_a_copy_no_one_else_holds(reranker: CrossEncoderReranker) -> None:
    pool = TokenizerPool(reranker.tokenizer)
    with pool.borrow() as first, pool.borrow() as second:
        assert first is not second
        assert reranker.tokenizer not in (first, second)  # the template is never lent
    with pool.borrow() as again:
        assert again in (first, second)  # copies are kept for reuse


def test_truncation_set_by_one_holder_does_not_reach_users_running_meanwhile(
    reranker: CrossEncoderReranker,
) -> None:
    cutter = TextCutter(reranker.tokenizers, reranker.max_length)
    whole = untruncated_tokens(reranker, LONG)
    assert whole > 64
    with reranker.tokenizers.borrow() as held:
        held([QUERY], [LONG], truncation="longest_first", max_length=8)
        settings = held.backend_tokenizer.truncation
        assert settings is not None and settings["max_length"] == 8
        with ThreadPoolExecutor(1) as pool:  # the engine and the server cutter, while ``held`` is lent
            counted = pool.submit(cutter.count, [LONG]).result()
            encoded = pool.submit(reranker.tokenize, [(QUERY, LONG)], 16).result()
        assert counted == [whole]
        assert encoded.lengths == [16]
        assert held.backend_tokenizer.truncation == settings
        assert len(held([QUERY], [LONG], truncation="longest_first", max_length=8)["input_ids"][0]) == 8


def test_engine_and_cutter_tokenising_at_once_both_get_their_truncation(
    reranker: CrossEncoderReranker,
) -> None:
    cutter = TextCutter(reranker.tokenizers, reranker.max_length)
    whole = untruncated_tokens(reranker, LONG)
    rounds = 8
    start = threading.Barrier(2)

    def engine() -> list[list[int]]:
        start.wait()
        return [reranker.tokenize([(QUERY, LONG)] * 64, max_length=16).lengths for _ in range(rounds)]

    def server() -> list[list[int]]:
        start.wait()
        return [cutter.count([LONG] * 64) for _ in range(rounds)]

    with ThreadPoolExecutor(2) as pool:
        engine_lengths, server_counts = pool.submit(engine), pool.submit(server)
        assert engine_lengths.result() == [[16] * 64] * rounds
        assert server_counts.result() == [[whole] * 64] * rounds
