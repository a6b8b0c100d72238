"""Qdrant adapter: rerank ``query_points``, ``query_batch_points`` and ``query_points_groups``.

:func:`vecrank.wrap` returns :class:`RerankingQdrantClient` (or the async twin), a transparent
proxy of a ``QdrantClient``; every other method is the client's own. The rerank text is
``rerank_query=``, or, where the config enables the collection, a ``Document``/``TextQuery``'s.
Reranked points are :class:`RerankedPoint` objects, a ``ScoredPoint`` whose ``score`` is the
reranker's (after normalisation) and whose ``vector_score`` keeps the database's.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from qdrant_client import AsyncQdrantClient, QdrantClient
from qdrant_client.http import models

from ..candidate import Candidate, to_candidates
from .pipeline import DEFAULT_LIMIT, QueryCandidates, regroup
from .proxy import RerankingProxy, acall_plain, call_plain, signature_of


class RerankedPoint(models.ScoredPoint):
    """A ``ScoredPoint`` after reranking: ``score`` is the reranker's, ``vector_score`` the database's."""

    vector_score: float | None = None
    rerank_score: float | None = None


def query_text(query: Any) -> str | None:
    """The text of a ``Document`` (directly or inside a ``NearestQuery``) or ``TextQuery``, else None."""
    if isinstance(query, models.NearestQuery):
        query = query.nearest
    if isinstance(query, models.Document):
        return query.text
    if isinstance(query, models.TextQuery):
        return query.text if isinstance(query.text, str) else query.text.query
    return None


@dataclass
class PayloadPlan:
    """The payload to fetch so the text field comes back, and how to give the caller only theirs."""

    requested: Any
    fetch: Any
    added: list[str] = field(default_factory=list)
    exact: bool = True  # False: nested paths overlap the text field; re-read the caller's payload

    def trim(self, payload: dict | None) -> dict | None:
        if self.requested in (False, None):
            return None
        if payload is None or not self.added:
            return payload
        return {key: value for key, value in payload.items() if key not in self.added}


def plan_payload(requested: Any, needed: Sequence[str]) -> PayloadPlan:
    """Widen the caller's ``with_payload`` to include ``needed`` top-level keys."""
    if requested is True:
        return PayloadPlan(requested, True)
    if requested in (False, None):
        return PayloadPlan(requested, list(needed), added=list(needed))
    if isinstance(requested, models.PayloadSelectorExclude):
        excluded = list(requested.exclude)
        nested = any(path.startswith(f"{key}.") for path in excluded for key in needed)
        kept = [path for path in excluded if path not in needed and path.split(".")[0] not in needed]
        added = [key for key in needed if key in excluded]
        return PayloadPlan(requested, models.PayloadSelectorExclude(exclude=kept), added, exact=not nested)
    paths = list(requested.include if isinstance(requested, models.PayloadSelectorInclude) else requested)
    missing = [key for key in needed if key not in paths]
    nested = any(path.startswith(f"{key}.") for path in paths for key in missing)
    fetch = paths + missing
    if isinstance(requested, models.PayloadSelectorInclude):
        fetch = models.PayloadSelectorInclude(include=fetch)
    return PayloadPlan(requested, fetch, missing, exact=not nested)


@dataclass
class QueryPlan:
    """One intercepted query: what is sent to Qdrant, and how to cut the reranked result."""

    query: str | None
    offset: int
    limit: int
    payload: PayloadPlan | None


def point_candidates(points: Sequence[models.ScoredPoint]) -> list[Candidate]:
    """The points as the pipeline's candidates, in Qdrant's order."""
    return to_candidates(
        points,
        id_of=lambda point: point.id,
        payload_of=lambda point: point.payload or {},
        vector_score_of=lambda point: point.score,
    )


