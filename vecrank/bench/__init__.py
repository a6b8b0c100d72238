"""Throughput benchmark against sentence-transformers: random weights in the real shapes, NQ-like pairs."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """``vecrank bench`` / ``benchmarks/throughput.py``: see :mod:`vecrank.bench.run`."""
    from .run import main as run

    return run(argv)


__all__ = ["main"]
