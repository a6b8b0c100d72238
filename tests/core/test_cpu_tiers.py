"""CPU tiers: features read once, the tier of each CPU family (flags faked), bf16 and precision settings."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import torch

from vecrank import CrossEncoderReranker, ModelError
from vecrank.cli import main
from vecrank.config import CollectionConfig
from vecrank.core import cpu, quantize
from vecrank.core.first_token import encoder_layers
from vecrank.core.loading import resolve_dtype
from vecrank.server.settings import ServerSettings

BASE = "fpu sse sse2 ssse3 sse4_1 sse4_2 avx fma avx2"
AVX512 = "avx512f avx512dq avx512cd avx512bw avx512vl"
FAMILIES = {
    # Xeon 4th generation (Sapphire Rapids): AMX and AVX-512 BF16
    "xeon-amx": f"{BASE} {AVX512} avx512_vnni avx512_bf16 avx_vnni amx_bf16 amx_tile amx_int8",
    "zen4": f"{BASE} {AVX512} avx512_vnni avx512_bf16",
    "xeon-vnni": f"{BASE} {AVX512} avx512_vnni",  # Cascade Lake / Ice Lake
    "epyc-avx2": BASE,  # Zen 2/3
}
EXPECTED = {  # family, native bf16, 8-bit activations, fast tier
    "xeon-amx": ("AMX", True, True, "bfloat16"),
    "zen4": ("AVX-512 BF16", True, True, "int8-per-token"),
    "xeon-vnni": ("VNNI", False, True, "int8-per-token"),
    "epyc-avx2": ("AVX2", False, False, "float32"),
}
PAIRS = [
    (" ".join(["key"] * (1 + n % 4)), " ".join(["rotate", "cluster", "vector"] * n)) for n in range(1, 12)
]


def _cpuinfo(flags: str, model: str) -> str:
    processor = f"processor\t: {{n}}\nvendor_id\t: x\nmodel name\t: {model}\nflags\t\t: {flags}\n\n"
    return processor.format(n=0) + processor.format(n=1)


@pytest.fixture
def fake_cpu(monkeypatch):
    """Make this process see the CPU family named, as /proc/cpuinfo would describe it."""

    def use(family: str) -> cpu.CpuFeatures:
        features = cpu.parse_cpuinfo(_cpuinfo(FAMILIES[family], f"{family} CPU"))
        monkeypatch.setattr(cpu, "detect", lambda: features)
        return features

    return use


@pytest.mark.parametrize("family", FAMILIES)
def test_each_cpu_family_gets_its_tiers(family):
    features = cpu.parse_cpuinfo(_cpuinfo(FAMILIES[family], "Some CPU @ 2.0GHz"))
    name, native_bf16, vnni, fast = EXPECTED[family]
    assert features.model == "Some CPU @ 2.0GHz"
    assert (features.family, features.native_bf16, features.vnni) == (name, native_bf16, vnni)
    assert cpu.fast_tier(features) == fast
    assert cpu.precision_dtype("exact", features) == "float32"
    assert cpu.tiers_fastest_first(features)[0] == ("bfloat16" if family == "xeon-amx" else "int8")
    assert ("bfloat16" in cpu.tiers_fastest_first(features)) == native_bf16
    assert (cpu.bf16_warning(features) is None) == native_bf16
    assert "amx_bf16" in features.found() if family == "xeon-amx" else "amx_bf16" not in features.found()


def test_cpuinfo_without_flags_is_refused_and_detection_falls_back_to_torch(monkeypatch):
    with pytest.raises(ValueError, match="no 'flags' line"):
        cpu.parse_cpuinfo("processor\t: 0\nmodel name\t: x\n")
    fallback = cpu._from_torch()
    assert fallback.model.startswith("CPU with torch capability")
    assert cpu.detect() == cpu.detect()  # read once, the same answer


def test_unknown_precision_is_named():
    with pytest.raises(ValueError, match="unknown precision 'turbo'; use one of: exact, fast"):
        cpu.precision_dtype("turbo", cpu.CpuFeatures.from_flags(()))
    with pytest.raises(ModelError, match="unknown precision 'turbo'"):
        resolve_dtype(None, "turbo", torch.device("cpu"))
    with pytest.raises(ValueError, match="precision"):
        CollectionConfig(model="ettin-17m", precision="turbo")


@pytest.mark.parametrize("family", FAMILIES)
def test_precision_fast_resolves_auto_on_cpu_only(fake_cpu, family):
    fake_cpu(family)
    fast = EXPECTED[family][3]
    assert resolve_dtype(None, "fast", torch.device("cpu")) == fast
    assert resolve_dtype("auto", "exact", torch.device("cpu")) == "float32"
    assert resolve_dtype("int8", "fast", torch.device("cpu")) == "int8"  # an explicit dtype wins
    assert resolve_dtype(None, "fast", torch.device("cuda")) is None  # auto: bf16 on CUDA as before


def test_precision_fast_loads_the_tier_of_the_cpu(fake_cpu, tiny_bert):
    exact = CrossEncoderReranker(str(tiny_bert), device="cpu").predict(PAIRS)
    fake_cpu("xeon-amx")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # native bf16: no warning
        amx = CrossEncoderReranker(str(tiny_bert), device="cpu", precision="fast")
    assert amx.loaded.dtype == torch.bfloat16 and amx.loaded.dtype_name == "bfloat16"
    assert np.abs(amx.predict(PAIRS) - exact).max() < 0.05
    fake_cpu("xeon-vnni")
    vnni = CrossEncoderReranker(str(tiny_bert), device="cpu", precision="fast")
    assert vnni.loaded.dtype_name == "int8-per-token" and quantize.count_int8_linears(vnni.model) > 0
    fake_cpu("epyc-avx2")
    assert CrossEncoderReranker(str(tiny_bert), device="cpu", precision="fast").loaded.dtype_name == "float32"


def test_bf16_on_a_cpu_without_native_bf16_warns_why(fake_cpu, tiny_bert):
    fake_cpu("xeon-vnni")
    with pytest.warns(RuntimeWarning, match=r"xeon-vnni CPU: no AMX or AVX-512 BF16\) is emulated.*slower"):
        reranker = CrossEncoderReranker(str(tiny_bert), device="cpu", dtype="bfloat16")
    assert reranker.loaded.dtype == torch.bfloat16


@pytest.mark.parametrize("architecture", ["bert", "xlm-roberta", "deberta-v2", "modernbert"])
def test_bf16_runs_every_layer_in_bf16_within_bounds(tiny_models, architecture):
    folder = str(tiny_models[architecture])
    exact = CrossEncoderReranker(folder, device="cpu").predict(PAIRS)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # this CPU may lack native bf16
        reranker = CrossEncoderReranker(folder, device="cpu", dtype="bfloat16")
    layers = encoder_layers(reranker.model)  # the head, one row per pair, may stay float32
    assert {p.dtype for p in layers.parameters()} == {torch.bfloat16}
    assert np.abs(reranker.predict(PAIRS) - exact).max() < 0.05


def test_modernbert_rotary_stays_float32_in_a_bf16_model(tiny_models):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        reranker = CrossEncoderReranker(str(tiny_models["modernbert"]), device="cpu", dtype="bfloat16")
    assert reranker.loaded.attention.startswith("varlen")
    rotary = reranker.model.model.rotary_emb
    hidden = torch.zeros(1, 5, 8, dtype=torch.bfloat16)
    cos, sin = rotary(hidden, torch.arange(5)[None], reranker.model.config.layer_types[0])
    assert cos.dtype == sin.dtype == torch.float32


def test_int8_packs_with_the_x86_engine_whatever_the_engine_setting(tiny_bert, monkeypatch):
    monkeypatch.setattr(torch.backends.quantized, "engine", "onednn")
    reranker = CrossEncoderReranker(str(tiny_bert), device="cpu", dtype="int8")
    assert torch.backends.quantized.engine == "onednn"  # restored after packing
    exact = CrossEncoderReranker(str(tiny_bert), device="cpu").predict(PAIRS)
    assert np.abs(reranker.predict(PAIRS) - exact).max() < 0.1


def test_precision_reaches_the_engine_from_config_and_server_settings(fake_cpu, tiny_bert):
    from vecrank.config import VecrankConfig
    from vecrank.plugins.cross_encoder import CrossEncoderScorer

    fake_cpu("xeon-amx")
    scorer = CrossEncoderScorer(CollectionConfig(model=str(tiny_bert), device="cpu", precision="fast"))
    assert scorer.reranker.loaded.dtype_name == "bfloat16"
    config = VecrankConfig.model_validate({"defaults": {"model": str(tiny_bert), "precision": "fast"}})
    assert ServerSettings.from_config(config).precision == "fast"


def test_info_prints_the_features_and_the_fast_tier(fake_cpu, capsys):
    fake_cpu("zen4")
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["cpu"] == "zen4 CPU" and info["family"] == "AVX-512 BF16"
    assert "avx512_bf16" in info["features"] and "amx_bf16" not in info["features"]
    assert info["precision"] == {"exact": "float32", "fast": "int8-per-token"}
    fake_cpu("epyc-avx2")
    assert main(["info"]) == 0
    text = capsys.readouterr().out
    assert "family: AVX2" in text and "fast: float32" in text
