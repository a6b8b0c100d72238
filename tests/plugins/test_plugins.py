"""Plugins: entry-point loading, a test per hook, and errors that name the plugin."""

from __future__ import annotations

import json
import re
import textwrap

import pytest

import vecrank
from vecrank import PluginError, RerankError, load_config
from vecrank.adapters import QueryCandidates, RerankPipeline
from vecrank.candidate import Candidate
from vecrank.cli import main as cli_main
from vecrank.plugins import manager

LENGTH_PLUGIN = """
import vecrank


class LengthScorer:
    def __init__(self, config):
        self.config = config

    def predict(self, pairs):
        return [float(len(text)) for _, text in pairs]


@vecrank.hookimpl
def vecrank_register_rerankers(register):
    register("length", LengthScorer, aliases=("by-length",))
"""


def install_entry_point(root, module: str, source: str, version: str = "1.2.3") -> None:
    """Write a module and a dist-info with a ``vecrank`` entry point, as pip would."""
    (root / f"{module}.py").write_text(textwrap.dedent(source))
    dist = root / f"{module}-{version}.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: {version}\n")
    (dist / "entry_points.txt").write_text(f"[vecrank]\n{module} = {module}\n")


@pytest.fixture
def fresh_plugins(monkeypatch, tmp_path):
    """A plugin manager rebuilt from a clean state, with ``tmp_path`` importable."""
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delenv(manager.LOAD_PLUGINS_ENV, raising=False)
    manager.reset()
    yield tmp_path
    manager.reset()


def candidates(texts):
    return [
        Candidate(id=i, payload={"text": t}, vector_score=1.0 - i / 10, position=i)
        for i, t in enumerate(texts)
    ]


def rerank(config: dict, texts, query="q"):
    pipeline = RerankPipeline(load_config(config))
    [ordered] = pipeline.rerank("docs", [QueryCandidates(query, candidates(texts))])
    return ordered


