"""The opt-in int8 CPU path: int8 linear layers on the packed path, bounded score drift, CPU only."""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

from vecrank import CrossEncoderReranker, ModelError
from vecrank.config import CollectionConfig
from vecrank.core import quantize
from vecrank.core.loading import pick_dtype
from vecrank.core.quantize import (
    Int8Linear,
    PerTokenInt8Linear,
    check_int8_device,
    count_int8_linears,
    per_pair_linears,
    quantize_int8,
)
from vecrank.evaluation import load_demo_dataset
from vecrank.testing.tiny_models import NUM_LAYERS, build_tiny_model

WORDS = ["rotate", "keys", "cluster", "database", "search", "vector", "score", "model", "answer", "question"]
PAIRS = [
    (" ".join(WORDS[: 1 + n % 5]), " ".join(WORDS[(i * 7 + n) % len(WORDS)] for i in range(n)))
    for n in (0, 3, 9, 15, 17, 30, 45, 70, 100)
]


def _linear_count(folder: str) -> int:
    model = CrossEncoderReranker(folder, device="cpu").model
    return sum(isinstance(module, torch.nn.Linear) for module in model.modules())


def _float_linears(model: torch.nn.Module) -> set[str]:
    return {name for name, module in model.named_modules() if type(module) is torch.nn.Linear}


# Linears that read one row per pair, so stay float32: the head, and in a first-token last
# layer everything but the key and value projections.
LAST_LAYER_PER_PAIR = ("attention.self.query", "attention.output.dense", "intermediate.dense", "output.dense")
PER_PAIR = {
    "bert": {
        "bert.pooler.dense",
        "classifier",
        *(f"bert.encoder.layer.{NUM_LAYERS - 1}.{n}" for n in LAST_LAYER_PER_PAIR),
    },
    "xlm-roberta": {
        "classifier.dense",
        "classifier.out_proj",
        *(f"roberta.encoder.layer.{NUM_LAYERS - 1}.{n}" for n in LAST_LAYER_PER_PAIR),
    },
    "modernbert": {"head.dense", "classifier"},  # mean pooling: the last layer reads every token
}


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta", "modernbert"])
def test_int8_runs_every_linear_that_reads_every_token_in_int8(tiny_models, architecture):
    folder = str(tiny_models[architecture])
    exact = CrossEncoderReranker(folder, device="cpu").predict(PAIRS)
    int8 = CrossEncoderReranker(folder, device="cpu", dtype="int8")
    assert int8.loaded.attention == "varlen:sdpa-loop"
    assert "dtype='int8'" in repr(int8)
    assert per_pair_linears(int8.model) == _float_linears(int8.model) == PER_PAIR[architecture]
    assert count_int8_linears(int8.model) == _linear_count(folder) - len(PER_PAIR[architecture]) > 0
    scores = int8.predict(PAIRS)
    # Random tiny weights: drift is a few percent of the score range, never a different model.
    assert not np.array_equal(scores, exact)
    assert np.abs(scores - exact).max() <= 0.1 * np.ptp(exact)
    assert np.corrcoef(scores, exact)[0, 1] >= 0.99


# bf16 on fewer documents: on CPUs without native bf16 it is emulated, several times slower.
@pytest.mark.parametrize(
    ("dtype", "correlation", "spread", "documents"), [("int8", 0.98, 0.15, 40), ("bfloat16", 0.995, 0.05, 8)]
)
@pytest.mark.filterwarnings("ignore:dtype 'bfloat16' on this CPU")
def test_cpu_tiers_keep_the_real_minilm_ranking(tmp_path, dtype, correlation, spread, documents):
    """On the trained MiniLM layers (seeded head), int8 and bf16 scores track fp32 on the demo's real text."""
    from vecrank.bench.models import build_minilm_cross_encoder

    folder = str(build_minilm_cross_encoder(tmp_path / "minilm"))
    dataset = load_demo_dataset()
    texts = list(dataset.documents.values())[:documents]
    pairs = [(query, document) for query in list(dataset.queries.values())[:3] for document in texts]
    exact = CrossEncoderReranker(folder, device="cpu").predict(pairs)
    scores = CrossEncoderReranker(folder, device="cpu", dtype=dtype).predict(pairs)
    assert np.corrcoef(scores, exact)[0, 1] >= correlation
    assert np.abs(scores - exact).max() <= spread * np.ptp(exact)


