"""The ``vecrank`` command: models, plugins, rank (and demo, eval, serve, bench)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence

from . import __version__
from .errors import VecrankError


def cmd_models(args: argparse.Namespace) -> int:
    """List reranker names, their sources, and whether each can be loaded offline."""
    from .core.registry import MODEL_ALIASES, cached_locally
    from .plugins import get_reranker_registry

    rows = []
    for entry in get_reranker_registry().entries():
        if entry.name in MODEL_ALIASES:
            source = MODEL_ALIASES[entry.name]
            rows.append({"name": entry.name, "source": source, "local": cached_locally(source)})
        else:
            rows.append({"name": entry.name, "source": f"plugin {entry.plugin}", "local": True})
    if args.json:
        print(json.dumps(rows, indent=2))
        return 0
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        mark = "local" if row["local"] else "not downloaded"
        print(f"{row['name']:<{width}}  {row['source']}  ({mark})")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """Print the registered plugins as JSON: name, version, hooks."""
    from .plugins import plugin_info

    plugins = plugin_info()
    if not args.all:
        plugins = [plugin for plugin in plugins if not plugin["builtin"]]
    print(json.dumps(plugins, indent=2))
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    """Score each line of FILE (or stdin) against the query and print them best first."""
    from .core import get_reranker

    stream = sys.stdin if args.file in (None, "-") else open(args.file, encoding="utf-8")  # noqa: SIM115
    with stream:
        documents = [line.rstrip("\n") for line in stream if line.strip()]
    if not documents:
        print("no documents: give a file with one document per line, or pipe them in", file=sys.stderr)
        return 2
    reranker = get_reranker(args.model, device=args.device, trust_remote_code=args.trust_remote_code)
    ranking = reranker.rank(args.query, documents, top_k=args.top_k, return_documents=True)
    if args.json:
        print(json.dumps(ranking, ensure_ascii=False, indent=2))
        return 0
    for place, item in enumerate(ranking, start=1):
        print(f"{place:>3}  {item['score']:+.4f}  {item['text']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Index the shipped corpus in embedded Qdrant, search, rerank, and compare."""
    from .demo import run_demo

    run_demo(model=args.model, candidates=args.candidates, limit=args.limit, show=args.show)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """First stage on embedded Qdrant over a BEIR folder, then each model; metrics from ranx."""
    from .evaluation import format_table, run_eval

    rows = run_eval(
        args.data,
        models=[m.strip() for m in args.models.split(",") if m.strip()],
        first_stage=args.first_stage,
        candidates=args.candidates,
        split=args.split,
    )
    print(format_table(rows))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump({"data": args.data, "first_stage": args.first_stage, "results": rows}, out, indent=2)
        print(f"wrote {args.out}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vecrank", description=__doc__)
    parser.add_argument("--version", action="version", version=f"vecrank {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    models = commands.add_parser("models", help="list reranker aliases and which are available locally")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(func=cmd_models)

    plugins = commands.add_parser("plugins", help="list installed plugins as JSON")
    plugins.add_argument("--all", action="store_true", help="include the built-in plugins")
    plugins.set_defaults(func=cmd_plugins)

    rank = commands.add_parser("rank", help="rank lines of text against a query")
    rank.add_argument("file", nargs="?", help="one document per line; '-' or nothing reads stdin")
    rank.add_argument("--model", "-m", required=True, help="alias, folder or hub id")
    rank.add_argument("--query", "-q", required=True)
    rank.add_argument("--top-k", type=int, default=None)
    rank.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best there is)")
    rank.add_argument("--trust-remote-code", action="store_true", help="allow hub code (JinaBERT)")
    rank.add_argument("--json", action="store_true", help="print JSON")
    rank.set_defaults(func=cmd_rank)
    demo = commands.add_parser("demo", help="see reranking improve search on a small shipped corpus")
    demo.add_argument("--model", "-m", default="ettin-17m", help="reranker (default: ettin-17m)")
    demo.add_argument("--candidates", type=int, default=30, help="hits over-fetched for the reranker")
    demo.add_argument("--limit", type=int, default=10, help="hits per question")
    demo.add_argument("--show", type=int, default=3, help="questions to print side by side")
    demo.set_defaults(func=cmd_demo)

    from .server import add_serve_arguments, run_serve

    serve = commands.add_parser("serve", help="rerank over HTTP: Weaviate module, TEI, Cohere, Jina")
    add_serve_arguments(serve)
    serve.set_defaults(func=run_serve)

    # `vecrank bench ...` hands its arguments to the benchmark's own parser (see main).
    commands.add_parser("bench", help="pairs/s, latency and memory against sentence-transformers")

    evaluate = commands.add_parser("eval", help="NDCG@10, MRR@10, Recall@100 on a BEIR-format folder")
    evaluate.add_argument(
        "--data",
        required=True,
        help="folder with corpus.jsonl, queries.jsonl, qrels/; 'demo': the demo corpus",
    )
    evaluate.add_argument(
        "--models",
        "-m",
        default="ettin-17m",
        help="comma-separated rerankers; a cascade is written ettin-17m@30>ettin-1b",
    )
    evaluate.add_argument("--first-stage", choices=["minilm", "hashing"], default="minilm")
    evaluate.add_argument("--candidates", type=int, default=100, help="hits reranked per query")
    evaluate.add_argument("--split", default="test", help="qrels file: qrels/<split>.tsv")
    evaluate.add_argument("--out", help="write the results as JSON here")
    evaluate.set_defaults(func=cmd_eval)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["bench"]:
        from .bench import main as bench

        return bench(argv[1:])
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except (VecrankError, OSError) as error:
        print(f"vecrank {args.command}: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
