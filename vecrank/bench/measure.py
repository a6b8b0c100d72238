"""Measurements: wall and CPU time, peak memory, latency percentiles, tokenisation, score agreement, FLOPs."""

from __future__ import annotations

import os
import resource
import time
from collections.abc import Callable, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace

import numpy as np
import torch
from transformers import PretrainedConfig, PreTrainedTokenizerBase

from .pairs import Pair, PairSet

# Dense bf16 peak of an H100 SXM (the H200 has the same compute), for model FLOP utilisation.
GPU_PEAK_FLOPS = {"H100": 989e12, "H200": 989e12}


@dataclass(frozen=True)
class Timing:
    """One timed call: wall and CPU seconds, and the share of all CPUs that other processes used meanwhile."""

    seconds: float
    cpu_seconds: float
    others_busy: float
    attempts: int = 1


def _cpu_ticks() -> tuple[int, int] | None:
    """(all, idle) CPU ticks since boot from ``/proc/stat``, or None off Linux."""
    try:
        with open("/proc/stat") as handle:
            fields = [int(value) for value in handle.readline().split()[1:]]
        return sum(fields), fields[3] + fields[4]
    except (OSError, ValueError, IndexError):
        return None


def _others_share(before, after, own_cpu_seconds: float, seconds: float) -> float:
    if before is None or after is None or seconds <= 0:
        return 0.0
    busy = ((after[0] - before[0]) - (after[1] - before[1])) / os.sysconf("SC_CLK_TCK")
    return round(min(1.0, max(0.0, busy - own_cpu_seconds) / (seconds * (os.cpu_count() or 1))), 3)


def timed(function: Callable[[], object]) -> Timing:
    """Time one call of ``function``."""
    ticks, wall, cpu = _cpu_ticks(), time.perf_counter(), time.process_time()
    function()
    seconds, cpu_seconds = time.perf_counter() - wall, time.process_time() - cpu
    return Timing(seconds, cpu_seconds, _others_share(ticks, _cpu_ticks(), cpu_seconds, seconds))


def others_busy(interval: float = 0.5) -> float:
    """Share of all CPUs that other processes use over ``interval`` seconds while this one idles."""
    return timed(lambda: time.sleep(interval)).others_busy


def wait_for_quiet(max_wait: float, threshold: float) -> float:
    """Wait up to ``max_wait`` s for other processes to leave the CPUs; returns their last busy share."""
    deadline = time.monotonic() + max_wait
    while True:
        busy = others_busy()
        if busy <= threshold or time.monotonic() >= deadline:
            return busy
        time.sleep(2)


class Stopwatch:
    """Times calls on a shared machine: waits for other processes to quieten, retries a disturbed call."""

    def __init__(self, quiet_wait: float, max_others: float = 0.25, attempts: int = 3) -> None:
        self.quiet_wait = quiet_wait
        self.max_others = max_others
        self.attempts = attempts if quiet_wait > 0 else 1

    def time(self, function: Callable[[], object]) -> Timing:
        """The first of up to ``attempts`` timings in which other processes used at most ``max_others``."""
        for attempt in range(1, self.attempts + 1):
            if self.quiet_wait > 0:
                wait_for_quiet(self.quiet_wait, self.max_others)
            timing = replace(timed(function), attempts=attempt)
            if timing.others_busy <= self.max_others:
                break
        return timing


@contextmanager
def peak_memory(device: torch.device):
    """Yield a dict that holds ``peak_mb`` and ``start_mb`` once the block ends: GPU allocator, or CPU RSS.

    ``start_mb`` is what was held when the block began (on a GPU: the models' weights), so that
    ``peak_mb - start_mb`` is what the block itself used. On CPU the high-water mark is reset
    through ``/proc/self/clear_refs`` so that it covers the block alone; where that is not
    allowed it covers the whole process (``scope``).
    """
    result: dict[str, object] = {}
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        start = torch.cuda.memory_allocated(device)
        yield result
        torch.cuda.synchronize(device)
        peak = torch.cuda.max_memory_allocated(device)
        result.update(peak_mb=peak / 2**20, start_mb=start / 2**20, scope="torch.cuda")
        return
    scope = "block" if _reset_rss_peak() else "process"
    start = _status_kb("VmRSS")
    yield result
    peak = _status_kb("VmHWM") if scope == "block" else resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    result.update(peak_mb=peak / 1024, start_mb=start / 1024, scope=f"rss:{scope}")


