"""How close the student ranks to the teacher on held-out queries: NDCG@10, Kendall tau, top-10 overlap."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

K = 10


def ndcg(ranked: Sequence[str], gains: Mapping[str, float], k: int = K) -> float:
    """NDCG@k of ``ranked`` ids under graded ``gains`` (0 for ids not listed); 0 when nothing is relevant."""
    dcg = sum(gains.get(doc, 0.0) / math.log2(rank + 2) for rank, doc in enumerate(ranked[:k]))
    ideal = sorted(gains.values(), reverse=True)[:k]
    best = sum(gain / math.log2(rank + 2) for rank, gain in enumerate(ideal))
    return dcg / best if best > 0 else 0.0


def teacher_gains(teacher_order: Sequence[str], k: int = K) -> dict[str, float]:
    """Graded relevance from the teacher's ranking: its first gets k, its k-th gets 1, the rest 0."""
    return {doc: float(k - rank) for rank, doc in enumerate(teacher_order[:k])}


def kendall_tau(a: Sequence[float], b: Sequence[float]) -> float:
    """Kendall's tau-b of two score lists over the same items (1: same order, -1: reversed)."""
    concordant = discordant = ties_a = ties_b = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ties_a += 1
            elif db == 0:
                ties_b += 1
            elif (da > 0) == (db > 0):
                concordant += 1
            else:
                discordant += 1
    denominator = math.sqrt((concordant + discordant + ties_a) * (concordant + discordant + ties_b))
    return (concordant - discordant) / denominator if denominator else 1.0


def ranking(ids: Sequence[str], scores: Sequence[float]) -> list[str]:
    """``ids`` best first; ties keep the given order."""
    return [ids[i] for i in sorted(range(len(ids)), key=lambda i: (-scores[i], i))]


def compare(
    ids: Sequence[Sequence[str]],
    teacher: Sequence[Sequence[float]],
    student: Sequence[Sequence[float]],
    qrels: Sequence[Mapping[str, int] | None],
) -> dict[str, float]:
    """Mean metrics over held-out queries; the qrels NDCGs only over queries that have judgements."""
    totals: dict[str, list[float]] = {}
    for doc_ids, t_scores, s_scores, judged in zip(ids, teacher, student, qrels):
        t_order, s_order = ranking(doc_ids, t_scores), ranking(doc_ids, s_scores)
        found = {
            "student_ndcg@10_vs_teacher": ndcg(s_order, teacher_gains(t_order)),
            "kendall_tau": kendall_tau(t_scores, s_scores),
            "top10_overlap": len(set(t_order[:K]) & set(s_order[:K])) / min(K, len(doc_ids)),
        }
        if judged:
            gains = {doc: float(grade) for doc, grade in judged.items() if grade > 0}
            found["teacher_ndcg@10_qrels"] = ndcg(t_order, gains)
            found["student_ndcg@10_qrels"] = ndcg(s_order, gains)
        for name, value in found.items():
            totals.setdefault(name, []).append(value)
    result = {name: sum(values) / len(values) for name, values in totals.items()}
    if "teacher_ndcg@10_qrels" in result:
        teacher_ndcg = result["teacher_ndcg@10_qrels"]
        result["student_share_of_teacher_ndcg@10"] = (
            result["student_ndcg@10_qrels"] / teacher_ndcg if teacher_ndcg else 0.0
        )
    result["judged_queries"] = float(len(totals.get("teacher_ndcg@10_qrels", [])))
    return result


def format_report(report: Mapping[str, Any]) -> str:
    """The report as a two-column table: student against teacher, then the held-out metrics."""
    teacher, student = report["teacher"], report["student"]
    rows = [("", "teacher", "student"), ("model", teacher["model"], student["model"])]
    rows.append(("parameters", _cell(teacher.get("parameters")), _cell(student.get("parameters"))))
    rows.append(("pairs/s", f"{teacher['pairs_per_second']:.1f}", f"{student['pairs_per_second']:.1f}"))
    metrics = report["metrics"]
    rows.append(("NDCG@10 vs teacher order", "1.0000", _cell(metrics["student_ndcg@10_vs_teacher"])))
    if "teacher_ndcg@10_qrels" in metrics:
        rows.append(
            (
                "NDCG@10 vs qrels",
                _cell(metrics["teacher_ndcg@10_qrels"]),
                _cell(metrics["student_ndcg@10_qrels"]),
            )
        )
    rows += [
        ("Kendall tau", "", _cell(metrics["kendall_tau"])),
        ("top-10 overlap", "", _cell(metrics["top10_overlap"])),
    ]
    width = [max(len(str(row[i])) for row in rows) for i in range(3)]
    lines = [f"{a:<{width[0]}}  {b:>{width[1]}}  {c:>{width[2]}}" for a, b, c in rows]
    counts = report["queries"]
    lines.append(
        f"held-out queries: {counts['held_out']} (trained on {counts['trained']}); "
        f"each over the teacher's top {report['settings']['eval_depth']} candidates"
    )
    return "\n".join(lines)


def _cell(value: object) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)
