"""``vecrank eval`` on a tiny BEIR folder, and ``vecrank demo`` on the shipped corpus."""

from __future__ import annotations

import json

import pytest

import vecrank
from vecrank import ConfigError
from vecrank.cli import main
from vecrank.demo import FALLBACK_MODEL, run_demo
from vecrank.evaluation import _document_text, load_beir, load_dataset, load_demo_dataset, run_eval
from vecrank.plugins import manager

TOPICS = ["keys", "bread", "tomato", "orbit", "football", "vacuum"]


def write_beir(root):
    """Six topics, four documents each; each query's answer is the document that says 'answer'."""
    (root / "qrels").mkdir(parents=True)
    corpus, queries, qrels = [], [], ["query-id\tcorpus-id\tscore"]
    for t, topic in enumerate(TOPICS):
        for d in range(4):
            # Distractors repeat the query's words, so the lexical first stage ranks them higher.
            text = f"{topic} answer" if d == 2 else f"{topic} question notes {d}"
            corpus.append({"_id": f"{topic}-{d}", "title": topic.title(), "text": text})
        queries.append({"_id": f"q{t}", "text": f"{topic} question"})
        qrels.append(f"q{t}\t{topic}-2\t1")
    (root / "corpus.jsonl").write_text("\n".join(json.dumps(row) for row in corpus))
    (root / "queries.jsonl").write_text("\n".join(json.dumps(row) for row in queries))
    (root / "qrels" / "test.tsv").write_text("\n".join(qrels) + "\n")
    return root


class AnswerFirst:
    """A reranker that knows the answer: scores 'answer' documents highest."""

    def __init__(self, config):
        self.config = config

    def predict(self, pairs):
        return [10.0 if "answer" in text else 0.0 for _, text in pairs]


class Oracle:
    @vecrank.hookimpl
    def vecrank_register_rerankers(self, register):
        register("oracle", AnswerFirst)


@pytest.fixture
def oracle():
    manager.register_plugin(Oracle(), name="oracle")
    try:
        yield "oracle"
    finally:
        manager.unregister_plugin("oracle")


def test_load_beir_reads_all_three_files(tmp_path):
    dataset = load_beir(write_beir(tmp_path))
    assert len(dataset.documents) == 24 and len(dataset.queries) == 6
    assert dataset.qrels["q0"] == {"keys-2": 1}
    assert dataset.titles["orbit-1"] == "Orbit"


def test_load_beir_names_missing_file(tmp_path):
    write_beir(tmp_path)
    (tmp_path / "qrels" / "test.tsv").unlink()
    with pytest.raises(ConfigError, match="no qrels file 'test.tsv'"):
        load_beir(tmp_path)


def test_eval_reports_first_stage_and_each_model(tmp_path, oracle, tiny_bert):
    rows = run_eval(
        write_beir(tmp_path), [oracle, str(tiny_bert)], first_stage="hashing", candidates=24, progress=False
    )
    assert list(rows) == ["first stage (hashing)", "oracle", str(tiny_bert)]
    # The oracle puts every answer first: all metrics are exactly 1.
    metric_values = {name: value for name, value in rows["oracle"].items() if name != "pairs/s"}
    assert metric_values == {"ndcg@10": 1.0, "mrr@10": 1.0, "recall@100": 1.0, "hits@1": 1.0}
    assert rows["oracle"]["pairs/s"] > 0 and "pairs/s" not in rows["first stage (hashing)"]
    # Reranking all 24 documents reorders them but keeps every one: recall@100 stays 1.
    assert rows[str(tiny_bert)]["recall@100"] == 1.0
    assert rows["first stage (hashing)"]["mrr@10"] < 1.0


def test_eval_reports_a_cascade_like_any_model(tmp_path, oracle, tiny_bert):
    data = write_beir(tmp_path)
    cascade = f"{tiny_bert}@8>{oracle}"
    rows = run_eval(data, [cascade], first_stage="hashing", candidates=24, progress=False)
    assert list(rows) == ["first stage (hashing)", cascade] and rows[cascade]["pairs/s"] > 0
    # The random first stage keeps 8 of the 24 documents; the oracle puts the answer first when kept.
    dataset = load_beir(data)
    scorer = vecrank.get_reranker(str(tiny_bert))
    ids = list(dataset.documents)
    kept = 0
    for qid, query in dataset.queries.items():
        scores = scorer.predict([(query, _document_text(dataset, doc)) for doc in ids])
        top = {ids[i] for i in sorted(range(len(ids)), key=lambda i: -scores[i])[:8]}
        kept += bool(top & set(dataset.qrels[qid]))
    assert rows[cascade]["hits@1"] == pytest.approx(kept / len(dataset.queries))
    assert rows[cascade]["recall@100"] == 1.0


def test_eval_reads_the_demo_corpus():
    assert load_dataset("demo").queries == load_demo_dataset().queries


def test_eval_command_writes_json(tmp_path, oracle, capsys):
    out = tmp_path / "results.json"
    data = write_beir(tmp_path / "beir")
    command = ["eval", "--data", str(data), "-m", "oracle", "--first-stage", "hashing", "--out", str(out)]
    assert main(command) == 0
    printed = capsys.readouterr().out
    assert "oracle" in printed and "ndcg@10" in printed
    saved = json.loads(out.read_text())
    assert saved["results"]["oracle"]["ndcg@10"] == 1.0


def test_shipped_corpus_is_consistent():
    dataset = load_demo_dataset()
    assert 300 <= len(dataset.documents) <= 400 and 40 <= len(dataset.queries) <= 60
    for answers in dataset.qrels.values():
        assert answers and all(doc in dataset.documents for doc in answers)


def test_demo_falls_back_offline_and_reranking_helps():
    lines: list[str] = []
    result = run_demo(model="ettin-17m", candidates=30, show=1, progress=False, say=lines.append)
    assert result["model"] == FALLBACK_MODEL
    assert any("Cannot load 'ettin-17m'" in line and "unreachable" in line for line in lines)
    before, after = result["metrics"]["first stage"], result["metrics"][FALLBACK_MODEL]
    assert after["hits@1"] >= before["hits@1"] + 0.2
    assert after["ndcg@10"] > before["ndcg@10"]