def test_int8_scores_do_not_depend_on_worker_count(tiny_models):
    folder = str(tiny_models["modernbert"])
    one = CrossEncoderReranker(folder, dtype="int8", batch_tokens=64, cpu_workers=1).predict(PAIRS)
    two = CrossEncoderReranker(folder, dtype="int8", batch_tokens=64, cpu_workers=2).predict(PAIRS)
    np.testing.assert_array_equal(one, two)


def test_int8_is_cpu_only():
    with pytest.raises(ModelError, match="dtype 'int8' .*runs on CPU only.*on cuda use dtype 'bf16'"):
        pick_dtype("int8", torch.device("cuda"))
    with pytest.raises(ModelError, match="'int8-per-token'.*CPU only"):
        pick_dtype("int8-per-token", torch.device("cuda"))
    with pytest.raises(ModelError, match="CPU only"):
        check_int8_device(torch.device("mps"))
    assert pick_dtype("INT8", torch.device("cpu")) == torch.float32


def test_unknown_dtype_lists_int8(tiny_bert):
    with pytest.raises(ModelError, match="unknown dtype 'int4'.*int8, int8-per-token"):
        CrossEncoderReranker(str(tiny_bert), dtype="int4")


def test_config_dtype_int8_reaches_the_cross_encoder_and_the_bi_encoder(tiny_bert):
    from vecrank.plugins import get_scorer

    cross = get_scorer(CollectionConfig(model=str(tiny_bert), dtype="int8"))
    assert cross.reranker.loaded.quantization == "int8"
    assert count_int8_linears(cross.reranker.model) > 0
    bi = get_scorer(CollectionConfig(model="minilm-bi", dtype="int8"))
    assert count_int8_linears(bi.model) > 0
    exact = get_scorer(CollectionConfig(model="minilm-bi")).predict([("rotate keys", "key rotation")])
    assert bi.predict([("rotate keys", "key rotation")]) == pytest.approx(exact, abs=0.02)


def _int8_linears(linear: torch.nn.Linear) -> tuple[torch.nn.Module, torch.nn.Module]:
    per_call, per_token = (torch.nn.Sequential(copy.deepcopy(linear)) for _ in range(2))
    quantize_int8(per_call)
    quantize_int8(per_token, "int8-per-token")
    assert isinstance(per_call[0], Int8Linear) and not isinstance(per_call[0], PerTokenInt8Linear)
    assert isinstance(per_token[0], PerTokenInt8Linear)
    return per_call, per_token


def test_an_outlier_token_does_not_coarsen_the_grid_of_the_others():
    torch.manual_seed(0)
    linear = torch.nn.Linear(64, 32)
    per_call, per_token = _int8_linears(linear)
    x = torch.randn(40, 64)
    x[0] *= 50  # one token with large activations, as separators often have
    with torch.inference_mode():
        exact, coarse, fine = linear(x), per_call(x), per_token(x)
        one_grid = torch.ops.quantized.linear_dynamic(x, per_call[0]._packed_params._packed_params, False)
    error = {
        name: (out - exact)[1:].abs().max().item()
        for name, out in (("one grid", one_grid), ("call", coarse), ("token", fine))
    }
    assert error["call"] < error["one grid"] / 10
    assert error["token"] < error["one grid"] / 10
    for out in (coarse, fine):
        assert (out - exact)[1:].abs().max() < 0.05 * exact[1:].abs().max()
        torch.testing.assert_close(out[0], exact[0], atol=0.05 * exact[0].abs().max().item(), rtol=0)


def test_a_constant_row_has_no_range_and_still_gets_its_output():
    torch.manual_seed(3)
    linear = torch.nn.Linear(16, 8)
    x = torch.randn(6, 16)
    x[2], x[4] = 5.0, -5.0  # per token: normalised to +-inf, which the fixed grid saturates
    with torch.inference_mode():
        exact = linear(x)
        for int8_linear in _int8_linears(linear):
            out = int8_linear(x)
            assert torch.isfinite(out).all()
            for row in (2, 4):
                tolerance = 0.05 * exact[row].abs().max().item()
                torch.testing.assert_close(out[row], exact[row], atol=tolerance, rtol=0)


def test_int8_takes_an_empty_batch():
    per_call, _ = _int8_linears(torch.nn.Linear(8, 4))
    with torch.inference_mode():
        assert per_call(torch.zeros(0, 8)).shape == (0, 4)


