"""Strict inputs: JSON content types only, no booleans or strings where numbers or enums belong, bodies
parsed exactly as ``json.loads`` parses them."""

from __future__ import annotations

import json

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from vecrank.server.body import is_json, parse_json

OK = {"query": "q", "documents": ["a", "b"]}


@pytest.mark.parametrize(
    "content_type", ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data", None]
)
@pytest.mark.parametrize("path", ["/rerank", "/v2/rerank", "/v1/rerank"])
def test_a_body_that_is_not_json_gets_415(client: httpx.Client, path: str, content_type: str | None) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    response = client.post(path, content=json.dumps(OK).encode(), headers=headers)
    assert response.status_code == 415, response.text
    assert "application/json" in response.text


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8", "application/vnd.api+json"])
def test_json_content_types_are_accepted(client: httpx.Client, content_type: str) -> None:
    response = client.post(
        "/v2/rerank", content=json.dumps(OK).encode(), headers={"Content-Type": content_type}
    )
    assert response.status_code == 200, response.text


def test_content_types() -> None:
    assert is_json("Application/JSON") and is_json("application/problem+json; charset=utf-8")
    assert not is_json("text/json") and not is_json("application/jsonp") and not is_json("")


# (path, a field given the wrong kind of value, the field named in the error, the error key)
LOOSE = [
    ("/v2/rerank", {"top_n": True}, "top_n", "message"),
    ("/v2/rerank", {"top_n": "3"}, "top_n", "message"),
    ("/v2/rerank", {"top_n": 2.5}, "top_n", "message"),
    ("/v2/rerank", {"max_tokens_per_doc": False}, "max_tokens_per_doc", "message"),
    ("/v2/rerank", {"max_tokens_per_doc": "10"}, "max_tokens_per_doc", "message"),
    ("/v2/rerank", {"model": 1}, "model", "message"),
    ("/v1/rerank", {"top_n": True}, "top_n", "message"),
    ("/v1/rerank", {"return_documents": "false"}, "return_documents", "message"),
    ("/v1/rerank", {"return_documents": 0}, "return_documents", "message"),
    ("/v1/rerank", {"rank_fields": "text"}, "rank_fields", "message"),
    ("/rerank", {"texts": ["a"], "truncate": "yes"}, "truncate", "error"),
    ("/rerank", {"texts": ["a"], "truncate": 1}, "truncate", "error"),
    ("/rerank", {"texts": ["a"], "raw_scores": "true"}, "raw_scores", "error"),
    ("/rerank", {"texts": ["a"], "return_text": 1}, "return_text", "error"),
    ("/rerank", {"texts": ["a"], "truncation_direction": "up"}, "truncation_direction", "error"),
    ("/rerank", {"texts": ["a"], "truncation_direction": True}, "truncation_direction", "error"),
    ("/rerank", {"documents": ["a"], "query": 5}, "query", "error"),
    ("/rerank", {"property": True}, "property", "error"),
]


@pytest.mark.parametrize(("path", "fields", "field", "key"), LOOSE)
def test_booleans_and_strings_are_not_numbers_or_enums(
    client: httpx.Client, path: str, fields: dict, field: str, key: str
) -> None:
    body = {"model": "tiny", **OK, **fields} if path == "/v2/rerank" else {**OK, **fields}
    if "texts" in fields or "property" in fields:
        body.pop("documents")
    response = client.post(path, json=body)
    assert response.status_code == 422, response.text
    assert f"`{field}" in response.json()[key]


JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=4),
    max_leaves=12,
)


@settings(max_examples=200, deadline=None)
@given(JSON_VALUES, st.sampled_from(["", " ", "\n\t ", "\r\n"]))
def test_parse_json_reads_what_json_loads_reads(value, space: str) -> None:
    text = json.dumps(value, indent=None if not space else 1, separators=(f",{space}", f":{space}"))
    text = f"{space}{text}{space}"
    assert parse_json(text) == json.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        '{"a": [1, 2,]}',
        '{"a": [1 2]}',
        '{"a": 1,}',
        '{"a" 1}',
        "{1: 2}",
        '{"a": [1], "b": 2} x',
        '{"a": [',
        '{"a": "x',
        "{",
        '{"a": [1]}}',
        "",
    ],
)
def test_parse_json_refuses_what_json_loads_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        parse_json(text)


def test_a_whole_number_written_with_a_fraction_is_that_integer(client: httpx.Client) -> None:
    body = {"model": "tiny", "query": "q", "documents": ["a", "b", "c"], "top_n": 2.0}
    response = client.post("/v2/rerank", json=body)
    assert response.status_code == 200, response.text
    assert len(response.json()["results"]) == 2
