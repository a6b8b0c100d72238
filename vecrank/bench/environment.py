"""What a benchmark result records about where it ran (the machine, the package versions), and its file."""

from __future__ import annotations

import json
import os
import platform
import time
from collections.abc import Iterable
from importlib import metadata
from pathlib import Path

import torch

# Packages that set the engine's speed; benchmarks add the ones they exercise.
ENGINE_PACKAGES = ("vecrank", "torch", "transformers", "tokenizers", "numpy", "flash-attn")


def machine_info(device: torch.device) -> dict:
    """CPU model, flags and cores, memory, GPU name, torch threads, load average."""
    cpu = _cpuinfo()
    info = {
        "platform": platform.platform(),
        "cpu": cpu.get("model name", platform.processor()),
        "cpu_flags": cpu.get("flags", ""),
        "cpu_count": os.cpu_count(),
        "memory_gb": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1),
        "torch_threads": torch.get_num_threads(),
        "load_average_at_start": [round(value, 2) for value in os.getloadavg()],
        "time": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
    }
    if device.type == "cuda":
        properties = torch.cuda.get_device_properties(device)
        info.update(gpu=properties.name, gpu_memory_gb=round(properties.total_memory / 2**30, 1))
    return info


def _cpuinfo() -> dict[str, str]:
    """The first processor's /proc/cpuinfo fields (``model name``, ``flags`` as lscpu prints them)."""
    fields: dict[str, str] = {}
    try:
        with open("/proc/cpuinfo") as handle:
            for line in handle:
                if not line.strip():
                    break
                key, _, value = line.partition(":")
                fields[key.strip()] = value.strip()
    except OSError:
        pass
    return fields


def versions(extra: Iterable[str] = ()) -> dict:
    """Versions of Python, of the engine's packages and of ``extra`` (None where not installed)."""
    found = {"python": platform.python_version()}
    for package in (*ENGINE_PACKAGES, *extra):
        try:
            found[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            found[package] = None
    return found


def write_results(path: Path, report: dict) -> None:
    """Write ``report``, keeping other models' results from an earlier run on the same device."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.exists():
        earlier = json.loads(path.read_text())
        if earlier.get("device") == report["device"]:
            report["models"] = {**earlier.get("models", {}), **report["models"]}
    path.write_text(json.dumps(report, indent=2) + "\n")