def _reset_rss_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
        return True
    except OSError:
        return False


def _status_kb(field: str) -> int:
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def percentiles_ms(seconds: Sequence[float]) -> dict[str, float]:
    """p50 and p95 of latencies, in milliseconds."""
    values = np.array(seconds) * 1000
    return {
        "p50_ms": round(float(np.percentile(values, 50)), 1),
        "p95_ms": round(float(np.percentile(values, 95)), 1),
    }


def tokenization_rates(tokenizer: PreTrainedTokenizerBase, pairs: list[Pair], max_length: int) -> dict:
    """Pairs per second of tokenising alone: one call per pair, and the batch API with and without threads."""
    queries, documents = [q for q, _ in pairs], [d for _, d in pairs]
    options = {"truncation": "longest_first", "max_length": max_length, "return_attention_mask": False}

    def one_by_one() -> None:
        for query, document in pairs:
            tokenizer(query, document, **options)

    def batch() -> None:
        tokenizer(queries, documents, **options)

    rates = {"pairs": len(pairs), "threads_available": os.cpu_count()}
    rates["per_pair_calls"] = round(len(pairs) / timed(one_by_one).seconds, 1)
    previous = os.environ.get("TOKENIZERS_PARALLELISM")
    try:
        for name, parallel in (("batch_api_1_thread", "false"), ("batch_api_threads", "true")):
            os.environ["TOKENIZERS_PARALLELISM"] = parallel
            batch()
            rates[name] = round(len(pairs) / min(timed(batch).seconds for _ in range(3)), 1)
    finally:
        if previous is None:
            os.environ.pop("TOKENIZERS_PARALLELISM", None)
        else:
            os.environ["TOKENIZERS_PARALLELISM"] = previous
    return rates


def score_agreement(ours: np.ndarray, reference: np.ndarray, pair_set: PairSet, tolerance: float) -> dict:
    """Max abs difference, and pairs ordered otherwise where the reference gap is over ``tolerance``."""
    discordant = 0
    for number in range(pair_set.queries):
        group = slice(number * pair_set.candidates, (number + 1) * pair_set.candidates)
        a, b = ours[group], reference[group]
        gap = b[:, None] - b[None, :]
        discordant += int(
            ((np.sign(a[:, None] - a[None, :]) != np.sign(gap)) & (np.abs(gap) > tolerance)).sum() // 2
        )
    return {
        "max_abs_diff": float(np.abs(ours - reference).max()),
        "discordant_pairs": discordant,
        "same_order": discordant == 0,
        "tolerance": tolerance,
    }


def model_flops(config: PretrainedConfig, non_embedding_params: int, lengths: np.ndarray) -> float:
    """Forward FLOPs for sequences of ``lengths``: 2 x params x tokens, plus attention scores and mixing.

    Attention adds 4 x hidden x length x span per layer, the span being the whole sequence on
    global layers and the sliding window (ModernBERT local layers) elsewhere.
    """
    lengths = lengths.astype(np.float64)
    flops = 2.0 * non_embedding_params * lengths.sum()
    layer_types = getattr(config, "layer_types", None) or ["full_attention"] * config.num_hidden_layers
    window = getattr(config, "local_attention", None) or 0
    for layer_type in layer_types:
        span = np.minimum(lengths, window + 1) if layer_type == "sliding_attention" else lengths
        flops += 4.0 * config.hidden_size * float((lengths * span).sum())
    return flops


def peak_flops(device: torch.device) -> float | None:
    """The dense bf16 peak of a known GPU, else None."""
    if device.type != "cuda":
        return None
    name = torch.cuda.get_device_name(device)
    return next((peak for key, peak in GPU_PEAK_FLOPS.items() if key in name), None)
