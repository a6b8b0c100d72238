"""Yes/no rerankers given bad input: checkpoints that do not fit a template, and documents of any length."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

import vecrank
from vecrank import CrossEncoderReranker, ModelError
from vecrank.plugins import register_plugin, unregister_plugin
from vecrank.plugins.qwen3_template import Qwen3RerankerTemplate

QUERY = "what is the capital of france"
TEXTS = ["paris is the capital of france", "berlin is a city", "cats and dogs live in the house"]


class JudgeTemplate(Qwen3RerankerTemplate):
    """A third family, as a plugin package would add it: Qwen3 layers, its own name and markers."""

    name = "judge"
    markers = ("judge",)


class JudgePlugin:
    def __init__(self, template):
        self.template = template

    @vecrank.hookimpl
    def vecrank_register_prompt_templates(self, register):
        register(self.template)


@pytest.fixture
def plain_model(tiny_llm_rerankers, tmp_path):
    """The Qwen3 folder under a name that marks no reranker, as a plain chat model would be."""
    return str(shutil.copytree(tiny_llm_rerankers["qwen3"], tmp_path / "qwen3-chat"))


def test_a_plain_causal_lm_needs_a_named_template(plain_model, tiny_llm_rerankers):
    with pytest.raises(ModelError, match="not a known reranker.*prompt_template = 'qwen3-reranker'"):
        CrossEncoderReranker(plain_model, device="cpu")
    named = CrossEncoderReranker(plain_model, device="cpu", prompt_template="qwen3-reranker")
    same = CrossEncoderReranker(str(tiny_llm_rerankers["qwen3"]), device="cpu")
    pairs = [(QUERY, text) for text in TEXTS]
    np.testing.assert_allclose(named.predict(pairs), same.predict(pairs), atol=1e-6)


def test_an_unknown_template_name_lists_the_known_ones(plain_model):
    with pytest.raises(ModelError, match="unknown prompt template 'qwen4'.*mxbai-rerank-v2, qwen3-reranker"):
        CrossEncoderReranker(plain_model, device="cpu", prompt_template="qwen4")


def test_a_family_without_template_says_how_to_register_one(tiny_llm_rerankers):
    unregister_plugin("vecrank.plugins.qwen3_reranker")
    try:
        with pytest.raises(
            ModelError,
            match="no prompt template is registered for model type 'qwen3'.*"
            "vecrank_register_prompt_templates",
        ):
            CrossEncoderReranker(str(tiny_llm_rerankers["qwen3"]), device="cpu")
    finally:
        from vecrank.plugins import qwen3_reranker

        register_plugin(qwen3_reranker, name="vecrank.plugins.qwen3_reranker")


def test_a_plugin_adds_a_family_without_touching_core(tiny_llm_rerankers, tmp_path):
    folder = shutil.copytree(tiny_llm_rerankers["qwen3"], tmp_path / "judge-model")
    register_plugin(JudgePlugin(JudgeTemplate()), name="judge-family")
    try:
        reranker = CrossEncoderReranker(str(folder), device="cpu")
        assert reranker.loaded.template.name == "judge"
        assert reranker.predict([(QUERY, text) for text in TEXTS]).shape == (3,)
    finally:
        unregister_plugin("judge-family")


def test_answers_that_are_not_single_tokens_name_folder_and_token(tiny_llm_rerankers, tmp_path):
    folder = shutil.copytree(tiny_llm_rerankers["qwen3"], tmp_path / "judge-model")
    template = JudgeTemplate()
    template.answers = ("yes indeed", "no")
    register_plugin(JudgePlugin(template), name="judge-family")
    try:
        with pytest.raises(ModelError, match=f"{folder}.*answer token 'yes indeed'.*not one"):
            CrossEncoderReranker(str(folder), device="cpu")
    finally:
        unregister_plugin("judge-family")


def test_a_prompt_template_for_a_cross_encoder_is_an_error(tiny_bert):
    with pytest.raises(ModelError, match="not a causal language model"):
        CrossEncoderReranker(str(tiny_bert), device="cpu", prompt_template="qwen3-reranker")


def test_max_length_must_leave_room_for_query_and_document(tiny_llm_rerankers):
    with pytest.raises(ModelError, match="leaves no room"):
        CrossEncoderReranker(str(tiny_llm_rerankers["qwen3"]), device="cpu", max_length=20)


@pytest.mark.parametrize("family", ["qwen3", "qwen2"])
@pytest.mark.parametrize("prefix_reuse", [True, False])
def test_an_overlong_document_is_cut_and_never_fails_its_batch(tiny_llm_rerankers, family, prefix_reuse):
    reranker = CrossEncoderReranker(
        str(tiny_llm_rerankers[family]), device="cpu", max_length=128, prefix_reuse=prefix_reuse
    )
    overlong = "the river runs to the sea and " * 20_000
    pairs = [(QUERY, TEXTS[0]), (QUERY, overlong), (QUERY, TEXTS[1]), ("x " * 5_000, TEXTS[2])]
    scores = reranker.predict(pairs)
    assert np.isfinite(scores).all()
    alone = [reranker.predict([pair])[0] for pair in (pairs[0], pairs[2], pairs[3])]
    np.testing.assert_allclose(scores[[0, 2, 3]], alone, atol=1e-5)
    cut = reranker.predict([(QUERY, overlong[:2_000])])[0]  # holds more than the 128 tokens kept
    np.testing.assert_allclose(scores[1], cut, atol=1e-5)
