"""JinaBERT in vecrank's own module: parity with a plain padded reference, layouts, loading, bad input.

The reference below is the architecture written out from the checkpoint's tensors alone (no
vecrank code): padded batches, eager attention with an explicit ALiBi bias matrix.
"""

from __future__ import annotations

import json
import logging
import math
import random
import sys
import types
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from safetensors.torch import load_file, save_file
from transformers import AutoTokenizer

from vecrank import ModelError
from vecrank.core import CrossEncoderReranker, alibi
from vecrank.core.jinabert import JinaBertForSequenceClassification
from vecrank.core.quantize import count_int8_linears
from vecrank.models import resolve_model
from vecrank.testing.tiny_models import build_jinabert

WORDS = ["the", "city", "river", "people", "capital", "rain", "music", "history", "python", "code", "paris"]
TOLERANCE = 1e-4


def reference_slopes(heads: int) -> list[float]:
    """ALiBi slopes as the paper states them: 2**(-8k/n) for n a power of two, else interleaved."""
    closest = 2 ** math.floor(math.log2(heads))
    slopes = [2 ** (-8 * k / closest) for k in range(1, closest + 1)]
    if closest < heads:
        doubled = [2 ** (-8 * k / (2 * closest)) for k in range(1, 2 * closest + 1)]
        slopes += doubled[0::2][: heads - closest]
    return slopes


def reference_logits(folder: Path, pairs: list[tuple[str, str]], max_length: int) -> np.ndarray:
    """The checkpoint scored plainly: padded batch, eager attention, explicit bias; float64, head by head."""
    config = json.loads((folder / "config.json").read_text())
    weights = {name: tensor.double() for name, tensor in load_file(folder / "model.safetensors").items()}
    tokenizer = AutoTokenizer.from_pretrained(folder)
    batch = tokenizer(
        [q for q, _ in pairs],
        [d for _, d in pairs],
        padding=True,
        truncation="longest_first",
        max_length=max_length,
        return_tensors="pt",
    )
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    depth, inner, eps = hidden // heads, config["intermediate_size"], config["layer_norm_eps"]
    act = {"geglu": F.gelu, "reglu": F.relu}[config["feed_forward_type"]]

    def linear(x, name):
        out = x @ weights[f"{name}.weight"].T
        return out + weights[f"{name}.bias"] if f"{name}.bias" in weights else out

    def norm(x, name):
        return F.layer_norm(x, (hidden,), weights[f"{name}.weight"], weights[f"{name}.bias"], eps)

    length = batch["input_ids"].shape[1]
    position = torch.arange(length, dtype=torch.float64)
    distance = (position[:, None] - position[None, :]).abs()
    padding = (1.0 - batch["attention_mask"].double())[:, None, :] * -1e30  # (B, 1, L) over keys
    slopes = reference_slopes(heads)
    x = weights["bert.embeddings.word_embeddings.weight"][batch["input_ids"]]
    x = norm(
        x + weights["bert.embeddings.token_type_embeddings.weight"][batch["token_type_ids"]],
        "bert.embeddings.LayerNorm",
    )
    for layer in range(config["num_hidden_layers"]):
        p = f"bert.encoder.layer.{layer}."
        q, k, v = (linear(x, p + f"attention.self.{n}") for n in ("query", "key", "value"))
        if p + "attention.self.layer_norm_q.weight" in weights:
            q, k = norm(q, p + "attention.self.layer_norm_q"), norm(k, p + "attention.self.layer_norm_k")
        mixed = torch.empty_like(x)
        for h in range(heads):
            part = slice(h * depth, (h + 1) * depth)
            scores = q[..., part] @ k[..., part].transpose(1, 2) / math.sqrt(depth)
            scores = scores - slopes[h] * distance + padding
            mixed[..., part] = torch.softmax(scores, dim=-1) @ v[..., part]
        attended = norm(linear(mixed, p + "attention.output.dense") + x, p + "attention.output.LayerNorm")
        if p + "mlp.gated_layers.weight" in weights:
            gated = linear(attended, p + "mlp.gated_layers")
            x = norm(
                linear(act(gated[..., :inner]) * gated[..., inner:], p + "mlp.wo") + attended,
                p + "mlp.layernorm",
            )
        else:
            attended = norm(attended + x, p + "layer_norm_1")
            gated = linear(attended, p + "mlp.up_gated_layer")
            x = norm(
                linear(gated[..., :inner] * act(gated[..., inner:]), p + "mlp.down_layer") + attended,
                p + "layer_norm_2",
            )
    first = x[:, 0]
    if "bert.pooler.dense.weight" in weights:
        first = torch.tanh(linear(first, "bert.pooler.dense"))
    return linear(first, "classifier")[:, 0].numpy()


