#!/usr/bin/env bash
# Set vecrank up from this clone and show it working:
#   1. a virtualenv in .venv (python3 -m venv; set PYTHON to use another interpreter),
#   2. the torch build for this machine,
#   3. vecrank with the extras in VECRANK_EXTRAS (default: demo),
#   4. `vecrank demo` (skip it with VECRANK_SKIP_DEMO=1).
#
# Which torch: a torch wheel that pip finds on this machine's disk (pip's find-links) first;
# else, with an NVIDIA GPU (nvidia-smi) or on macOS, PyPI's default build (CUDA / MPS);
# else the CPU build from https://download.pytorch.org/whl/cpu (PyPI's Linux default is a
# multi-GB CUDA build). TORCH_INDEX_URL=<url> picks the index yourself, e.g. a ROCm one.
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
EXTRAS=${VECRANK_EXTRAS:-demo}

"$PYTHON" -m venv .venv
# shellcheck disable=SC1091
source .venv/bin/activate
python -m pip install -q --upgrade pip

if python -c "import torch" 2>/dev/null; then
    echo "torch $(python -c 'import torch; print(torch.__version__)') is already installed"
elif [ -n "${TORCH_INDEX_URL:-}" ]; then
    python -m pip install -q "torch>=2.4" --index-url "$TORCH_INDEX_URL"
elif python -m pip install -q --no-index --no-deps "torch>=2.4" 2>/dev/null; then
    echo "torch from a wheel on this machine's disk"
    # that wheel's own dependencies (filelock, sympy, ...) from the usual indexes
    python -m pip install -q "torch==$(python -c 'from importlib.metadata import version; print(version("torch"))')"
elif [ "$(uname -s)" = "Darwin" ] || (command -v nvidia-smi >/dev/null && nvidia-smi -L >/dev/null 2>&1); then
    python -m pip install -q "torch>=2.4"
else
    echo "no NVIDIA GPU found: installing the CPU build of torch"
    python -m pip install -q "torch>=2.4" --index-url https://download.pytorch.org/whl/cpu
fi
python -W ignore -c 'import torch; print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}")'

python -m pip install -q -e ".[$EXTRAS]"
echo "installed vecrank[$EXTRAS] into .venv (activate it with: source .venv/bin/activate)"

if [ "${VECRANK_SKIP_DEMO:-0}" != "1" ]; then
    vecrank demo
fi
