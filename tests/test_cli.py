"""The ``vecrank`` command: --version, models, rank."""

from __future__ import annotations

import io
import json

import pytest
import torch

from vecrank import CrossEncoderReranker, __version__
from vecrank.cli import main


def test_version(capsys):
    with pytest.raises(SystemExit) as caught:
        main(["--version"])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"vecrank {__version__}"


def test_models_lists_every_seed_alias(capsys):
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    for alias in ("ettin-17m", "ettin-1b", "jina-turbo", "minilm-l6", "bge-base", "mxbai-base"):
        assert alias in rows
    assert rows["ettin-150m"]["source"] == "cross-encoder/ettin-reranker-150m-v1"
    assert rows["minilm-bi"]["local"] is True


def test_rank_file_prints_documents_best_first(tiny_bert, tmp_path, capsys):
    documents = ["rotate the keys yearly", "bread and butter", "key rotation steps"]
    path = tmp_path / "docs.txt"
    path.write_text("\n".join(documents) + "\n\n")
    assert main(["rank", "--model", str(tiny_bert), "--query", "rotate keys", str(path), "--json"]) == 0
    ranking = json.loads(capsys.readouterr().out)
    expected = CrossEncoderReranker(str(tiny_bert)).rank("rotate keys", documents, return_documents=True)
    assert [item["text"] for item in ranking] == [item["text"] for item in expected]
    assert [item["score"] for item in ranking] == pytest.approx(
        [item["score"] for item in expected], abs=1e-6
    )


def test_rank_reads_stdin(tiny_bert, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("alpha\nbeta\n"))
    assert main(["rank", "-m", str(tiny_bert), "-q", "alpha", "--top-k", "1"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 1 and lines[0].split()[0] == "1"


def test_rank_without_documents_says_so(tiny_bert, monkeypatch, capsys):
    monkeypatch.setattr("sys.stdin", io.StringIO("\n"))
    assert main(["rank", "-m", str(tiny_bert), "-q", "x"]) == 2
    assert "no documents" in capsys.readouterr().err


def test_rank_with_unloadable_model_names_it(tmp_path, capsys):
    (tmp_path / "empty-model").mkdir()
    path = tmp_path / "docs.txt"
    path.write_text("one\n")
    assert main(["rank", "-m", str(tmp_path / "empty-model"), "-q", "x", str(path)]) == 1
    error = capsys.readouterr().err
    assert "vecrank rank: reranker model" in error and "empty-model" in error


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_bench_on_a_missing_gpu_says_so(capsys):
    assert main(["bench", "--device", "cuda", "--models", "17m", "--pairs", "10"]) == 2
    assert "no CUDA GPU is visible" in capsys.readouterr().err