def nq_like_pairs(count: int, seed: int = 0) -> list[tuple[str, str]]:
    """Short queries and passages of 0 to 60 words (kept short: the real shapes are slow in float64)."""
    rng = random.Random(seed)
    return [
        (
            " ".join(rng.choices(WORDS, k=rng.randint(1, 8))),
            " ".join(rng.choices(WORDS, k=rng.randint(0, 60))),
        )
        for _ in range(count)
    ]


def assert_parity(ours: np.ndarray, reference: np.ndarray) -> None:
    assert np.abs(ours - reference).max() <= TOLERANCE
    assert np.argsort(-ours, kind="stable").tolist() == np.argsort(-reference, kind="stable").tolist()


def test_slopes_follow_the_paper_for_any_head_count():
    assert alibi.alibi_slopes(8) == pytest.approx([2**-k for k in range(1, 9)])
    for heads in (1, 2, 3, 4, 6, 12, 16, 24):
        assert alibi.alibi_slopes(heads) == pytest.approx(reference_slopes(heads)), heads


@pytest.mark.parametrize(("shape", "layers", "heads"), [("turbo", 6, 12), ("tiny", 4, 12)])
def test_real_shapes_match_the_plain_reference_on_nq_like_pairs(tmp_path, shape, layers, heads):
    folder = build_jinabert(tmp_path / shape, layers=layers, hidden=384, heads=heads, intermediate=1536)
    pairs = nq_like_pairs(8) + [("", ""), ("paris", "straße naïve 中文")]
    ours = CrossEncoderReranker(str(folder), device="cpu", max_length=512)
    assert ours.loaded.attention == "varlen:sdpa-loop"
    assert isinstance(ours.model, JinaBertForSequenceClassification)
    assert_parity(ours.predict(pairs), reference_logits(folder, pairs, 512))


@pytest.mark.parametrize(("layout", "heads"), [("gated_layers", 4), ("up_gated_layer", 6)])
def test_pairs_of_3_to_4000_tokens_match_the_reference(tmp_path, layout, heads):
    folder = build_jinabert(tmp_path / "m", hidden=12 * heads, heads=heads, intermediate=48, layout=layout)
    pairs = [("", ""), ("city", "river " * 300), ("python", "code search " * 600), ("cat", "dog " * 4100)]
    ours = CrossEncoderReranker(str(folder), device="cpu", max_length=4000)
    assert max(ours.tokenize(pairs).lengths) == 4000 and min(ours.tokenize(pairs).lengths) == 3
    reference = np.concatenate([reference_logits(folder, [pair], 4000) for pair in pairs])
    assert_parity(ours.predict(pairs), reference)
    padded = CrossEncoderReranker(str(folder), device="cpu", max_length=4000, attention="sdpa")
    assert_parity(padded.predict(pairs), reference)


def test_no_sequence_holds_a_full_bias_matrix(tmp_path, monkeypatch):
    folder = build_jinabert(tmp_path / "m", heads=4, max_position_embeddings=2048)
    masks = []
    real = alibi.F.scaled_dot_product_attention

    def recording(query, key, value, attn_mask=None, **kwargs):
        masks.append((attn_mask.shape, attn_mask.untyped_storage().nbytes()))
        return real(query, key, value, attn_mask=attn_mask, **kwargs)

    monkeypatch.setattr(alibi.F, "scaled_dot_product_attention", recording)
    ours = CrossEncoderReranker(str(folder), device="cpu", max_length=2048)
    ours.predict([("cat", "dog " * 3000), ("dog", "cat")])
    shapes = {shape for shape, _ in masks}
    assert shapes == {(1, 4, 2048, 2048), (1, 4, 5, 5)}  # a bias per sequence, over its own length
    assert max(size for _, size in masks) == 4 * (2 * 2048 - 1) * 4  # one line per head, float32


