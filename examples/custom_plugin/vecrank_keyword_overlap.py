"""An example vecrank plugin: a reranker that scores by keyword overlap, and a logger.

Install with ``pip install ./examples/custom_plugin``; then ``model = "keyword-overlap"``
in a collection's config uses it, and ``vecrank plugins`` lists it.
"""

from __future__ import annotations

import logging
import re

import vecrank

logger = logging.getLogger(__name__)
WORD = re.compile(r"\w+")


class KeywordOverlapScorer:
    """Fraction of the query's distinct words that occur in the text."""

    def __init__(self, config: vecrank.CollectionConfig) -> None:
        self.config = config

    def predict(self, pairs):
        scores = []
        for query, text in pairs:
            wanted = set(WORD.findall(query.lower()))
            found = wanted & set(WORD.findall(text.lower()))
            scores.append(len(found) / len(wanted) if wanted else 0.0)
        return scores


@vecrank.hookimpl
def vecrank_register_rerankers(register):
    register("keyword-overlap", KeywordOverlapScorer, aliases=("overlap",))


@vecrank.hookimpl
def vecrank_after_rerank(collection, query, candidates, config):
    if candidates:
        logger.info("%s: %r -> best hit %r (%.3f)", collection, query, candidates[0].id, candidates[0].score)
