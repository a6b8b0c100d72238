"""The engine on its own: score (query, passage) pairs and rank passages, with no database.

    python examples/engine.py                  # ettin-17m where it is downloaded, else a tiny stand-in
    python examples/engine.py --model ./my-reranker

Where ettin-17m is not on this machine (offline), a tiny ModernBERT with random weights stands in,
so the script still runs; its scores and order then mean nothing.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from vecrank import CrossEncoderReranker, ModelError
from vecrank.plugins import check_model_available
from vecrank.testing.tiny_models import build_tiny_model

QUERY = "how do I rotate an API key?"
PASSAGES = [
    "Our office is closed on public holidays.",
    "To rotate an API key, create a new key, deploy it, then revoke the old one.",
    "Invoices are emailed on the first day of each month.",
]


def pick_model(asked: str | None, folder: Path) -> str:
    """The model asked for, else ettin-17m where it can be loaded, else a tiny random stand-in."""
    if asked:
        return asked
    try:
        check_model_available("ettin-17m")
        return "ettin-17m"
    except ModelError as error:
        print(f"{error}\n-> a tiny ModernBERT with random weights stands in: its scores mean nothing\n")
        return str(build_tiny_model("modernbert", folder / "tiny"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="alias, local folder or hub id (default: ettin-17m)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        reranker = CrossEncoderReranker(pick_model(args.model, Path(folder)))
        logits = reranker.predict([(QUERY, passage) for passage in PASSAGES])  # raw logits, one per pair
        print("predict:", [round(float(logit), 3) for logit in logits])
        for hit in reranker.rank(QUERY, PASSAGES, top_k=2, return_documents=True):
            print(f"rank: {hit['score']:+.3f}  {hit['text']}")


if __name__ == "__main__":
    main()