def test_the_flash_attn_call_passes_slopes_scale_and_sequences(monkeypatch):
    """flash-attn is not installed here: a stand-in computes what its varlen kernel documents for
    ``alibi_slopes`` (``-slope * |i - j|`` added to the scaled scores), from the arguments it is given."""
    seen = {}

    def flash_attn_varlen_func(q, k, v, cu_q, cu_k, max_q, max_k, softmax_scale=None, alibi_slopes=None):
        seen.update(cu=cu_q.tolist(), same=cu_q is cu_k, max=(max_q, max_k), slopes=alibi_slopes)
        out = torch.empty_like(q)
        for start, end in zip(cu_q[:-1].tolist(), cu_q[1:].tolist()):
            qs, ks, vs = (t[start:end].transpose(0, 1) for t in (q, k, v))
            position = torch.arange(end - start)
            distance = (position[:, None] - position[None, :]).abs()
            scores = qs @ ks.transpose(1, 2) * softmax_scale - alibi_slopes[:, None, None] * distance
            out[start:end] = (scores.softmax(-1) @ vs).transpose(0, 1)
        return out

    monkeypatch.setitem(
        sys.modules, "flash_attn", types.SimpleNamespace(flash_attn_varlen_func=flash_attn_varlen_func)
    )
    monkeypatch.setattr(alibi, "flash_attn_available", lambda: True)
    assert alibi.alibi_kernel(torch.device("cuda"), torch.bfloat16) == "flash-attn"
    assert alibi.alibi_kernel(torch.device("cuda"), torch.float32) == "sdpa-loop"  # flash-attn: 16-bit only
    assert alibi.alibi_kernel(torch.device("cpu"), torch.bfloat16) == "sdpa-loop"
    torch.manual_seed(0)
    q, k, v = (torch.randn(700, 6, 8) for _ in range(3))
    cu = torch.tensor([0, 3, 90, 700], dtype=torch.int32)
    slopes = torch.tensor(alibi.alibi_slopes(6))
    got = alibi.flash_alibi(q, k, v, cu, 610, 8**-0.5, slopes)
    assert seen["cu"] == [0, 3, 90, 700] and seen["same"] and seen["max"] == (610, 610)
    assert seen["slopes"].dtype == torch.float32
    torch.testing.assert_close(
        got, alibi.alibi_sdpa_loop(q, k, v, cu, 610, 8**-0.5, slopes), atol=1e-5, rtol=0
    )


def test_reglu_and_a_head_without_pooler(tmp_path):
    folder = build_jinabert(tmp_path / "m", feed_forward_type="reglu", pooler=False)
    pairs = nq_like_pairs(12, seed=3)
    ours = CrossEncoderReranker(str(folder), device="cpu")
    assert ours.model.bert.pooler is None
    assert_parity(ours.predict(pairs), reference_logits(folder, pairs, 512))


def test_int8_quantises_the_token_linears_and_keeps_the_order_close(tmp_path):
    folder = build_jinabert(tmp_path / "m", layers=4, hidden=64, heads=4, intermediate=128)
    pairs = nq_like_pairs(16, seed=5)
    fp32 = CrossEncoderReranker(str(folder), device="cpu").predict(pairs)
    int8 = CrossEncoderReranker(str(folder), device="cpu", dtype="int8")
    # 4 layers x (q, k, v, out, gated, wo) less the last layer's q, out, gated, wo (first tokens only)
    assert count_int8_linears(int8.model) == 4 * 6 - 4
    scores = int8.predict(pairs)
    assert np.corrcoef(scores, fp32)[0, 1] > 0.95