def to_point(candidate: Candidate, payload: PayloadPlan) -> models.ScoredPoint:
    point: models.ScoredPoint = candidate.hit
    data = point.model_dump()
    data["payload"] = payload.trim(point.payload)
    if candidate.score is None:
        return models.ScoredPoint(**data)
    data["score"] = candidate.score
    return RerankedPoint(**data, vector_score=point.score, rerank_score=candidate.raw_score)


class _QdrantReranking(RerankingProxy):
    """What both twins share: argument rewriting and result rebuilding, no I/O."""

    def _bind(self, method: str, args: tuple, kwargs: dict) -> dict[str, Any]:
        """The call's arguments by name, as the wrapped client's method would see them."""
        signature = inspect.signature(getattr(type(self.__wrapped__), method))
        bound = signature.bind(self.__wrapped__, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop("self")
        arguments.update(arguments.pop("kwargs", {}))
        return arguments

    def _text(self, collection: str, rerank_query: str | None, arguments: dict) -> str | None:
        """The rerank text: ``rerank_query``, else the query's own text where the config enables it."""
        asked = self._self_pipeline.query_text(rerank_query, "rerank_query")
        return self._self_pipeline.rerank_text(collection, asked, query_text(arguments.get("query")))

    def _batch_texts(
        self, collection: str, requests: Sequence[models.QueryRequest], rerank_queries: Sequence | None
    ) -> list[str | None]:
        """Each batch request's rerank text: its ``rerank_queries`` entry, else its own text if enabled."""
        checked = self._self_pipeline.query_texts(rerank_queries, "rerank_queries", len(requests))
        rerank_queries = [None] * len(requests) if checked is None else checked
        return [
            self._self_pipeline.rerank_text(collection, asked, query_text(request.query))
            for asked, request in zip(rerank_queries, requests)
        ]

    def _plan(
        self, collection: str, text: str | None, offset: int | None, limit: int | None, with_payload: Any
    ) -> QueryPlan:
        offset, limit = offset or 0, DEFAULT_LIMIT if limit is None else limit
        payload = plan_payload(with_payload, self._self_pipeline.text_fields(collection))
        return QueryPlan(text, offset, limit, payload)

    def _prepare_call(self, method: str, arguments: dict, text: str | None) -> QueryPlan:
        """Rewrite one call's arguments in place: over-fetch, offset 0, the text field fetched."""
        collection = arguments["collection_name"]
        default_payload = inspect.signature(getattr(type(self.__wrapped__), method)).parameters[
            "with_payload"
        ]
        plan = self._plan(
            collection,
            text,
            arguments.get("offset"),
            arguments.get("limit"),
            arguments.get("with_payload", default_payload.default),
        )
        arguments["limit"] = self._self_pipeline.fetch_limit(collection, plan.offset, plan.limit)
        arguments.pop("offset", None)
        arguments["with_payload"] = plan.payload.fetch
        return plan

    def _prepare_request(
        self, collection: str, request: models.QueryRequest, text: str | None
    ) -> tuple[QueryPlan, models.QueryRequest]:
        plan = self._plan(collection, text, request.offset, request.limit, request.with_payload)
        limit = self._self_pipeline.fetch_limit(collection, plan.offset, plan.limit)
        update = {"limit": limit, "offset": None, "with_payload": plan.payload.fetch}
        return plan, request.model_copy(update=update)

    @staticmethod
    def _cut(plan: QueryPlan, ordered: list[Candidate]) -> list[models.ScoredPoint]:
        return [to_point(c, plan.payload) for c in ordered[plan.offset : plan.offset + plan.limit]]

    @staticmethod
    def _regroup(
        plan: QueryPlan, groups: Sequence[models.PointGroup], ordered: list[Candidate]
    ) -> list[models.PointGroup]:
        """Groups ordered by their best reranked hit, hits reordered inside each group."""
        group_of = {id(hit): group for group in groups for hit in group.hits}
        return [
            group_of[id(members[0].hit)].model_copy(
                update={"hits": [to_point(candidate, plan.payload) for candidate in members]}
            )
            for members in regroup(ordered, lambda candidate: id(group_of[id(candidate.hit)]), plan.limit)
        ]

    @staticmethod
    def _with_payloads(points: list[models.ScoredPoint], records: Sequence[models.Record]) -> list:
        payloads = {record.id: record.payload for record in records}
        return [point.model_copy(update={"payload": payloads.get(point.id)}) for point in points]


_RERANK_QUERY = {"rerank_query": (str | None, None)}
_RERANK_QUERIES = {"rerank_queries": (Sequence[str | None] | None, None)}


class RerankingQdrantClient(_QdrantReranking):
    """A ``QdrantClient`` whose query results are reranked; everything else is unchanged."""

    @signature_of(QdrantClient.query_points, **_RERANK_QUERY)
    def query_points(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.QueryResponse:
        """vecrank: reranked by ``rerank_query``, or by the ``Document`` text where the config enables it."""
        arguments = self._bind("query_points", args, kwargs)
        collection = arguments["collection_name"]
        text = self._text(collection, rerank_query, arguments)
        if not self._self_pipeline.should_rerank(collection, [text]):
            return call_plain(self.__wrapped__.query_points, **arguments)
        plan = self._prepare_call("query_points", arguments, text)
        response = call_plain(self.__wrapped__.query_points, **arguments)
        [ordered] = self._self_pipeline.rerank(
            collection, [QueryCandidates(text, point_candidates(response.points))]
        )
        points = self._reread(collection, plan, self._cut(plan, ordered))
        return response.model_copy(update={"points": points})

    @signature_of(QdrantClient.query_batch_points, **_RERANK_QUERIES)
    def query_batch_points(
        self, *args: Any, rerank_queries: Sequence[str | None] | None = None, **kwargs: Any
    ) -> list[models.QueryResponse]:
        """vecrank: each request reranked by its ``rerank_queries`` entry or own text, in one engine call."""
        arguments = self._bind("query_batch_points", args, kwargs)
        collection, requests = arguments["collection_name"], list(arguments["requests"])
        texts = self._batch_texts(collection, requests, rerank_queries)
        if not self._self_pipeline.should_rerank(collection, texts):
            return call_plain(self.__wrapped__.query_batch_points, **arguments)
        prepared = [self._prepare_request(collection, r, t) for r, t in zip(requests, texts)]
        arguments["requests"] = [request for _, request in prepared]
        responses = call_plain(self.__wrapped__.query_batch_points, **arguments)
        batch = [QueryCandidates(t, point_candidates(r.points)) for t, r in zip(texts, responses)]
        orders = self._self_pipeline.rerank(collection, batch)
        return [
            response.model_copy(update={"points": self._reread(collection, plan, self._cut(plan, ordered))})
            for (plan, _), response, ordered in zip(prepared, responses, orders)
        ]

    @signature_of(QdrantClient.query_points_groups, **_RERANK_QUERY)
    def query_points_groups(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.GroupsResult:
        """vecrank: hits reranked inside groups, groups ordered by their best hit."""
        arguments = self._bind("query_points_groups", args, kwargs)
        collection = arguments["collection_name"]
        text = self._text(collection, rerank_query, arguments)
        if not self._self_pipeline.should_rerank(collection, [text]):
            return call_plain(self.__wrapped__.query_points_groups, **arguments)
        plan = self._prepare_call("query_points_groups", arguments, text)
        result = call_plain(self.__wrapped__.query_points_groups, **arguments)
        hits = point_candidates([hit for group in result.groups for hit in group.hits])
        [ordered] = self._self_pipeline.rerank(collection, [QueryCandidates(text, hits)])
        groups = [
            group.model_copy(update={"hits": self._reread(collection, plan, group.hits)})
            for group in self._regroup(plan, result.groups, ordered)
        ]
        return result.model_copy(update={"groups": groups})

    def _reread(self, collection: str, plan: QueryPlan, points: list) -> list:
        """Points with exactly the caller's payload selection, where trimming cannot give it."""
        if plan.payload.exact or not points:
            return points
        records = self.__wrapped__.retrieve(
            collection, [p.id for p in points], with_payload=plan.payload.requested
        )
        return self._with_payloads(points, records)


class AsyncRerankingQdrantClient(_QdrantReranking):
    """An ``AsyncQdrantClient`` whose query results are reranked; everything else is unchanged."""

    @signature_of(AsyncQdrantClient.query_points, **_RERANK_QUERY)
    async def query_points(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.QueryResponse:
        """vecrank: reranked by ``rerank_query``, or by the ``Document`` text where the config enables it."""
        arguments = self._bind("query_points", args, kwargs)
        collection = arguments["collection_name"]
        text = self._text(collection, rerank_query, arguments)
        if not self._self_pipeline.should_rerank(collection, [text]):
            return await acall_plain(self.__wrapped__.query_points, **arguments)
        plan = self._prepare_call("query_points", arguments, text)
        response = await acall_plain(self.__wrapped__.query_points, **arguments)
        requests = [QueryCandidates(text, point_candidates(response.points))]
        [ordered] = await self._self_pipeline.arerank(collection, requests)
        points = await self._reread(collection, plan, self._cut(plan, ordered))
        return response.model_copy(update={"points": points})

    @signature_of(AsyncQdrantClient.query_batch_points, **_RERANK_QUERIES)
    async def query_batch_points(
        self, *args: Any, rerank_queries: Sequence[str | None] | None = None, **kwargs: Any
    ) -> list[models.QueryResponse]:
        """vecrank: each request reranked by its ``rerank_queries`` entry or own text, in one engine call."""
        arguments = self._bind("query_batch_points", args, kwargs)
        collection, requests = arguments["collection_name"], list(arguments["requests"])
        texts = self._batch_texts(collection, requests, rerank_queries)
        if not self._self_pipeline.should_rerank(collection, texts):
            return await acall_plain(self.__wrapped__.query_batch_points, **arguments)
        prepared = [self._prepare_request(collection, r, t) for r, t in zip(requests, texts)]
        arguments["requests"] = [request for _, request in prepared]
        responses = await acall_plain(self.__wrapped__.query_batch_points, **arguments)
        batch = [QueryCandidates(t, point_candidates(r.points)) for t, r in zip(texts, responses)]
        orders = await self._self_pipeline.arerank(collection, batch)
        return [
            response.model_copy(
                update={"points": await self._reread(collection, plan, self._cut(plan, ordered))}
            )
            for (plan, _), response, ordered in zip(prepared, responses, orders)
        ]

    @signature_of(AsyncQdrantClient.query_points_groups, **_RERANK_QUERY)
    async def query_points_groups(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.GroupsResult:
        """vecrank: hits reranked inside groups, groups ordered by their best hit."""
        arguments = self._bind("query_points_groups", args, kwargs)
        collection = arguments["collection_name"]
        text = self._text(collection, rerank_query, arguments)
        if not self._self_pipeline.should_rerank(collection, [text]):
            return await acall_plain(self.__wrapped__.query_points_groups, **arguments)
        plan = self._prepare_call("query_points_groups", arguments, text)
        result = await acall_plain(self.__wrapped__.query_points_groups, **arguments)
        hits = point_candidates([hit for group in result.groups for hit in group.hits])
        [ordered] = await self._self_pipeline.arerank(collection, [QueryCandidates(text, hits)])
        groups = [
            group.model_copy(update={"hits": await self._reread(collection, plan, group.hits)})
            for group in self._regroup(plan, result.groups, ordered)
        ]
        return result.model_copy(update={"groups": groups})

    async def _reread(self, collection: str, plan: QueryPlan, points: list) -> list:
        """Points with exactly the caller's payload selection, where trimming cannot give it."""
        if plan.payload.exact or not points:
            return points
        records = await self.__wrapped__.retrieve(
            collection, [p.id for p in points], with_payload=plan.payload.requested
        )
        return self._with_payloads(points, records)
