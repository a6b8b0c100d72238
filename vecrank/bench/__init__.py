"""Throughput benchmark against sentence-transformers: random weights in the real shapes, NQ-like pairs."""

from __future__ import annotations

import sys


def main(argv: list[str] | None = None) -> int:
    """``vecrank bench`` / ``benchmarks/throughput.py``: see :mod:`vecrank.bench.run`.

    ``vecrank bench --check [--cpu]`` runs the one-shot device check of :mod:`vecrank.bench.check`.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if "--check" in argv:
        from .check import main as check

        return check([arg for arg in argv if arg != "--check"])
    from .run import main as run

    return run(argv)


__all__ = ["main"]
