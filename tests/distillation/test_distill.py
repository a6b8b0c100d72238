"""`vecrank distill` end to end on tiny random models: JSONL and BEIR sources, the folder it writes,
the teacher-score cache (resume, disk full), and each bad input's error."""

from __future__ import annotations

import errno
import json
import pathlib
from pathlib import Path

import pytest

from vecrank.cli import main
from vecrank.distillation import REPORT_NAME, distill
from vecrank.distillation.teacher import Teacher
from vecrank.errors import ConfigError, DistillError

FAST = {"candidates": 6, "max_length": 48, "batch_size": 8, "progress": False, "say": lambda _: None}
WORDS = ["cats", "dogs", "keys", "servers", "backups", "tables", "rivers", "bread", "music", "trains"]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def jsonl_rows(count: int = 10) -> list[dict]:
    return [
        {
            "query": f"how do {WORDS[i % 10]} work, case {i}",
            "documents": [f"{WORDS[(i + j) % 10]} and {WORDS[j % 10]} notes {j}" for j in range(8)],
        }
        for i in range(count)
    ]


def beir_folder(root: Path, qrels: bool = True) -> Path:
    root.mkdir()
    corpus = [{"_id": f"d{n}", "title": f"About {w}", "text": f"{w} are discussed here. More on {w}."}
              for n, w in enumerate(WORDS * 2)]  # fmt: skip
    write_jsonl(root / "corpus.jsonl", corpus)
    write_jsonl(
        root / "queries.jsonl", [{"_id": f"q{n}", "text": f"what about {w}?"} for n, w in enumerate(WORDS)]
    )
    if qrels:
        (root / "qrels").mkdir()
        lines = ["query-id\tcorpus-id\tscore"] + [f"q{n}\td{n}\t1" for n in range(10)]
        (root / "qrels" / "test.tsv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


def test_cli_from_jsonl_writes_a_cross_encoder_folder_and_its_report(models, tmp_path, capsys):
    data = write_jsonl(tmp_path / "data.jsonl", jsonl_rows())
    out = tmp_path / "student-out"
    status = main(
        ["distill", "--data", str(data), "--teacher", str(models["teacher"]),
         "--student", str(models["student"]), "--out", str(out), "--candidates", "6",
         "--max-length", "48", "--batch-size", "8", "--eval-fraction", "0.3"]
    )  # fmt: skip
    assert status == 0
    printed = capsys.readouterr().out
    assert "Kendall tau" in printed and "top-10 overlap" in printed
    report = json.loads((out / REPORT_NAME).read_text())
    assert report["queries"] == {"trained": 7, "held_out": 3, "made_from_corpus": 0}
    assert report["student"]["parameters"] == report["teacher"]["parameters"] > 0
    assert 0 <= report["metrics"]["student_ndcg@10_vs_teacher"] <= 1
    assert -1 <= report["metrics"]["kendall_tau"] <= 1
    assert not (tmp_path / ".student-out.distill-work").exists()

    # The folder loads in sentence-transformers and in vecrank's engine, with the same scores.
    import torch
    from sentence_transformers.cross_encoder import CrossEncoder

    from vecrank.core import get_reranker

    pairs = [("how do cats work", "cats and dogs notes"), ("keys", "bread and music")]
    plain = CrossEncoder(str(out), activation_fn=torch.nn.Identity())  # raw logits, as vecrank keeps them
    reference = plain.predict(pairs, convert_to_numpy=True)
    assert list(get_reranker(str(out), device="cpu", dtype="fp32").predict(pairs)) == pytest.approx(
        reference.tolist(), abs=1e-4
    )


@pytest.mark.parametrize("loss", ["margin-mse", "listwise"])
def test_beir_folder_with_qrels_and_made_queries(models, tmp_path, loss):
    data = beir_folder(tmp_path / "beir")
    report = distill(
        data, str(models["teacher"]), str(models["student"]), tmp_path / "out", loss=loss,
        eval_fraction=0.3, make=["titles", "sentences"], **FAST,
    )  # fmt: skip
    # 3 questions held out; 7 trained on, plus the distinct titles and first sentences of the corpus.
    assert report["queries"] == {"trained": 27, "held_out": 3, "made_from_corpus": 20}
    assert report["metrics"]["judged_queries"] == 3
    assert 0 <= report["metrics"]["student_ndcg@10_qrels"] <= 1
    assert (tmp_path / "out" / "model.safetensors").is_file()


def test_an_interrupted_run_resumes_from_the_cached_teacher_scores(models, tmp_path, monkeypatch):
    data = write_jsonl(tmp_path / "data.jsonl", jsonl_rows())
    out = tmp_path / "out"

    def broken_training(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("vecrank.distillation.run.train", broken_training)
    with pytest.raises(KeyboardInterrupt):
        distill(data, str(models["teacher"]), str(models["student"]), out, **FAST)
    assert not out.exists()
    cache = tmp_path / ".out.distill-work" / "teacher-scores.jsonl"
    assert len(cache.read_text().splitlines()) == 10  # every query scored before training began
    monkeypatch.undo()

    scored = []
    original = Teacher._score
    monkeypatch.setattr(Teacher, "_score", lambda self, q, t: scored.append(len(q)) or original(self, q, t))
    distill(data, str(models["teacher"]), str(models["student"]), out, **FAST)
    # Only the load check (one pair) and the held-out timing ran the teacher again: no rescoring.
    assert (
        scored[0] == 1 and len(scored) == 4
    )  # teacher check, held-out timing, student check, student timing
    assert (out / REPORT_NAME).is_file()


def test_a_full_disk_while_caching_is_a_clear_error_and_leaves_no_folder(models, tmp_path, monkeypatch):
    data = write_jsonl(tmp_path / "data.jsonl", jsonl_rows(20))
    real_open = pathlib.Path.open
    writes = []

    class FullDisk:
        def __init__(self, handle):
            self.handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.handle.close()

        def write(self, text):
            writes.append(text)
            if len(writes) > 1:  # the first chunk fits, then the disk is full
                raise OSError(errno.ENOSPC, "No space left on device")
            return self.handle.write(text)

        def flush(self):
            self.handle.flush()

    def open_(self, mode="r", *args, **kwargs):
        handle = real_open(self, mode, *args, **kwargs)
        return FullDisk(handle) if self.name == "teacher-scores.jsonl" and "a" in mode else handle

    monkeypatch.setattr(pathlib.Path, "open", open_)
    with pytest.raises(DistillError, match="disk full while caching teacher scores") as caught:
        distill(data, str(models["teacher"]), str(models["student"]), tmp_path / "out", **FAST)
    assert "the 8 queries scored so far are kept" in str(caught.value)
    assert "rerun the same command to resume" in str(caught.value)
    assert not (tmp_path / "out").exists()


def test_an_existing_folder_is_kept_unless_overwrite(models, tmp_path):
    data = write_jsonl(tmp_path / "data.jsonl", jsonl_rows())
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="exists and is not empty: pass --overwrite"):
        distill(data, str(models["teacher"]), str(models["student"]), out, **FAST)
    assert (out / "keep.txt").read_text() == "mine"
    distill(data, str(models["teacher"]), str(models["student"]), out, overwrite=True, **FAST)
    assert not (out / "keep.txt").exists() and (out / REPORT_NAME).is_file()


def causal_lm(root: Path) -> Path:
    from transformers import LlamaConfig

    config = LlamaConfig(hidden_size=16, intermediate_size=32, num_hidden_layers=1, num_attention_heads=2)
    config.architectures = ["LlamaForCausalLM"]
    config.save_pretrained(root)
    return root


@pytest.mark.parametrize(
    ("case", "message"),
    [
        (
            "missing-corpus",
            "expected corpus.jsonl and queries.jsonl .*found queries.jsonl; corpus.jsonl is missing",
        ),
        ("empty-query", "line 2: expected a non-empty query string, found ' '"),
        ("duplicate-query", "query '3' repeats query '1' .*expected each query once"),
        ("no-documents", "line 1: expected a non-empty list of 'documents', found \\[\\]"),
        ("same-model", "--teacher and --student are the same model"),
        ("causal-student", "is a causal LM \\(llama, LlamaForCausalLM\\).*not supported yet"),
        ("teacher-offline", "--teacher 'no-such-org/no-such-reranker' cannot be used here: expected a model"),
        ("missing-data", "expected a JSONL file, a BEIR folder or 'demo'; found nothing"),
    ],
)
def test_bad_input_is_a_clear_error_and_writes_nothing(models, tmp_path, case, message):
    teacher, student = str(models["teacher"]), str(models["student"])
    data: Path = write_jsonl(tmp_path / "data.jsonl", jsonl_rows(4))
    if case == "missing-corpus":
        data = tmp_path / "beir"
        data.mkdir()
        write_jsonl(data / "queries.jsonl", [{"_id": "q", "text": "a question"}])
    elif case == "empty-query":
        data = write_jsonl(tmp_path / "bad.jsonl", [jsonl_rows(1)[0], {"query": " ", "documents": ["x"]}])
    elif case == "duplicate-query":
        rows = jsonl_rows(2)
        data = write_jsonl(tmp_path / "bad.jsonl", [*rows, {**rows[0], "query": rows[0]["query"].upper()}])
    elif case == "no-documents":
        data = write_jsonl(tmp_path / "bad.jsonl", [{"query": "q", "documents": []}])
    elif case == "same-model":
        student = str(models["teacher"]) + "/"
    elif case == "causal-student":
        student = str(causal_lm(tmp_path / "llama"))
    elif case == "teacher-offline":
        teacher = "no-such-org/no-such-reranker"
    elif case == "missing-data":
        data = tmp_path / "nothing-here"
    with pytest.raises(ConfigError, match=message):
        distill(data, teacher, student, tmp_path / "out", **FAST)
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.distill-work").exists()
