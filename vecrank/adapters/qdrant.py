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


@dataclass
class Search:
    """One intercepted search, with no I/O: the call to make, and how to rerank and rebuild its answer.

    ``plans`` holds one :class:`QueryPlan` per query (one per request of a batch); none when the
    call passes through unchanged. The sync and async clients run the same search; only their
    I/O differs.
    """

    method: str
    collection: str
    arguments: dict[str, Any]
    plans: list[QueryPlan] = field(default_factory=list)

    @property
    def plain(self) -> bool:
        return not self.plans

    def requests(self, response: Any) -> list[QueryCandidates]:
        """What the pipeline reranks: each query's text and the points Qdrant answered it with."""
        return [
            QueryCandidates(plan.query, point_candidates(points))
            for plan, points in zip(self.plans, self.point_lists(response))
        ]

    def rereads(self, result: Any) -> list[dict[str, Any]]:
        """``retrieve`` arguments for each query whose payload selection trimming cannot give exactly."""
        return [
            {
                "collection_name": self.collection,
                "ids": [p.id for p in points],
                "with_payload": plan.payload.requested,
            }
            for plan, points in zip(self.plans, self.point_lists(result))
            if not plan.payload.exact and points
        ]

    def with_records(self, result: Any, records: Sequence[Sequence[models.Record]]) -> Any:
        """``result`` with the payloads that :meth:`rereads` fetched, in its order."""
        lists, found = self.point_lists(result), iter(records)
        for number, (plan, points) in enumerate(zip(self.plans, lists)):
            if not plan.payload.exact and points:
                payloads = {record.id: record.payload for record in next(found)}
                lists[number] = [p.model_copy(update={"payload": payloads.get(p.id)}) for p in points]
        return self.with_point_lists(result, lists)

    def rebuild(self, response: Any, orders: list[list[Candidate]]) -> Any:
        """The client's own result type, with each query's points in the new order, cut to its page."""
        pages = [
            [to_point(c, plan.payload) for c in ordered[plan.offset : plan.offset + plan.limit]]
            for plan, ordered in zip(self.plans, orders)
        ]
        return self.with_point_lists(response, pages)

    def point_lists(self, response: Any) -> list[list[models.ScoredPoint]]:
        """The points of each query in ``response``."""
        return [response.points]

    def with_point_lists(self, response: Any, lists: list[list[models.ScoredPoint]]) -> Any:
        """``response`` with each query's points replaced."""
        return response.model_copy(update={"points": lists[0]})


class BatchSearch(Search):
    """``query_batch_points``: one response per request."""

    def point_lists(self, response: Any) -> list[list[models.ScoredPoint]]:
        return [answer.points for answer in response]

    def with_point_lists(self, response: Any, lists: list[list[models.ScoredPoint]]) -> Any:
        return [answer.model_copy(update={"points": points}) for answer, points in zip(response, lists)]


class GroupsSearch(Search):
    """``query_points_groups``: the hits of every group are reranked together, groups by their best hit."""

    def point_lists(self, response: Any) -> list[list[models.ScoredPoint]]:
        return [[hit for group in response.groups for hit in group.hits]]

    def rebuild(self, response: Any, orders: list[list[Candidate]]) -> Any:
        [plan], [ordered] = self.plans, orders
        group_of = {id(hit): group for group in response.groups for hit in group.hits}
        groups = [
            group_of[id(members[0].hit)].model_copy(
                update={"hits": [to_point(candidate, plan.payload) for candidate in members]}
            )
            for members in regroup(ordered, lambda candidate: id(group_of[id(candidate.hit)]), plan.limit)
        ]
        return response.model_copy(update={"groups": groups})

    def with_point_lists(self, response: Any, lists: list[list[models.ScoredPoint]]) -> Any:
        hits = iter(lists[0])
        groups = [
            group.model_copy(update={"hits": [next(hits) for _ in group.hits]}) for group in response.groups
        ]
        return response.model_copy(update={"groups": groups})