def test_overlong_documents_are_truncated_and_the_batch_is_scored(tmp_path):
    folder = build_jinabert(tmp_path / "m", max_position_embeddings=64)
    ours = CrossEncoderReranker(str(folder), device="cpu")
    assert ours.max_length == 64
    long_document = "river city " * 500
    pairs = [("city", "paris"), ("city", long_document), ("dog", "cat")]
    scores = ours.predict(pairs)
    assert np.isfinite(scores).all() and ours.tokenize(pairs).lengths[1] == 64
    assert_parity(scores, reference_logits(folder, pairs, 64))


def test_detected_by_architecture_or_alibi_though_model_type_is_bert(tmp_path):
    folder = build_jinabert(tmp_path / "m")
    fields = json.loads((folder / "config.json").read_text())
    assert fields["model_type"] == "bert"
    fields.pop("architectures")
    (folder / "config.json").write_text(json.dumps(fields))
    assert isinstance(
        CrossEncoderReranker(str(folder), device="cpu").model, JinaBertForSequenceClassification
    )


def test_an_unimplemented_variant_names_the_field_and_value(tmp_path):
    folder = build_jinabert(tmp_path / "m")
    fields = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**fields, "feed_forward_type": "original"}))
    with pytest.raises(ModelError, match=r"feed_forward_type = 'original'.*trust_remote_code=True"):
        CrossEncoderReranker(str(folder), device="cpu")


def test_weights_missing_from_the_checkpoint_are_an_error_naming_them(tmp_path):
    folder = build_jinabert(tmp_path / "m")
    weights = load_file(folder / "model.safetensors")
    del weights["classifier.weight"], weights["bert.encoder.layer.1.mlp.wo.bias"]
    save_file(weights, folder / "model.safetensors")
    with pytest.raises(
        ModelError, match=r"2 weights .*bert\.encoder\.layer\.1\.mlp\.wo\.bias, classifier\.weight"
    ):
        CrossEncoderReranker(str(folder), device="cpu")


def test_unused_checkpoint_weights_are_a_warning(tmp_path, caplog):
    folder = build_jinabert(tmp_path / "m")
    weights = load_file(folder / "model.safetensors")
    save_file(
        {**weights, "bert.embeddings.position_embeddings.weight": torch.zeros(8, 32)},
        folder / "model.safetensors",
    )
    with caplog.at_level(logging.WARNING, logger="vecrank.core.checkpoint"):
        CrossEncoderReranker(str(folder), device="cpu")
    assert "1 checkpoint weights are not used: bert.embeddings.position_embeddings.weight" in caplog.text


def test_a_transformers_model_with_fresh_weights_is_an_error(tiny_bert, tmp_path):
    from transformers import AutoModelForSequenceClassification

    body = tmp_path / "body"
    AutoModelForSequenceClassification.from_pretrained(tiny_bert).bert.save_pretrained(body)
    AutoTokenizer.from_pretrained(tiny_bert).save_pretrained(body)
    with pytest.raises(ModelError, match=r"2 weights .*classifier\.bias, classifier\.weight"):
        CrossEncoderReranker(str(body), device="cpu")


def test_a_transformers_model_with_unused_weights_warns(tiny_bert, tmp_path, caplog):
    import shutil

    extra = tmp_path / "extra"
    shutil.copytree(tiny_bert, extra)
    weights = load_file(extra / "model.safetensors")
    save_file({**weights, "cls.predictions.bias": torch.zeros(4)}, extra / "model.safetensors")
    with caplog.at_level(logging.WARNING, logger="vecrank.core.checkpoint"):
        CrossEncoderReranker(str(extra), device="cpu")
    assert "checkpoint weights are not used: cls.predictions.bias" in caplog.text


def test_jina_aliases_need_no_remote_code():
    for alias, repo in [
        ("jina-turbo", "jinaai/jina-reranker-v1-turbo-en"),
        ("jina-tiny", "jinaai/jina-reranker-v1-tiny-en"),
        ("jina-base", "jinaai/jina-reranker-v1-base-en"),
    ]:
        assert resolve_model(alias).source == repo
    with pytest.raises(ModelError, match="not on this machine") as caught:
        CrossEncoderReranker("jina-turbo")  # offline and not cached: no hub code is asked for
    assert "trust_remote_code" not in str(caught.value)
