"""Throughput benchmark against sentence-transformers: random weights in the real shapes, NQ-like pairs."""

from __future__ import annotations


def main(argv: list[str] | None = None) -> int:
    """``vecrank bench`` / ``benchmarks/throughput.py``: see :mod:`vecrank.bench.run`."""
    from ..extras import needs_extra
    from .options import parse_args

    parse_args(argv)  # --help and bad options answer before torch is imported
    with needs_extra("vecrank bench"):
        from .run import main as run

    return run(argv)


__all__ = ["main"]
