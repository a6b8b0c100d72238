"""The CPU's instruction sets, read once, and the precision tiers they make fastest.

:func:`detect` reads the flags of ``/proc/cpuinfo`` (torch's own CPU capability where that
file is missing); everything else here is a pure function of :class:`CpuFeatures`, so tests
fake the flags of each CPU family.

Tiers, fastest first, by CPU family (measured with ``vecrank bench --int8`` and the CPU-tier
issue's table, 2 cores, against sentence-transformers fp32):

- AMX (Xeon 4th generation and later): bfloat16 4.4x, int8 2.3x, int8-per-token 1.9x, fp32 1.6x;
- AVX-512 BF16 without AMX (AMD Zen 4/5; ``peers_cpu_avx512_bf16.json``): int8 3.5x, int8-per-token
  3.2x, bfloat16 2.9x (native, oneDNN's avx512_core_bf16), fp32 1.7x on MiniLM-L6, and the same
  order on the ettin-17m shape: VNNI's int8 products outrun bf16's here;
- AVX-512 VNNI without bf16 (earlier Xeons): int8 2.9x, int8-per-token 2.3x, fp32 1.8x;
- AVX2 only (earlier EPYCs): int8 3.6x, fp32 1.6x; bfloat16 is emulated, slower than fp32.

``precision="fast"`` takes the first of these whose ranking agrees with fp32 on the real
MiniLM cross-encoder of the int8 guard (top-10 overlap and Kendall tau at least 0.95):
bfloat16 (overlap 1.00, max |diff| 8e-4) and int8-per-token with 8-bit activations (tau
0.957) pass; int8 with one grid per call (tau 0.926) does not, and int8 without VNNI
quantises activations to 7 bits, where no agreement was measured.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable
from dataclasses import dataclass

FLOAT32, BFLOAT16, INT8, INT8_PER_TOKEN = "float32", "bfloat16", "int8", "int8-per-token"
PRECISIONS = ("exact", "fast")
# The tiers whose ranking agrees with fp32 on real weights (see the module doc), by whether
# the CPU has VNNI: without it int8 activations have 7 bits, and agreement is unmeasured.
AGREES_WITH_FP32 = {
    True: frozenset({FLOAT32, BFLOAT16, INT8_PER_TOKEN}),
    False: frozenset({FLOAT32, BFLOAT16}),
}
# The CPU flags reported, in the order they are printed.
FEATURE_FLAGS = ("amx_bf16", "amx_int8", "avx512_bf16", "avx512_vnni", "avx_vnni", "avx512f", "avx2")


@dataclass(frozen=True)
class CpuFeatures:
    """The instruction sets of one CPU that decide its precision tiers."""

    model: str
    flags: frozenset[str]

    @classmethod
    def from_flags(cls, flags: Iterable[str], model: str = "unknown CPU") -> CpuFeatures:
        return cls(model=model, flags=frozenset(flags) & frozenset(FEATURE_FLAGS))

    @property
    def amx(self) -> bool:
        return "amx_bf16" in self.flags

    @property
    def native_bf16(self) -> bool:
        """Whether bf16 matrix products run in hardware (AMX or AVX-512 BF16), not emulated."""
        return self.amx or "avx512_bf16" in self.flags

    @property
    def vnni(self) -> bool:
        """Whether int8 products sum in 32 bits (VNNI or AMX int8), so activations keep 8 bits."""
        return bool(self.flags & {"avx512_vnni", "avx_vnni", "amx_int8"})

    @property
    def family(self) -> str:
        """A short name of the CPU family the tiers are chosen for."""
        if self.amx:
            return "AMX"
        if self.native_bf16:
            return "AVX-512 BF16"
        if self.vnni:
            return "VNNI"
        return "AVX2" if "avx2" in self.flags else "baseline"

    def found(self) -> list[str]:
        """The flags of :data:`FEATURE_FLAGS` this CPU has, in that order."""
        return [flag for flag in FEATURE_FLAGS if flag in self.flags]


def tiers_fastest_first(features: CpuFeatures) -> tuple[str, ...]:
    """The CPU tiers of this CPU family, fastest first (bf16 only where it runs natively)."""
    if features.amx:
        return (BFLOAT16, INT8, INT8_PER_TOKEN, FLOAT32)
    if features.native_bf16:
        return (INT8, INT8_PER_TOKEN, BFLOAT16, FLOAT32)
    return (INT8, INT8_PER_TOKEN, FLOAT32)


def fast_tier(features: CpuFeatures) -> str:
    """The tier ``precision="fast"`` runs: the fastest whose ranking agrees with fp32."""
    agrees = AGREES_WITH_FP32[features.vnni]
    return next(tier for tier in tiers_fastest_first(features) if tier in agrees)


def precision_dtype(precision: str, features: CpuFeatures) -> str:
    """The CPU dtype a ``precision`` setting stands for: ``exact`` is fp32, ``fast`` :func:`fast_tier`."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision {precision!r}; use one of: {', '.join(PRECISIONS)}")
    return FLOAT32 if precision == "exact" else fast_tier(features)


def bf16_warning(features: CpuFeatures) -> str | None:
    """Why bfloat16 would be slower than fp32 on this CPU, or None where it runs natively."""
    if features.native_bf16:
        return None
    return (
        f"dtype 'bfloat16' on this CPU ({features.model}: no AMX or AVX-512 BF16) is emulated in fp32 "
        "arithmetic with conversions, slower than float32; use dtype 'float32' or precision 'fast'"
    )


@functools.cache
def detect() -> CpuFeatures:
    """This machine's CPU features, read once."""
    try:
        with open("/proc/cpuinfo") as handle:
            return parse_cpuinfo(handle.read())
    except (OSError, ValueError):
        return _from_torch()


def parse_cpuinfo(text: str) -> CpuFeatures:
    """The features of the first processor in a ``/proc/cpuinfo`` text; ValueError if it has no flags."""
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, colon, value = line.partition(":")
        if colon:
            fields.setdefault(key.strip(), value.strip())
    if "flags" not in fields:
        raise ValueError("no 'flags' line in /proc/cpuinfo")
    return CpuFeatures.from_flags(fields["flags"].split(), fields.get("model name", "unknown CPU"))


def _from_torch() -> CpuFeatures:
    """Features from torch's CPU capability (``AVX512``, ``AVX2``, ...) where /proc/cpuinfo is absent."""
    import torch

    capability = torch.backends.cpu.get_cpu_capability()
    flags = {"AVX512": {"avx512f", "avx2"}, "AVX2": {"avx2"}}.get(capability, set())
    return CpuFeatures.from_flags(flags, f"CPU with torch capability {capability}")


def describe(features: CpuFeatures) -> dict:
    """What ``vecrank info`` prints: the CPU, its features, and the tier each precision runs."""
    return {
        "cpu": features.model,
        "features": features.found(),
        "family": features.family,
        "native_bf16": features.native_bf16,
        "int8_activation_bits": 8 if features.vnni else 7,
        "tiers_fastest_first": list(tiers_fastest_first(features)),
        "precision": {precision: precision_dtype(precision, features) for precision in PRECISIONS},
    }