def test_per_token_outputs_do_not_depend_on_the_rest_of_the_batch():
    torch.manual_seed(1)
    _, per_token = _int8_linears(torch.nn.Linear(48, 16))
    x = torch.randn(10, 48)
    x[3] *= 30
    with torch.inference_mode():
        together = per_token(x)
        alone = torch.cat([per_token(row[None]) for row in x])
    torch.testing.assert_close(together, alone, atol=1e-6, rtol=0)


@pytest.mark.parametrize("architecture", ["bert", "modernbert"])
def test_int8_per_token_on_the_packed_path(tiny_models, architecture):
    folder = str(tiny_models[architecture])
    exact = CrossEncoderReranker(folder, device="cpu").predict(PAIRS)
    reranker = CrossEncoderReranker(folder, device="cpu", dtype="int8-per-token", batch_tokens=64)
    assert "dtype='int8-per-token'" in repr(reranker)
    assert reranker.loaded.quantization == "int8-per-token"
    per_token = sum(isinstance(m, PerTokenInt8Linear) for m in reranker.model.modules())
    assert per_token == _linear_count(folder) - len(PER_PAIR[architecture])
    scores = reranker.predict(PAIRS)
    assert np.abs(scores - exact).max() <= 0.05 * np.ptp(exact)
    alone = np.array([reranker.predict([pair])[0] for pair in PAIRS])
    np.testing.assert_allclose(scores, alone, atol=1e-5, rtol=0)  # a pair's score ignores its batch


def test_config_dtype_int8_per_token_reaches_the_bi_encoder():
    from vecrank.plugins import get_scorer

    bi = get_scorer(CollectionConfig(model="minilm-bi", dtype="int8-per-token"))
    assert sum(isinstance(m, PerTokenInt8Linear) for m in bi.model.modules()) > 0
    exact = get_scorer(CollectionConfig(model="minilm-bi")).predict([("rotate keys", "key rotation")])
    assert bi.predict([("rotate keys", "key rotation")]) == pytest.approx(exact, abs=0.01)


def test_int8_keeps_what_a_first_token_modernbert_layer_reads_per_pair_float(tmp_path):
    folder = str(build_tiny_model("modernbert", tmp_path, pooling="cls"))
    model = CrossEncoderReranker(folder, device="cpu", dtype="int8-per-token").model
    last = f"model.layers.{NUM_LAYERS - 1}"
    per_pair = {"head.dense", "classifier", f"{last}.attn.Wo", f"{last}.mlp.Wi", f"{last}.mlp.Wo"}
    assert per_pair_linears(model) == _float_linears(model) == per_pair
    assert isinstance(model.get_submodule(f"{last}.attn.Wqkv"), PerTokenInt8Linear)  # keys and values


def test_int8_grids_follow_the_cpu_and_serve_padded_batches(monkeypatch):
    torch.manual_seed(2)
    linear = torch.nn.Linear(32, 24)
    x = torch.randn(3, 7, 32)  # (batch, sequence, hidden), as the padded path passes it
    x[:, -2:] = 0  # padding rows
    error = {}
    # The 8-bit grid is exact only where the CPU has VNNI: without it fbgemm's int16 sums saturate,
    # which is why such CPUs get the 7-bit grid. Each grid is checked where the CPU can run it.
    cpu_has_vnni = quantize.full_range_activations()
    for vnni, steps in ((True, 127), (False, 63)):
        monkeypatch.setattr(quantize, "full_range_activations", lambda vnni=vnni: vnni)
        assert quantize.activation_levels() == steps
        if vnni and not cpu_has_vnni:
            continue
        with torch.inference_mode():
            exact = linear(x)
            for mode, int8_linear in zip(("call", "token"), _int8_linears(linear)):
                out = int8_linear(x)
                assert out.shape == exact.shape
                torch.testing.assert_close(out[:, -2:], exact[:, -2:], atol=1e-6, rtol=0)  # bias only
                error[mode, steps] = (out - exact).abs().max().item()
                assert error[mode, steps] < 4 / steps * exact.abs().max().item()
    for mode in ("call", "token"):  # 7-bit activations (no VNNI) use a grid twice as coarse
        if (mode, 127) in error:
            assert error[mode, 63] > 1.5 * error[mode, 127]