def test_entry_point_plugin_is_loaded_and_used(fresh_plugins, capsys):
    install_entry_point(fresh_plugins, "vecrank_length", LENGTH_PLUGIN)
    ordered = rerank({"defaults": {"model": "by-length"}}, ["ab", "abcd", "a", "abc"])
    assert [c.payload["text"] for c in ordered] == ["abcd", "abc", "ab", "a"]
    assert [c.score for c in ordered] == [4.0, 3.0, 2.0, 1.0]

    assert cli_main(["plugins"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed == [
        {
            "name": "vecrank_length",
            "builtin": False,
            "version": "1.2.3",
            "hooks": ["vecrank_register_rerankers"],
        }
    ]
    assert cli_main(["models"]) == 0
    assert re.search(r"^length +plugin vecrank_length +\(ready\)$", capsys.readouterr().out, re.M)


def test_allow_list_variable_skips_other_plugins(fresh_plugins, monkeypatch):
    install_entry_point(fresh_plugins, "vecrank_length", LENGTH_PLUGIN)
    monkeypatch.setenv(manager.LOAD_PLUGINS_ENV, "")
    assert manager.get_reranker_registry().get("length") is None
    manager.reset()
    monkeypatch.setenv(manager.LOAD_PLUGINS_ENV, "vecrank_length")
    assert manager.get_reranker_registry().get("length").plugin == "vecrank_length"


def test_plugin_that_fails_to_import_is_named(fresh_plugins):
    install_entry_point(fresh_plugins, "vecrank_broken", "import not_a_module_anywhere\n")
    with pytest.raises(PluginError, match="plugin 'vecrank_broken' .* failed to load: ModuleNotFoundError"):
        manager.get_plugin_manager()


def test_plugin_raising_in_register_is_named(fresh_plugins):
    source = LENGTH_PLUGIN.replace('register("length"', 'register(None.name, "x"')
    install_entry_point(fresh_plugins, "vecrank_bad_register", source)
    with pytest.raises(
        PluginError, match="plugin 'vecrank_bad_register' raised in vecrank_register_rerankers"
    ):
        manager.get_plugin_manager()


class Raising:
    """A plugin whose hooks raise, to check the errors name it."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_document_text(self, collection, candidate, config):
        raise KeyError("no such field")


class RaisingReranker:
    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        raise RuntimeError("GPU on fire")


def test_hook_error_names_the_plugin(fresh_plugins):
    manager.register_plugin(Raising(), name="raising-text")
    with pytest.raises(PluginError, match="plugin 'raising-text' raised in vecrank_document_text: KeyError"):
        rerank({"defaults": {"model": "minilm-bi"}}, ["a"])


def test_reranker_error_is_a_rerank_error_naming_the_plugin(fresh_plugins):
    manager.register_plugin(RaisingReranker(), name="raising-rerank")
    with pytest.raises(
        RerankError, match="plugin 'raising-rerank' raised in vecrank_rerank: RuntimeError: GPU"
    ):
        rerank({"defaults": {"model": "minilm-bi"}}, ["a"])


class Wrapping:
    @vecrank.hookimpl(wrapper=True)
    def vecrank_rerank(self, collection, pairs, config):
        return (yield)


def test_a_hook_wrapper_is_refused_and_left_out(fresh_plugins):
    with pytest.raises(PluginError, match="plugin 'wrapping': vecrank_rerank is a hook wrapper"):
        manager.register_plugin(Wrapping(), name="wrapping")
    assert manager.get_plugin_manager().get_plugin("wrapping") is None
    manager.register_plugin(FixedScores([0.0, 1.0]), name="fixed")
    assert [c.text for c in rerank({"defaults": {"model": "minilm-bi"}}, ["a", "b"])] == ["b", "a"]


class FixedScores:
    """Answers ``vecrank_rerank`` with given scores, so post-processing can be checked exactly."""

    def __init__(self, scores):
        self.scores = scores

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        return self.scores[: len(pairs)]


@pytest.mark.parametrize(
    ("settings", "expected"),
    [
        ({}, [("c", 3.0), ("a", 1.0), ("b", -1.0)]),
        ({"normalize": "sigmoid"}, [("c", 0.9525741), ("a", 0.7310586), ("b", 0.2689414)]),
        ({"normalize": "minmax"}, [("c", 1.0), ("a", 0.5), ("b", 0.0)]),
        ({"normalize": "minmax", "min_score": 0.4}, [("c", 1.0), ("a", 0.5)]),
        # vector scores 1.0, 0.9, 0.8 -> minmax 1, .5, 0; rerank minmax .5, 0, 1
        ({"fusion": "weighted", "fusion_weight": 0.5}, [("a", 0.75), ("c", 0.5), ("b", 0.25)]),
        ({"fusion": "rrf", "rrf_k": 1}, [("c", 1 / 2 + 1 / 4), ("a", 1 / 3 + 1 / 2), ("b", 1 / 4 + 1 / 3)]),
    ],
)
def test_after_rerank_builtins(fresh_plugins, settings, expected):
    manager.register_plugin(FixedScores([1.0, -1.0, 3.0]), name="fixed")
    ordered = rerank({"defaults": {"model": "minilm-bi", **settings}}, ["a", "b", "c"])
    got = [(c.payload["text"], c.score) for c in ordered]
    expected = sorted(expected, key=lambda item: -item[1])
    assert [text for text, _ in got] == [text for text, _ in expected]
    assert [score for _, score in got] == pytest.approx([score for _, score in expected], abs=1e-6)
    assert {c.payload["text"]: c.raw_score for c in ordered} == {
        t: s for t, s in zip("abc", [1.0, -1.0, 3.0]) if t in {x for x, _ in expected}
    }


class Prefixing:
    """A document-text plugin: its answer wins over the built-in payload field."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_document_text(self, collection, candidate, config):
        return f"{collection}:{candidate.payload['text']}"


class Recorder:
    def __init__(self):
        self.seen = []

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        self.seen.extend(pairs)

    @vecrank.hookimpl
    def vecrank_after_rerank(self, collection, query, candidates, config):
        self.seen.append(("after", query, len(candidates)))


def test_document_text_and_after_rerank_hooks_from_plugins(fresh_plugins):
    recorder = Recorder()
    manager.register_plugin(Prefixing(), name="prefixing")
    manager.register_plugin(FixedScores([0.0, 1.0]), name="fixed")
    manager.register_plugin(recorder, name="recorder")  # registered last: its tryfirst hook runs first
    rerank({"defaults": {"model": "minilm-bi"}}, ["x", "y"], query="what")
    assert recorder.seen == [("what", "docs:x"), ("what", "docs:y"), ("after", "what", 2)]


def test_template_text(fresh_plugins):
    recorder = Recorder()
    manager.register_plugin(FixedScores([0.0]), name="fixed")
    manager.register_plugin(recorder, name="recorder")
    pipeline = RerankPipeline(
        load_config({"defaults": {"model": "minilm-bi", "template": "{title}: {text}"}})
    )
    hit = Candidate(id=7, payload={"title": "Keys", "text": "rotate"}, vector_score=1.0, position=0)
    pipeline.rerank("docs", [QueryCandidates("q", [hit])])
    assert recorder.seen[0] == ("q", "Keys: rotate")
    missing = Candidate(id=8, payload={"text": "rotate"}, vector_score=1.0, position=0)
    with pytest.raises(vecrank.MissingTextError, match="hit 8 has no field 'title'"):
        pipeline.rerank("docs", [QueryCandidates("q", [missing])])


class AsyncScores:
    """Answers ``vecrank_arerank`` with an awaitable (async callers) and ``vecrank_rerank`` otherwise."""

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_arerank(self, collection, pairs, config):
        async def scores():
            return [float(len(text)) for _, text in pairs]

        return scores()

    @vecrank.hookimpl(tryfirst=True)
    def vecrank_rerank(self, collection, pairs, config):
        return [-float(len(text)) for _, text in pairs]


async def test_hook_vecrank_arerank_is_awaited_by_async_callers_only(fresh_plugins):
    manager.register_plugin(AsyncScores(), name="async-scores")
    pipeline = RerankPipeline(load_config({"defaults": {"model": "minilm-bi"}}))
    texts = ["bb", "a", "ccc"]
    [awaited] = await pipeline.arerank("docs", [QueryCandidates("q", candidates(texts))])
    [called] = pipeline.rerank("docs", [QueryCandidates("q", candidates(texts))])
    assert [c.payload["text"] for c in awaited] == ["ccc", "bb", "a"]
    assert [c.payload["text"] for c in called] == ["a", "bb", "ccc"]
