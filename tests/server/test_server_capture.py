"""``vecrank serve`` records each answered request when ``[capture]`` is on, flushed at shutdown."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import httpx
import pytest
from server_helpers import AUTH, DOCUMENTS, QUERIES, small_settings

import vecrank
from vecrank import load_config
from vecrank.config import CaptureConfig
from vecrank.plugins import register_plugin, unregister_plugin
from vecrank.plugins.capture import close_capture
from vecrank.server import ServerSettings, running_server


@pytest.fixture(autouse=True)
def _fresh_writers():
    close_capture()
    yield
    close_capture()


class SlowWriter:
    """Holds the capture writer until ``release`` is set: only a flush at shutdown finds the records."""

    def __init__(self) -> None:
        self.release = threading.Event()

    @vecrank.hookimpl
    def vecrank_capture_redact(self, record):
        assert self.release.wait(10)
        return record


def test_each_answered_request_is_recorded(model_path: str, expected: dict, tmp_path: Path) -> None:
    path = tmp_path / "traffic.jsonl"
    capture = CaptureConfig(enabled=True, path=path, keep_texts=True)
    tei = {"query": QUERIES[0], "texts": DOCUMENTS[:5], "raw_scores": True}
    cohere = {"model": "tiny", "query": QUERIES[1], "documents": DOCUMENTS[2:8]}
    slow = SlowWriter()
    register_plugin(slow, "slow-writer")
    try:
        with running_server(small_settings(model_path, capture=capture)) as url:
            assert httpx.post(url + "/rerank", json=tei, headers=AUTH).status_code == 200
            assert httpx.post(url + "/v2/rerank", json=cohere, headers=AUTH).status_code == 200
            threading.Timer(1.0, slow.release.set).start()  # after the shutdown began
    finally:
        unregister_plugin("slow-writer")
    # No flush here: the server's shutdown waited for the writer.
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    assert len(records) == 2
    for record, (query, documents) in zip(
        records, [(QUERIES[0], DOCUMENTS[:5]), (QUERIES[1], DOCUMENTS[2:8])]
    ):
        assert (record["source"], record["collection"], record["model"]) == ("serve", None, model_path)
        assert record["query"] == query
        candidates = record["candidates"]
        assert [c["id"] for c in candidates] == [str(number) for number in range(len(documents))]
        assert [c["text"] for c in candidates] == documents
        assert all(c["retriever_score"] is None for c in candidates)
        scores = [expected[(query, document)] for document in documents]
        assert [c["rerank_score"] for c in candidates] == pytest.approx(scores, abs=1e-5)


def test_serve_takes_capture_from_the_config(tmp_path: Path) -> None:
    config = load_config(
        {"capture": {"enabled": True, "path": str(tmp_path / "t.jsonl"), "sample_rate": 0.5}}
    )
    settings = ServerSettings.from_config(config)
    assert settings.capture == config.capture and settings.capture.sample_rate == 0.5
    assert ServerSettings(models={"a": "ettin-17m"}).capture.enabled is False
