"""The OpenAPI document is the contract: schemathesis, against a live server, finds no answer that breaks
it (status, content type, body) and no server error, for valid and invalid requests alike."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from server_helpers import AUTH, small_settings

from vecrank.server import running_server

ALL_CHECKS = list(HealthCheck)
# Bounds that keep the run well under a minute on two cores.
EXAMPLES = 12
# A body the server refuses as too large (413: too many documents) is rejected too.
REJECTED = ["400", "401", "404", "405", "406", "409", "413", "415", "422", "429"]
CONFIG = SchemathesisConfig.from_dict(
    {"checks": {"negative_data_rejection": {"expected-statuses": REJECTED}}}
)


def with_rank_fields(case: schemathesis.Case) -> schemathesis.Case:
    """The one rule of the contract that JSON Schema cannot state (every object document holds each of the
    request's ``rank_fields``, whatever they are named), kept by giving the documents the missing ones."""
    body = case.body
    if isinstance(body, dict) and isinstance(body.get("rank_fields"), list):
        for document in body.get("documents") or []:
            if isinstance(document, dict):
                document.update({field: "" for field in body["rank_fields"] if field not in document})
    return case


@pytest.fixture(scope="module")
def served_url(model_path: str) -> Iterator[str]:
    limits = {"max_documents": 16, "max_document_chars": 300, "max_query_chars": 200}
    with running_server(small_settings(model_path, **limits)) as url:
        yield url


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_every_answer_keeps_the_schema(served_url: str, mode: str) -> None:
    schema = schemathesis.openapi.from_url(served_url + "/openapi.json", headers=AUTH, config=CONFIG)
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 8
    for operation in operations:
        if mode == "negative" and operation.method.upper() != "POST":
            continue  # the GET routes take no input that could be wrong
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))
        if mode == "positive" and operation.path == "/v1/rerank":
            strategy = strategy.map(with_rank_fields)

        @given(case=strategy)
        @settings(
            max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None
        )
        def keeps_the_schema(case: schemathesis.Case) -> None:
            case.call_and_validate(headers=AUTH)

        keeps_the_schema()
