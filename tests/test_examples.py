"""Every example runs offline; the example plugin package installs with pip and is used."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
SCRIPTS = sorted(EXAMPLES.glob("*.py"))


def run(command: list[str], env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    environment = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, env=environment)


@pytest.mark.parametrize("script", SCRIPTS, ids=[script.name for script in SCRIPTS])
def test_example_runs(script):
    result = run([sys.executable, str(script)])
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.strip(), f"{script.name} printed nothing"
    if script.name == "weaviate_basic.py":
        assert "server order" in result.stdout
        assert len([line for line in result.stdout.splitlines() if " reranked 0." in line]) == 6
    if script.name == "qdrant_basic.py":  # real weights (minilm-bi): a sensible answer, not a random one
        reranked = result.stdout.split("Reranked for 'which city has the most people?':")[1]
        assert reranked.splitlines()[1].endswith("Tokyo is the most populous city in the world.")
    if script.name in ("per_collection.py", "serve_and_query.py", "engine.py") and "tiny" in result.stdout:
        assert re.search(r"means? nothing", result.stdout)


def test_plugin_package_installs_and_is_used(tmp_path):
    target = tmp_path / "site"
    install = run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            str(target),
            str(EXAMPLES / "custom_plugin"),
        ]
    )
    assert install.returncode == 0, install.stderr[-3000:]
    env = {"PYTHONPATH": os.pathsep.join([str(target), os.environ.get("PYTHONPATH", "")])}
    listed = run([sys.executable, "-m", "vecrank.cli", "plugins"], env=env)
    assert listed.returncode == 0, listed.stderr[-3000:]
    [plugin] = json.loads(listed.stdout)
    assert plugin["name"] == "keyword_overlap" and plugin["version"] == "0.1.0"
    assert plugin["hooks"] == ["vecrank_after_rerank", "vecrank_register_rerankers"]
    script = (
        "from vecrank.adapters import RerankPipeline, QueryCandidates\n"
        "from vecrank.candidate import Candidate\n"
        "from vecrank import load_config\n"
        "texts = ['bread recipe', 'rotate api keys', 'api docs']\n"
        "hits = [Candidate(id=i, payload={'text': t}, vector_score=0.0, position=i)\n"
        "        for i, t in enumerate(texts)]\n"
        "pipeline = RerankPipeline(load_config({'defaults': {'model': 'overlap'}}))\n"
        "[ordered] = pipeline.rerank('docs', [QueryCandidates('rotate api keys', hits)])\n"
        "print([(c.payload['text'], round(c.score, 3)) for c in ordered])\n"
    )
    used = run([sys.executable, "-c", script], env=env)
    assert used.returncode == 0, used.stderr[-3000:]
    assert used.stdout.strip() == "[('rotate api keys', 1.0), ('api docs', 0.333), ('bread recipe', 0.0)]"