class _QdrantReranking(RerankingProxy):
    """What both twins share, with no I/O: reading a call's arguments into a :class:`Search`."""

    def _bind(self, method: str, args: tuple, kwargs: dict) -> dict[str, Any]:
        """The call's arguments by name, as the wrapped client's method would see them."""
        signature = inspect.signature(getattr(type(self.__wrapped__), method))
        bound = signature.bind(self.__wrapped__, *args, **kwargs)
        arguments = dict(bound.arguments)
        arguments.pop("self")
        arguments.update(arguments.pop("kwargs", {}))
        return arguments

    def _search(
        self, kind: type[Search], method: str, args: tuple, kwargs: dict, rerank_query: Any
    ) -> Search:
        """``query_points`` or ``query_points_groups``, over-fetching when it reranks."""
        arguments = self._bind(method, args, kwargs)
        collection = arguments["collection_name"]
        asked = self._self_pipeline.query_text(rerank_query, "rerank_query")
        text = self._self_pipeline.rerank_text(collection, asked, query_text(arguments.get("query")))
        if not self._self_pipeline.should_rerank(collection, [text]):
            return kind(method, collection, arguments)
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
        return kind(method, collection, arguments, [plan])

    def _batch_search(self, args: tuple, kwargs: dict, rerank_queries: Any) -> Search:
        """``query_batch_points``: each request reranked by its ``rerank_queries`` entry or its own text."""
        arguments = self._bind("query_batch_points", args, kwargs)
        collection, requests = arguments["collection_name"], list(arguments["requests"])
        checked = self._self_pipeline.query_texts(rerank_queries, "rerank_queries", len(requests))
        texts = [
            self._self_pipeline.rerank_text(collection, asked, query_text(request.query))
            for asked, request in zip(checked or [None] * len(requests), requests)
        ]
        if not self._self_pipeline.should_rerank(collection, texts):
            return BatchSearch("query_batch_points", collection, arguments)
        plans = [
            self._plan(collection, t, r.offset, r.limit, r.with_payload) for r, t in zip(requests, texts)
        ]
        arguments["requests"] = [
            request.model_copy(
                update={
                    "limit": self._self_pipeline.fetch_limit(collection, plan.offset, plan.limit),
                    "offset": None,
                    "with_payload": plan.payload.fetch,
                }
            )
            for request, plan in zip(requests, plans)
        ]
        return BatchSearch("query_batch_points", collection, arguments, plans)

    def _plan(
        self, collection: str, text: str | None, offset: int | None, limit: int | None, with_payload: Any
    ) -> QueryPlan:
        offset, limit = offset or 0, DEFAULT_LIMIT if limit is None else limit
        payload = plan_payload(with_payload, self._self_pipeline.text_fields(collection))
        return QueryPlan(text, offset, limit, payload)


_RERANK_QUERY = {"rerank_query": (str | None, None)}
_RERANK_QUERIES = {"rerank_queries": (Sequence[str | None] | None, None)}


class RerankingQdrantClient(_QdrantReranking):
    """A ``QdrantClient`` whose query results are reranked; everything else is unchanged."""

    @signature_of(QdrantClient.query_points, **_RERANK_QUERY)
    def query_points(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.QueryResponse:
        """vecrank: reranked by ``rerank_query``, or by the ``Document`` text where the config enables it."""
        return self._run(self._search(Search, "query_points", args, kwargs, rerank_query))

    @signature_of(QdrantClient.query_batch_points, **_RERANK_QUERIES)
    def query_batch_points(
        self, *args: Any, rerank_queries: Sequence[str | None] | None = None, **kwargs: Any
    ) -> list[models.QueryResponse]:
        """vecrank: each request reranked by its ``rerank_queries`` entry or own text, in one engine call."""
        return self._run(self._batch_search(args, kwargs, rerank_queries))

    @signature_of(QdrantClient.query_points_groups, **_RERANK_QUERY)
    def query_points_groups(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.GroupsResult:
        """vecrank: hits reranked inside groups, groups ordered by their best hit."""
        return self._run(self._search(GroupsSearch, "query_points_groups", args, kwargs, rerank_query))

    def _run(self, search: Search) -> Any:
        response = call_plain(getattr(self.__wrapped__, search.method), **search.arguments)
        if search.plain:
            return response
        orders = self._self_pipeline.rerank(search.collection, search.requests(response), source="qdrant")
        reranked = search.rebuild(response, orders)
        return search.with_records(
            reranked, [self.__wrapped__.retrieve(**where) for where in search.rereads(reranked)]
        )


class AsyncRerankingQdrantClient(_QdrantReranking):
    """An ``AsyncQdrantClient`` whose query results are reranked; everything else is unchanged."""

    @signature_of(AsyncQdrantClient.query_points, **_RERANK_QUERY)
    async def query_points(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.QueryResponse:
        """vecrank: reranked by ``rerank_query``, or by the ``Document`` text where the config enables it."""
        return await self._run(self._search(Search, "query_points", args, kwargs, rerank_query))

    @signature_of(AsyncQdrantClient.query_batch_points, **_RERANK_QUERIES)
    async def query_batch_points(
        self, *args: Any, rerank_queries: Sequence[str | None] | None = None, **kwargs: Any
    ) -> list[models.QueryResponse]:
        """vecrank: each request reranked by its ``rerank_queries`` entry or own text, in one engine call."""
        return await self._run(self._batch_search(args, kwargs, rerank_queries))

    @signature_of(AsyncQdrantClient.query_points_groups, **_RERANK_QUERY)
    async def query_points_groups(
        self, *args: Any, rerank_query: str | None = None, **kwargs: Any
    ) -> models.GroupsResult:
        """vecrank: hits reranked inside groups, groups ordered by their best hit."""
        return await self._run(self._search(GroupsSearch, "query_points_groups", args, kwargs, rerank_query))

    async def _run(self, search: Search) -> Any:
        response = await acall_plain(getattr(self.__wrapped__, search.method), **search.arguments)
        if search.plain:
            return response
        requests = search.requests(response)
        orders = await self._self_pipeline.arerank(search.collection, requests, source="qdrant")
        reranked = search.rebuild(response, orders)
        return search.with_records(
            reranked, [await self.__wrapped__.retrieve(**where) for where in search.rereads(reranked)]
        )
