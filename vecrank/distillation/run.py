"""``vecrank.distill``: candidates, teacher scores, training, then the held-out report, in one call.

Everything is written under a work folder beside DIR (``.DIR.distill-work``) and renamed to DIR
only at the end, so a DIR that exists is finished; the teacher's score cache stays in the work
folder until then, so rerunning an interrupted command resumes without rescoring.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .candidates import choose_candidates, prepare_search
from .databases import CollectionOptions
from .report import compare, format_report, ranking
from .sources import DistillData, Query, load_source, make_queries
from .teacher import Teacher
from .train import LOSSES, check_student, load_student, train, training_rows

REPORT_NAME = "distill-report.json"


def distill(
    data: str | Path | Any,
    teacher: str,
    student: str,
    out: str | Path,
    *,
    queries: str | Path | None = None,
    corpus: str | Path | Any = None,
    collection: str | None = None,
    text_field: str = "text",
    title_field: str | None = None,
    vector_name: str | None = None,
    query_encoder: str | None = None,
    candidates: int = 64,
    hard: int | None = None,
    epochs: float = 1.0,
    max_length: int = 256,
    batch_size: int = 16,
    lr: float = 3e-5,
    loss: str = "mse",
    eval_fraction: float = 0.2,
    eval_depth: int = 30,
    make: Sequence[str] = (),
    split: str = "test",
    seed: int = 0,
    overwrite: bool = False,
    progress: bool = True,
    say: Callable[[str], Any] = print,
) -> dict[str, Any]:
    """Train ``student`` to score like ``teacher`` on ``data``; save it to ``out``; return the report.

    ``data`` is a JSONL or captured-traffic file, a BEIR folder, ``demo``, or a collection:
    ``qdrant:PATH``, ``qdrant:URL``, ``weaviate:URL`` or a connected client, with ``collection``,
    its ``text_field`` (and ``title_field``, ``vector_name``), and ``queries`` (a JSONL of
    ``{query}`` rows or a traffic file). ``corpus`` is that collection for a traffic file given as
    ``data`` (ids-only captures read their texts from it). Queries without candidates are searched
    in the collection: made ones with their document's vector, given ones with ``query_encoder``'s
    (a vecrank bi-encoder), or by BM25 over its texts without one.
    ``candidates`` per query are the ``hard`` best first-stage hits (default half) plus medium ones.
    ``make`` lists the kinds of training queries made from a corpus (``titles``, ``sentences``);
    plugins' ``vecrank_distill_queries`` hooks add theirs. ``eval_fraction`` of the given queries
    (never made ones) are held out of training and judged over the teacher's top ``eval_depth`` (of
    at least that many candidates, in the same hardest-to-medium proportion).
    """
    out = Path(out)
    hard = candidates // 2 if hard is None else hard
    _check_settings(out, teacher, student, candidates, hard, loss, eval_fraction, overwrite)
    check_student(student)
    if corpus is not None:
        if queries is not None:
            raise ConfigError(
                "--corpus and --queries: expected one of them (--corpus takes --data's queries)"
            )
        data, queries = corpus, data
    options = CollectionOptions(collection, text_field, title_field, vector_name, query_encoder)
    source = load_source(data, split, queries, options, progress)
    try:  # a collection is searched for candidates, then closed (an embedded Qdrant folder is free again)
        held_out, trained = _split(source, eval_fraction, seed, make)
        prepare_search(source, trained + held_out)
        work = out.parent / f".{out.name}.distill-work"
        scorer = Teacher(teacher, work / "teacher-scores.jsonl", max_length)
        scorer.check()
        work.mkdir(parents=True, exist_ok=True)

        every = trained + held_out
        judged = max(candidates, eval_depth)  # held out: enough candidates for the teacher's top eval_depth
        judged_hard = round(judged * hard / candidates)
        groups = [(trained, hard, candidates - hard), (held_out, judged_hard, judged - judged_hard)]
        chosen = choose_candidates(source, groups, seed, progress)
    finally:
        source.close()
    texts = [[text for _, text in chosen[q.id]] for q in every]
    scores = scorer.score([q.text for q in every], texts, progress)

    model = load_student(student, max_length)
    count = len(trained)
    rows = training_rows([q.text for q in trained], texts[:count], scores[:count], loss)
    train(model, rows, loss, work, epochs=epochs, batch_size=batch_size, lr=lr, seed=seed, progress=progress)
    folder = work / "model"
    if folder.exists():
        shutil.rmtree(folder)
    model.save_pretrained(str(folder))

    report = _report(
        source,
        held_out,
        [chosen[q.id] for q in held_out],
        scores[count:],
        scorer,
        model,
        folder,
        out,
        eval_depth,
    )
    report["queries"] = {"trained": count, "held_out": len(held_out), "made_from_corpus": _made(trained)}
    report["settings"] = {
        "data": str(data), "candidates": candidates, "hard": hard, "epochs": epochs, "max_length": max_length,
        "batch_size": batch_size, "lr": lr, "loss": loss, "eval_fraction": eval_fraction,
        "eval_depth": eval_depth, "seed": seed,
    }  # fmt: skip
    if source.collection is not None:
        report["settings"].update(
            queries=str(queries), **{k: v for k, v in vars(options).items() if v is not None}
        )
    (folder / REPORT_NAME).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    _publish(folder, out)
    shutil.rmtree(work, ignore_errors=True)
    say(format_report(report))
    return report


def _check_settings(
    out: Path,
    teacher: str,
    student: str,
    candidates: int,
    hard: int,
    loss: str,
    fraction: float,
    overwrite: bool,
) -> None:
    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {str(out)!r}: expected a folder, found a file")
    if out.is_dir() and any(out.iterdir()) and not overwrite:
        raise ConfigError(f"--out {str(out)!r} exists and is not empty: pass --overwrite to replace it")
    if _same_model(teacher, student):
        raise ConfigError(
            f"--teacher and --student are the same model ({teacher!r}): expected a different student"
        )
    if loss not in LOSSES:
        raise ConfigError(f"--loss {loss!r}: expected one of {', '.join(LOSSES)}")
    if candidates < 2 or not 0 <= hard <= candidates:
        raise ConfigError(
            f"--candidates {candidates} with {hard} hardest: expected 2+ candidates, hard <= candidates"
        )
    if not 0 < fraction < 1:
        raise ConfigError(f"--eval-fraction {fraction}: expected a fraction between 0 and 1")


def _same_model(teacher: str, student: str) -> bool:
    if teacher == student:
        return True
    paths = [Path(name) for name in (teacher, student)]
    return all(path.exists() for path in paths) and paths[0].resolve() == paths[1].resolve()


def _split(
    source: DistillData, fraction: float, seed: int, make: Sequence[str]
) -> tuple[list[Query], list[Query]]:
    """(held-out, training) queries: a seeded share of the given ones held out; made ones train only."""
    given = list(source.queries)
    if len(given) < 2:
        raise ConfigError(f"--data gives {len(given)} query: expected at least 2 (some are held out)")
    random.Random(seed).shuffle(given)
    count = min(len(given) - 1, max(1, round(fraction * len(given))))
    made = make_queries(source, tuple(make)) if source.documents else []
    return given[:count], given[count:] + made


def _made(queries: Sequence[Query]) -> int:
    return sum(q.made for q in queries)


def _report(
    source: DistillData,
    held_out: Sequence[Query],
    chosen: Sequence[Sequence[tuple[str, str]]],
    teacher_scores: Sequence[Sequence[float]],
    teacher: Teacher,
    student,
    folder: Path,
    out: Path,
    depth: int,
) -> dict[str, Any]:
    """The student against the teacher on each held-out query's teacher top ``depth`` candidates."""

    ids, texts, kept_scores = [], [], []
    for pairs, found in zip(chosen, teacher_scores):
        by_id = dict(zip((doc_id for doc_id, _ in pairs), range(len(pairs))))
        top = ranking([doc_id for doc_id, _ in pairs], found)[:depth]
        ids.append(top)
        texts.append([pairs[by_id[doc_id]][1] for doc_id in top])
        kept_scores.append([found[by_id[doc_id]] for doc_id in top])
    queries = [q.text for q in held_out]
    pairs = sum(len(t) for t in texts)
    started = time.perf_counter()
    teacher._score(queries, texts)  # timed again apart from the cache: its speed on this machine
    teacher_seconds = time.perf_counter() - started
    deployed = Teacher(str(folder), folder.parent / "student-scores.jsonl", teacher.config.max_length)
    deployed.check()  # loads the saved folder through vecrank's engine, as a collection's model would
    started = time.perf_counter()
    student_scores = deployed._score(queries, texts)
    student_seconds = time.perf_counter() - started
    metrics = compare(ids, kept_scores, student_scores, [source.qrels.get(q.id) for q in held_out])
    return {
        "teacher": {
            "model": teacher.name,
            "parameters": _parameters(teacher),
            "pairs_per_second": round(pairs / teacher_seconds, 1),
        },
        "student": {
            "model": str(out),
            "parameters": sum(p.numel() for p in student.parameters()),
            "pairs_per_second": round(pairs / student_seconds, 1),
        },
        "metrics": metrics,
    }


def _parameters(teacher: Teacher) -> int | None:
    """The teacher's parameter count when it is one local torch model; None for a cascade or a service."""
    from ..plugins import get_scorer

    stages = teacher.config.stage_settings()
    if len(stages) != 1:
        return None
    scorer = get_scorer(stages[0][0])
    model = getattr(getattr(scorer, "reranker", scorer), "model", None)
    return sum(p.numel() for p in model.parameters()) if hasattr(model, "parameters") else None


def _publish(folder: Path, out: Path) -> None:
    """Move the finished folder to ``out`` (replacing an old one, which --overwrite allowed)."""
    if out.exists():
        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(folder, out)
