"""Throughput of vecrank against sentence-transformers CrossEncoder (same models, same pairs, same run).

    python benchmarks/throughput.py --models minilm-l6,17m,32m --pairs 1000

The benchmark itself lives in :mod:`vecrank.bench` so that ``vecrank bench`` runs the same code.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vecrank.bench import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
