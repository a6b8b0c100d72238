"""`vecrank distill` from captured traffic and from Qdrant / Weaviate collections: the real qdrant-client
(embedded by path, and ``:memory:``), the real weaviate-client against the in-process stand-in, candidates
from the collection's own vector search, and each bad input's error."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from qdrant_client import QdrantClient
from qdrant_client import models as qdrant_models

from vecrank.cli import main
from vecrank.distillation import REPORT_NAME, distill
from vecrank.distillation.candidates import first_stage, prepare_search
from vecrank.distillation.databases import CollectionOptions
from vecrank.distillation.sources import Query, load_source, make_queries
from vecrank.errors import ConfigError
from vecrank.evaluation import hashing_embedder
from vecrank.testing.weaviate_server import WeaviateStandIn

FAST = {"candidates": 6, "max_length": 48, "batch_size": 8, "progress": False, "say": lambda _: None}
TOPICS = ["cats", "dogs", "keys", "servers", "backups", "tables", "rivers", "bread", "music", "trains"]
# 20 documents: (title, text); ids 0..19 in Qdrant, uuid5 of the number in Weaviate.
DOCS = [
    (f"About {w} {n // 10}", f"{w.capitalize()} matter in case {n}. Notes on {w} and {TOPICS[(n + 3) % 10]}.")
    for n, w in enumerate(TOPICS * 2)
]
QUESTIONS = [f"what about {w} and {TOPICS[(n + 5) % 10]}?" for n, w in enumerate(TOPICS)]
embed = hashing_embedder(64)


def weaviate_id(number: int) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"doc-{number}"))


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def traffic(path: Path, ids=lambda n: str(n), texts: bool = True, collection: str = "docs") -> Path:
    """A capture file in the traffic format: each question with 6 candidates, then the first one again."""
    rows = []
    picks = [[(q + 2 * k) % len(DOCS) for k in range(6)] for q in range(len(QUESTIONS))] + [[2, 1, 3]]
    for question, picked in zip([*QUESTIONS, QUESTIONS[0]], picks):
        rows.append({
            "v": 1, "time": "2025-05-01T12:00:00+00:00", "source": "qdrant", "collection": collection,
            "model": "bge-base", "query": question,
            "candidates": [
                {"id": ids(n), **({"text": DOCS[n][1]} if texts else {}), "retriever_score": 0.9 - k / 10,
                 "rerank_score": None}
                for k, n in enumerate(picked)
            ],
        })  # fmt: skip
    return write_jsonl(path, rows)


def qdrant_collection(client: QdrantClient, vectors: str = "one", name: str = "docs") -> QdrantClient:
    """``name`` holding DOCS (payload text and title): one unnamed vector, two named ones, or none."""
    config: dict | qdrant_models.VectorParams = {}
    if vectors == "one":
        config = qdrant_models.VectorParams(size=64, distance=qdrant_models.Distance.COSINE)
    elif vectors == "named":
        config = {
            name: qdrant_models.VectorParams(size=64, distance=qdrant_models.Distance.COSINE)
            for name in ("a", "b")
        }
    client.create_collection(name, vectors_config=config)
    rows = embed([text for _, text in DOCS]).tolist()
    points = []
    for n, ((title, text), row) in enumerate(zip(DOCS, rows)):
        vector = {"one": row, "named": {"a": row, "b": row[::-1]}, "none": {}}[vectors]
        points.append(qdrant_models.PointStruct(id=n, vector=vector, payload={"text": text, "title": title}))
    client.upsert(name, points)
    return client


@pytest.fixture
def qdrant_path(tmp_path) -> Path:
    """An embedded Qdrant folder holding "docs", closed again (so distill can open it)."""
    folder = tmp_path / "qdrant-db"
    qdrant_collection(QdrantClient(path=str(folder))).close()
    return folder


@pytest.fixture(scope="module")
def standin() -> Iterator[WeaviateStandIn]:
    """A Weaviate stand-in holding "Docs" (properties body and title, the unnamed vector)."""
    with WeaviateStandIn(embed=lambda text: embed([text])[0].tolist()) as server:
        server.add_collection("Docs", {"body": "text", "title": "text"})
        for n, (title, text) in enumerate(DOCS):
            server.add_object("Docs", {"body": text, "title": title}, uuid=weaviate_id(n))
        yield server


def weaviate_source(server: WeaviateStandIn) -> str:
    return f"weaviate:{server.url}?grpc_port={server.grpc_port}"


def test_cli_traffic_with_ids_only_reads_its_texts_from_an_embedded_qdrant_folder(
    models, qdrant_path, tmp_path, capsys, caplog
):
    captured = traffic(tmp_path / "traffic.jsonl", texts=False)
    out = tmp_path / "student"
    status = main(
        ["distill", "--data", str(captured), "--corpus", f"qdrant:{qdrant_path}", "--collection", "docs",
         "--teacher", str(models["teacher"]),
         "--student", str(models["student"]), "--out", str(out), "--candidates", "6", "--max-length", "48",
         "--batch-size", "8", "--eval-fraction", "0.3"]
    )  # fmt: skip
    assert status == 0, capsys.readouterr().err
    report = json.loads((out / REPORT_NAME).read_text())
    # 11 captures of 10 distinct questions (the repeat merged): 3 held out, 7 trained on.
    assert report["queries"] == {"trained": 7, "held_out": 3, "made_from_corpus": 0}
    assert report["settings"]["collection"] == "docs" and report["settings"]["queries"] == str(captured)
    assert "1 repeated queries merged" in caplog.text
    QdrantClient(path=str(qdrant_path)).close()  # distill closed the folder: it opens again


def test_a_traffic_file_with_texts_is_a_source_of_its_own_and_merges_repeated_queries(tmp_path):
    data = load_source(traffic(tmp_path / "traffic.jsonl"))
    assert [q.text for q in data.queries] == QUESTIONS and data.collection is None
    first = data.queries[0]
    # The repeat of the first question adds the candidates its first capture lacked, after them.
    assert [doc_id for doc_id, _ in first.candidates] == ["0", "2", "4", "6", "8", "10", "1", "3"]
    assert first.candidates[1] == ("2", DOCS[2][1])


def test_made_queries_search_with_their_documents_vector_and_given_ones_fall_back_to_bm25(
    qdrant_path, tmp_path, caplog
):
    questions = write_jsonl(tmp_path / "q.jsonl", [{"query": text} for text in QUESTIONS])
    options = CollectionOptions("docs", title_field="title")
    data = load_source(f"qdrant:{qdrant_path}", queries=questions, options=options, progress=False)
    try:
        assert data.documents["3"] == DOCS[3][1] and data.titles["3"] == DOCS[3][0]
        made = make_queries(data, ("titles",))
        assert made[3].origin == "3" and made[3].text == DOCS[3][0]
        prepare_search(data, [*data.queries, *made])
        assert "10 queries come with no candidates" in caplog.text and "BM25" in caplog.text
        pools = first_stage(data, [data.queries[0], made[3]], depth=5, progress=False)
    finally:
        data.close()
    # The made query: its own document first, then the nearest by its stored vector.
    rows = embed([text for _, text in DOCS])
    similarity = {str(n): float(rows[n] @ rows[3]) for n in range(20)}
    found = [doc_id for doc_id, _ in pools[made[3].id]]
    nearest = sorted((value for doc_id, value in similarity.items() if doc_id != "3"), reverse=True)[:4]
    assert found[0] == "3" and [similarity[doc_id] for doc_id in found[1:]] == pytest.approx(nearest)
    # The given query (no query encoder): BM25 over the collection's texts.
    assert pools[data.queries[0].id][0][0] in {"0", "10", "5", "15"}  # "what about cats and tables?"


def test_an_in_memory_client_with_named_vectors_and_a_query_encoder(models, tmp_path):
    from vecrank.config import CollectionConfig
    from vecrank.plugins.bi_encoder import BiEncoderScorer

    encoder = BiEncoderScorer(CollectionConfig(model="minilm-bi"))
    client = QdrantClient(":memory:")
    client.create_collection(
        "docs",
        vectors_config={
            "minilm": qdrant_models.VectorParams(size=384, distance=qdrant_models.Distance.COSINE),
            "hashed": qdrant_models.VectorParams(size=64, distance=qdrant_models.Distance.COSINE),
        },
    )
    minilm, hashed = encoder.embed([t for _, t in DOCS]).tolist(), embed([t for _, t in DOCS]).tolist()
    points = [
        qdrant_models.PointStruct(
            id=n, vector={"minilm": minilm[n], "hashed": hashed[n]}, payload={"text": text}
        )
        for n, (_, text) in enumerate(DOCS)
    ]
    client.upsert("docs", points)
    questions = write_jsonl(tmp_path / "q.jsonl", [{"query": text} for text in QUESTIONS])
    common = dict(queries=questions, collection="docs", query_encoder="minilm-bi", **FAST)
    with pytest.raises(
        ConfigError, match="has several vectors \\('minilm', 'hashed'\\): pick one with --vector-name"
    ):
        distill(client, str(models["teacher"]), str(models["student"]), tmp_path / "out", **common)
    with pytest.raises(ConfigError, match="makes 384-d vectors, but .* holds 64-d ones in vector 'hashed'"):
        distill(client, str(models["teacher"]), str(models["student"]), tmp_path / "out",
                vector_name="hashed", **common)  # fmt: skip

    options = CollectionOptions("docs", vector_name="minilm", query_encoder="minilm-bi")
    data = load_source(client, queries=questions, options=options, progress=False)
    prepare_search(data, data.queries)
    pools = first_stage(data, data.queries[:1], depth=3, progress=False)
    expected = client.query_points(
        "docs", query=encoder.embed([QUESTIONS[0]])[0].tolist(), using="minilm", limit=3
    )
    assert [doc_id for doc_id, _ in pools[data.queries[0].id]] == [str(p.id) for p in expected.points]

    report = distill(client, str(models["teacher"]), str(models["student"]), tmp_path / "out",
                     vector_name="minilm", **common)  # fmt: skip
    assert report["queries"] == {"trained": 8, "held_out": 2, "made_from_corpus": 0}
    assert client.collection_exists("docs")  # a client that was handed in stays open


def test_a_weaviate_collection_through_the_stand_in(models, standin, tmp_path):
    captured = traffic(tmp_path / "traffic.jsonl", ids=weaviate_id, texts=False, collection="Docs")
    seen = len(standin.requests)
    report = distill(
        weaviate_source(standin), str(models["teacher"]), str(models["student"]), tmp_path / "out",
        collection="Docs", text_field="body", queries=captured, make=["sentences"], eval_fraction=0.3, **FAST,
    )  # fmt: skip
    assert report["queries"] == {"trained": 27, "held_out": 3, "made_from_corpus": 20}
    requests = standin.requests[seen:]
    assert sum(bool(r.after) for r in requests) >= 1  # the corpus was read with the cursor iterator
    near = [r for r in requests if r.HasField("near_object")]
    assert len(near) == 20  # each made query searched with its document's vector
    assert (tmp_path / "out" / "model.safetensors").is_file()


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("unknown-collection", "qdrant collection 'nope' at .*: no such collection; expected one of: 'docs'"),
        ("missing-text-field", "expected a text field 'body' \\(--text-field\\), found none in its 20 "
                               "points; the first one has \\['text', 'title'\\]"),
        ("no-vectors", "expected stored vectors to search with, found none"),
        ("unknown-vector", "no vector named 'c' \\(--vector-name\\); it has 'a', 'b'"),
        ("ids-only-traffic", "candidate '0' has no text \\(captured with keep_texts = false\\): expected a "
                             "collection to read the texts from by id, found none; pass --corpus"),
        ("no-queries", "a collection gives documents, not queries; expected --queries FILE"),
        ("no-collection", "expected --collection NAME"),
        ("not-a-folder", "expected an embedded Qdrant folder .* found no folder there"),
        ("options-without-database", "--collection: expected with a qdrant:/weaviate: source"),
        ("not-a-bi-encoder", "--query-encoder 'ettin-17m': expected a vecrank bi-encoder .* "
                             "bi-encoders here: minilm-bi"),
        ("weaviate-missing-text", "weaviate collection 'Docs' at .*expected a text field 'text'"),
        ("weaviate-unknown-collection", "no such collection; expected one of: 'Docs'"),
    ],
)  # fmt: skip
def test_bad_collection_input_is_a_clear_error_and_writes_nothing(models, standin, tmp_path, case, message):
    questions = write_jsonl(tmp_path / "q.jsonl", [{"query": text} for text in QUESTIONS])
    folder = tmp_path / "db"
    kind = {"no-vectors": "none", "unknown-vector": "named"}.get(case, "one")
    qdrant_collection(QdrantClient(path=str(folder)), vectors=kind).close()
    data: object = f"qdrant:{folder}"
    settings: dict = {"collection": "docs", "queries": questions, "make": ["sentences"]}
    if case == "unknown-collection":
        settings["collection"] = "nope"
    elif case == "missing-text-field":
        settings["text_field"] = "body"
    elif case == "unknown-vector":
        settings["vector_name"] = "c"
    elif case == "ids-only-traffic":
        data, settings = traffic(tmp_path / "traffic.jsonl", texts=False), {}
    elif case == "no-queries":
        del settings["queries"]
    elif case == "no-collection":
        del settings["collection"]
    elif case == "not-a-folder":
        data = f"qdrant:{tmp_path / 'missing'}"
    elif case == "options-without-database":
        data, settings = traffic(tmp_path / "traffic.jsonl"), {"collection": "docs"}
    elif case == "not-a-bi-encoder":
        settings["query_encoder"] = "ettin-17m"
    elif case.startswith("weaviate"):
        data = weaviate_source(standin)
        settings["collection"] = "Nope" if case.endswith("collection") else "Docs"
    with pytest.raises(ConfigError, match=message):
        distill(
            data, str(models["teacher"]), str(models["student"]), tmp_path / "out", **{**FAST, **settings}
        )
    assert not (tmp_path / "out").exists() and not (tmp_path / ".out.distill-work").exists()
    QdrantClient(path=str(folder)).close()  # the folder was closed again


def test_queries_file_keeps_traffic_captures_and_drops_candidates_gone_from_the_collection(
    qdrant_path, tmp_path, caplog
):
    rows = [json.loads(line) for line in traffic(tmp_path / "t.jsonl", texts=False).read_text().splitlines()]
    rows[1]["candidates"].append({"id": "999", "retriever_score": 0.1, "rerank_score": None})
    rows.append({**rows[2], "collection": "other", "query": "a search on another collection"})
    captured = write_jsonl(tmp_path / "traffic.jsonl", rows)
    data = load_source(
        f"qdrant:{qdrant_path}", queries=captured, options=CollectionOptions("docs"), progress=False
    )
    data.close()
    assert len(data.queries) == 10 and all(isinstance(q, Query) and q.candidates for q in data.queries)
    assert [doc_id for doc_id, _ in data.queries[1].candidates] == ["1", "3", "5", "7", "9", "11"]
    assert "1 candidates are no longer in the collection" in caplog.text
    assert "1 of 12 lines were captured on other collections" in caplog.text


def test_a_queries_file_may_give_some_queries_their_documents(qdrant_path, tmp_path):
    rows = [{"query": "what about cats?", "documents": ["cats purr", {"id": "d2", "text": "dogs bark"}]},
            {"query": "what about keys?"}]  # fmt: skip
    questions = write_jsonl(tmp_path / "q.jsonl", rows)
    data = load_source(
        f"qdrant:{qdrant_path}", queries=questions, options=CollectionOptions("docs"), progress=False
    )
    data.close()
    assert [q.candidates for q in data.queries] == [[("1-0", "cats purr"), ("d2", "dogs bark")], None]
