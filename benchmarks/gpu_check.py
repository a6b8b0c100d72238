"""One-shot GPU check: parity on CUDA for every architecture, then throughput on the Ettin shapes and MiniLM.

    PYTHONPATH=. python benchmarks/gpu_check.py --out-dir DIR          # one GPU, about 8 minutes
    PYTHONPATH=. python benchmarks/gpu_check.py --out-dir DIR --cpu    # the same on CPU with tiny sizes

The check itself lives in :mod:`vecrank.bench.check` so that ``vecrank bench --check`` runs the same code.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("HF_HUB_OFFLINE", "1")

from vecrank.bench.check import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
