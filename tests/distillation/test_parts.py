"""The pieces of distill that need no model: candidate mixing, cascade targets, ranking metrics."""

from __future__ import annotations

import random

import pytest

from vecrank.cascade import Staged
from vecrank.distillation.candidates import mix
from vecrank.distillation.report import kendall_tau, ndcg, teacher_gains
from vecrank.distillation.sources import DistillData, Query, first_sentence, make_queries
from vecrank.distillation.teacher import targets
from vecrank.errors import ConfigError
from vecrank.hookspecs import hookimpl
from vecrank.plugins import register_plugin, unregister_plugin


def test_mix_keeps_the_hardest_then_medium_in_rank_order():
    ranked = [(f"d{i}", f"text {i}") for i in range(20)]
    picked = mix(ranked, hard=4, medium=3, rng=random.Random(0))
    assert [doc for doc, _ in picked[:4]] == ["d0", "d1", "d2", "d3"]
    rest = [int(doc[1:]) for doc, _ in picked[4:]]
    assert len(rest) == 3 and rest == sorted(rest) and min(rest) >= 4
    assert mix(ranked[:5], hard=4, medium=3, rng=random.Random(0)) == ranked[:5]  # fewer than asked: all


def test_cascade_targets_put_hits_dropped_earlier_below_the_last_stage_in_cascade_order():
    staged = [Staged(1, 2.0), Staged(0, 9.0), Staged(1, 5.0), Staged(0, 3.0)]
    assert targets(staged) == [2.0, 1.0, 5.0, 0.0]
    assert targets([Staged(0, 0.5), Staged(0, -1.0)]) == [0.5, -1.0]


def test_ranking_metrics():
    assert ndcg(["a", "b"], {"a": 1.0}) == 1.0
    assert ndcg(["b", "a"], {"a": 1.0}) == pytest.approx(1 / 1.584962, rel=1e-5)
    assert ndcg(["a"], {}) == 0.0
    assert teacher_gains(["x", "y"], k=10) == {"x": 10.0, "y": 9.0}
    assert kendall_tau([1, 2, 3], [10, 20, 30]) == 1.0
    assert kendall_tau([1, 2, 3], [3, 2, 1]) == -1.0


def test_queries_made_from_the_corpus_and_from_a_plugin_hook():
    data = DistillData(
        [Query("q1", "About cats")],
        documents={"d1": "Cats purr. They sleep a lot.", "d2": "Dogs bark! Loudly."},
        titles={"d1": "About cats", "d2": "About dogs"},
    )

    class Generator:
        @hookimpl
        def vecrank_distill_queries(self, documents, titles):
            return [("d1", "what is in d1?"), "what is in d2?"]  # a pair names the document it is from

    register_plugin(Generator(), name="test-generator")
    try:
        made = make_queries(data, ("titles", "sentences"))
    finally:
        unregister_plugin("test-generator")
    # "About cats" repeats a given query, so it is not made again.
    assert [q.text for q in made] == [
        "Cats purr.", "About dogs", "Dogs bark!", "what is in d1?", "what is in d2?",
    ]  # fmt: skip
    assert all(q.made for q in made)
    assert [q.origin for q in made] == ["d1", "d2", "d2", "d1", None]
    assert first_sentence("No end here") == "No end here"
    with pytest.raises(ConfigError, match="expected kinds among titles, sentences"):
        make_queries(data, ("questions",))
