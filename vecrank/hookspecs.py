"""The hooks a vecrank plugin may implement (pluggy project name ``vecrank``)."""

from __future__ import annotations

from pluggy import HookimplMarker, HookspecMarker

hookspec = HookspecMarker("vecrank")
hookimpl = HookimplMarker("vecrank")


@hookspec
def vecrank_register_rerankers(register):
    """Add rerankers: ``register(name, factory, aliases=())``; ``factory(config)`` returns a scorer."""


@hookspec
def vecrank_register_prompt_templates(register):
    """Add prompt templates of yes/no rerankers: ``register(template)``, a core.prompts.PromptTemplate."""


@hookspec(firstresult=True)
def vecrank_document_text(collection, candidate, config):
    """Return the text to score for one candidate hit, or None to leave it to the next plugin."""


@hookspec(firstresult=True)
def vecrank_rerank(collection, pairs, config):
    """Return one score per (query, text) pair, in order, or None to leave it to the next plugin."""


@hookspec(firstresult=True)
def vecrank_arerank(collection, pairs, config):
    """Return an awaitable of one score per pair for async callers, or None to use ``vecrank_rerank``."""


@hookspec
def vecrank_after_rerank(collection, query, candidates, config):
    """Post-process one query's scored candidates in place: normalise, fuse, filter, log."""


@hookspec
def vecrank_reranked(source, collection, query, model, candidates, config, capture):
    """Observe one reranked search, after post-processing; change nothing.

    ``candidates``: every hit in the retriever's order, with ``vector_score`` and ``raw_score`` (None where
    not scored). ``source``: ``qdrant``, ``weaviate``, ``serve`` or an integration's name; ``model``: the
    reranker's name (a cascade's ``a@30>b``); ``config``: the collection's settings (None from ``serve``);
    ``capture``: the ``[capture]`` settings.
    """


@hookspec
def vecrank_capture_redact(record):
    """Return the capture record (a JSON-ready dict), changed, or None to drop it; each gets the last's."""


@hookspec
def vecrank_distill_queries(documents, titles):
    """Return training queries made from a corpus (``{doc_id: text}``, ``{doc_id: title}``) for distill.

    Each is a string, or a ``(doc_id, query)`` pair naming the document it was made from (a collection
    source then searches with that document's stored vector).
    """
