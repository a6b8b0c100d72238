"""Start ``vecrank serve`` in-process on loopback, query it as Cohere and as TEI with httpx, then stop.

    python examples/serve_and_query.py                      # a tiny random model, built in a temp folder
    python examples/serve_and_query.py --model ./my-reranker

Runs offline. The same server answers Weaviate's reranker-transformers module (POST /rerank with
``documents``) and Jina (POST /v1/rerank); from a shell, ``vecrank serve --model ./my-reranker``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import httpx

from vecrank.server import ServerSettings, running_server

QUERY = "how many people live in berlin"
DOCUMENTS = [
    "berlin is the capital of germany and has many people",
    "the cat sat on the road",
    "paris is the capital of france",
    "the population of the city is three million",
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", help="a reranker folder or alias (default: a tiny random BERT)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        model = args.model or str(tiny_model(Path(folder)))
        settings = ServerSettings(models={"my-reranker": model}, port=0, api_key="example-key")
        with running_server(settings) as url:
            print(f"serving {model} at {url}")
            if not args.model:
                print("(a tiny model with random weights: the scores and order mean nothing)")
            headers = {"Authorization": "Bearer example-key"}
            with httpx.Client(base_url=url, headers=headers, timeout=30) as client:
                cohere = client.post(
                    "/v2/rerank",
                    json={"model": "my-reranker", "query": QUERY, "documents": DOCUMENTS, "top_n": 3},
                )
                cohere.raise_for_status()
                print("\nCohere v2 POST /v2/rerank (top 3, relevance_score in 0..1):")
                for result in cohere.json()["results"]:
                    print(f"  {result['relevance_score']:.4f}  {DOCUMENTS[result['index']]}")

                tei = client.post("/rerank", json={"query": QUERY, "texts": DOCUMENTS, "raw_scores": True})
                tei.raise_for_status()
                print("\nTEI POST /rerank (raw logits, best first):")
                for rank in tei.json():
                    print(f"  {rank['score']:+.4f}  {DOCUMENTS[rank['index']]}")
        print("\nserver stopped")


def tiny_model(folder: Path) -> Path:
    """A tiny random BERT cross-encoder: the scores are arbitrary, the service around them is real."""
    from vecrank.testing.tiny_models import build_tiny_model

    return build_tiny_model("bert", folder / "tiny-bert")


if __name__ == "__main__":
    main()
