"""Throughput benchmark against sentence-transformers: random weights in the real shapes, NQ-like pairs."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    """``vecrank bench`` / ``benchmarks/throughput.py``: see :mod:`vecrank.bench.run`.

    ``vecrank bench --check [--cpu]`` runs the one-shot device check of :mod:`vecrank.bench.check`.
    JSON goes to ``--out`` (``--out-dir`` for the check), else into the current folder: never into the
    clone's committed ``benchmarks/results`` unless asked.
    """
    from ..extras import needs_extra

    argv = list(sys.argv[1:] if argv is None else argv)
    if "--check" in argv:
        # The check builds every model it runs: it never needs the hub, and a GPU machine may not reach it.
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        with needs_extra("vecrank bench --check"):
            from .check import main as check

        argv = [arg for arg in argv if arg != "--check"]
        here = [] if any(arg.startswith("--out-dir") for arg in argv) else ["--out-dir", "."]
        return check([*here, *argv])
    from .options import parse_args

    parse_args(argv)  # --help and bad options answer before torch is imported
    with needs_extra("vecrank bench"):
        from .run import main as run

    return run(argv)


__all__ = ["main"]
