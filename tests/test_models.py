"""One model-name resolution: aliases, folders, hub ids, plugin rerankers, and errors that suggest names."""

from __future__ import annotations

import pytest

import vecrank
from vecrank.core.hub import hub_reachable
from vecrank.errors import ModelError
from vecrank.models import is_remote_model, resolve_model


def test_alias_folder_and_hub_id(tmp_path):
    alias = resolve_model("Ettin-17M")
    assert (alias.alias, alias.source, alias.is_local) == (
        "ettin-17m",
        "cross-encoder/ettin-reranker-17m-v1",
        False,
    )
    folder = resolve_model(str(tmp_path))
    assert (folder.source, folder.is_local) == (str(tmp_path.resolve()), True)
    hub = resolve_model("BAAI/bge-reranker-v2-m3")
    assert (hub.source, hub.is_local, hub.alias) == ("BAAI/bge-reranker-v2-m3", False, None)


def test_a_typo_suggests_the_close_names():
    with pytest.raises(ModelError, match=r"unknown model 'ettin-17'.*did you mean 'ettin-17m'"):
        resolve_model("ettin-17")


def test_a_missing_folder_is_not_taken_for_a_hub_id(tmp_path):
    with pytest.raises(ModelError, match="no such folder"):
        resolve_model(str(tmp_path / "models" / "mine"))
    with pytest.raises(ModelError, match="no such folder"):
        resolve_model("./models/mine")


@pytest.mark.parametrize("name", ["", "  ", None, 3])
def test_a_name_must_be_a_non_empty_string(name):
    with pytest.raises(ModelError, match="non-empty string"):
        resolve_model(name)


def test_a_plugin_name_is_pointed_to_its_plugin():
    from vecrank.plugins import check_model_name

    with pytest.raises(
        ModelError, match=r"'minilm-bi' is a reranker registered by plugin 'vecrank.plugins.bi_encoder'"
    ):
        resolve_model("minilm-bi", registered={"minilm-bi": "vecrank.plugins.bi_encoder"})
    check_model_name("minilm-bi")  # a valid name wherever a reranker is named


def test_the_engine_knows_no_plugin_and_points_to_the_list_of_names():
    with pytest.raises(ModelError, match=r"unknown model 'minilm-bi'.*`vecrank models` lists the names"):
        vecrank.CrossEncoderReranker("minilm-bi")


def test_resolving_a_name_loads_no_plugin_pydantic_or_torch():
    import subprocess
    import sys

    code = (
        "import sys\n"
        "from vecrank.models import resolve_model\n"
        "resolve_model('ettin-17m')\n"
        "try:\n    resolve_model('ettin-17')\nexcept Exception:\n    pass\n"
        "print(sorted(m for m in ('torch', 'pydantic', 'pluggy', 'vecrank.plugins') if m in sys.modules))"
    )
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert found.stdout.strip() == "[]"


def test_urls_are_remote_rerankers_and_valid_names():
    from vecrank.plugins import check_model_name

    assert is_remote_model("http://127.0.0.1:8080") and is_remote_model("https://rerank.example/v1")
    assert not is_remote_model("cross-encoder/x")
    check_model_name("https://rerank.example/v1")


def test_offline_a_model_not_on_this_machine_fails_at_once_and_says_how_to_get_it(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    assert not hub_reachable()
    with pytest.raises(ModelError) as caught:
        vecrank.CrossEncoderReranker("ettin-1b")
    message = str(caught.value)
    assert "'ettin-1b' (cross-encoder/ettin-reranker-1b-v1) is not on this machine" in message
    assert "vecrank download ettin-1b" in message


def test_an_unreachable_endpoint_counts_as_offline(monkeypatch):
    import socket

    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    monkeypatch.setenv("HF_ENDPOINT", f"http://127.0.0.1:{port}")
    assert not hub_reachable()
    with pytest.raises(ModelError, match="hub cannot be reached"):
        vecrank.CrossEncoderReranker("org/never-downloaded")


def test_yes_no_reranker_aliases_resolve_and_are_suggested():
    from vecrank.models import resolve_model

    assert resolve_model("qwen3-reranker-0.6b").source == "Qwen/Qwen3-Reranker-0.6B"
    assert resolve_model("mxbai-rerank-large-v2").source == "mixedbread-ai/mxbai-rerank-large-v2"
    with pytest.raises(ModelError, match="did you mean 'qwen3-reranker-0.6b'"):
        resolve_model("qwen3-reranker-06b")
