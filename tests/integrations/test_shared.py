"""What the three integrations share: the missing-extra error, and engines shared with the adapters."""

from __future__ import annotations

import importlib
import subprocess
import sys

import pytest
from integration_helpers import PASSAGES, QUESTION, config
from qdrant_client import QdrantClient, models

import vecrank
from vecrank.core import cache
from vecrank.integrations.shared import FrameworkReranker, Hit
from vecrank.plugins.manager import reset

MODULES = {
    "vecrank.integrations.langchain": ("langchain_core", "langchain"),
    "vecrank.integrations.llamaindex": ("llama_index", "llamaindex"),
    "vecrank.integrations.haystack": ("haystack", "haystack"),
}


@pytest.mark.parametrize("module", list(MODULES))
def test_a_missing_framework_is_a_one_line_error_naming_the_extra(module) -> None:
    framework, extra = MODULES[module]
    # A fresh interpreter where the framework cannot be imported (None in sys.modules blocks it).
    script = f"import sys; sys.modules[{framework!r}] = None\nimport {module}"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.returncode != 0
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("ImportError: vecrank's ")
    assert f"pip install 'vecrank[{extra}]'" in last
    assert "\n" not in last.split("ImportError: ", 1)[1]


def test_importing_vecrank_imports_no_framework() -> None:
    frameworks = {"langchain_core", "llama_index", "haystack"}
    script = f"import sys, vecrank, vecrank.integrations; print(sorted(set(sys.modules) & {frameworks!r}))"
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[]", result.stderr[-2000:]


def test_integrations_and_adapters_share_one_engine(model, monkeypatch) -> None:
    """A wrapped client and a framework reranker naming the same model load it once, and agree."""
    loads = []

    class CountedReranker(cache.CrossEncoderReranker):
        def __init__(self, *args, **kwargs) -> None:
            loads.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(cache, "CrossEncoderReranker", CountedReranker)
    cache.clear()
    reset()  # the plugins' scorers hold the engines they made: start without them
    client = vecrank.wrap(QdrantClient(":memory:"), config=config(model))
    client.create_collection("docs", vectors_config=models.VectorParams(size=2, distance=models.Distance.DOT))
    points = [
        models.PointStruct(id=i, vector=[1.0, i], payload={"text": t}) for i, t in enumerate(PASSAGES[:5])
    ]
    client.upsert("docs", points)
    adapter_hits = client.query_points("docs", query=[1.0, 0.0], limit=5, rerank_query=QUESTION).points
    reranker = FrameworkReranker(config(model), collection="docs", source="test")
    hits = [Hit(document=t, text=t, metadata={}, vector_score=None) for t in PASSAGES[:5]]
    ranked = reranker.rerank("docs", QUESTION, hits, top_n=None)
    assert [r.document for r in ranked] == [p.payload["text"] for p in adapter_hits]
    assert [r.score for r in ranked] == pytest.approx([p.score for p in adapter_hits], abs=1e-6)
    assert loads == [model]


# Each post-processor, a keyword its peer takes but it does not, and what the error suggests instead.
POST_PROCESSORS = {
    "langchain": ("vecrank.integrations.langchain", "VecrankRerank", "top_k", "top_n"),
    "llamaindex": ("vecrank.integrations.llamaindex", "VecrankRerank", "top_k", "top_n"),
    "haystack": ("vecrank.integrations.haystack", "VecrankRanker", "top_n", "top_k"),
}


@pytest.mark.parametrize("framework", list(POST_PROCESSORS))
def test_unknown_keywords_and_bad_settings_are_clear_errors(framework, model) -> None:
    module, name, wrong, right = POST_PROCESSORS[framework]
    post_processor = getattr(importlib.import_module(module), name)
    unknown = rf"{name} got an unexpected keyword argument '{wrong}' \(did you mean '{right}'\?\)"
    with pytest.raises(TypeError, match=unknown):
        post_processor(model=model, **{wrong: 3})
    with pytest.raises(TypeError, match="'model_name'.* it takes: .*max_length"):
        post_processor(model_name=model)
    with pytest.raises(vecrank.ConfigError, match=rf"{name}: key 'max_length': .*greater than or equal to 1"):
        post_processor(model=model, max_length=0)
    with pytest.raises(
        vecrank.ConfigError, match=rf"{name}: key 'model': unknown model 'ettin-17'.*ettin-17m"
    ):
        post_processor(model="ettin-17")
