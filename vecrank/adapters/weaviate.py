"""Weaviate adapter: rerank a v4 client's ``collection.query`` searches.

:func:`vecrank.wrap` returns :class:`RerankingWeaviateClient` (or the async twin) around a
``WeaviateClient``. Its ``collections.get`` / ``use`` / ``create*`` give a :class:`RerankingCollection`
whose ``query.near_text``, ``near_vector``, ``near_object``, ``near_image``, ``near_media``, ``hybrid``,
``bm25`` and ``fetch_objects`` over-fetch, rerank, then apply ``offset`` / ``limit``. Everything else
(``.data``, ``.generate``, ``collections.list_all``, ...) is the client's own.

- Query text: the near_text concepts, the hybrid or bm25 query, or ``rerank=Rerank(prop, query)``.
  vecrank serves ``rerank`` itself (it is never sent to the server): ``prop`` is the text property
  for that query, ``query`` the text (the search text when None). ``fetch_objects`` takes ``rerank=``
  too. No text, or a disabled collection: the call goes to the server unchanged.
- Results: the client's ``QueryReturn``, objects in the new order, ``metadata.rerank_score`` the
  reranker score (after normalisation and fusion); the server's ``distance`` / ``score`` are kept.
  The text property, and the database score that fusion needs, are fetched when not asked for
  and removed again. ``auto_limit`` (autocut) runs on the server over the over-fetched candidates.
- Collection names: config keys match names as Weaviate does, first letter in either case
  (``[collections.articles]`` configures ``Articles``); the key as written is the one used.
- ``group_by``: not reranked. A grouped query that would be reranked raises
  :class:`GroupByNotSupportedError`; one without query text goes to the server as usual.
"""

from __future__ import annotations

import copy
import dataclasses
import inspect
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from weaviate import WeaviateAsyncClient, WeaviateClient
from weaviate.classes.query import MetadataQuery, QueryNested, Rerank
from weaviate.collections.classes.internal import Object, QueryReturn

from ..candidate import Candidate
from ..errors import GroupByNotSupportedError
from .pipeline import RerankPipeline, RerankRequest

__all__ = [
    "AsyncRerankingCollection",
    "AsyncRerankingQuery",
    "AsyncRerankingWeaviateClient",
    "GroupByNotSupportedError",
    "RerankingCollection",
    "RerankingQuery",
    "RerankingWeaviateClient",
    "wrap_weaviate",
]

DEFAULT_LIMIT = 10  # what Weaviate returns when a query sets no limit (QUERY_DEFAULTS_LIMIT)


class Search(NamedTuple):
    """Where a query method keeps its text, and which metadata field holds the database's score."""

    text_argument: str | None
    score_field: str | None


SEARCHES = {
    "near_text": Search("query", "distance"),
    "hybrid": Search("query", "score"),
    "bm25": Search("query", "score"),
    "near_vector": Search(None, "distance"),
    "near_object": Search(None, "distance"),
    "near_image": Search(None, "distance"),
    "near_media": Search(None, "distance"),
    "fetch_objects": Search(None, None),
}


def capitalize(name: str) -> str:
    """A collection name as Weaviate stores it: first letter upper case."""
    return name[:1].upper() + name[1:]


def config_key(pipeline: RerankPipeline, name: str) -> str:
    """The settings key of collection ``name``: a config key naming it (first letter in either case)."""
    canonical = capitalize(name)
    keys = [key for key in pipeline.config.collections if capitalize(key) == canonical]
    if name in keys:
        return name
    if canonical in keys:
        return canonical
    return keys[0] if keys else canonical


def search_text(method: str, arguments: Mapping[str, Any]) -> str | None:
    """The search's own text: near_text concepts joined by spaces, the hybrid or bm25 query, else None."""
    name = SEARCHES[method].text_argument
    value = arguments.get(name) if name else None
    if isinstance(value, Sequence) and not isinstance(value, str):
        value = " ".join(value)
    return value or None


@dataclass
class PropertiesPlan:
    """The properties to fetch so the text comes back, and those to drop before return."""

    fetch: Any
    added: list[str] = field(default_factory=list)

    def trim(self, properties: Any) -> Any:
        """The properties without those added for the reranker."""
        if not self.added:
            return properties
        return {key: value for key, value in properties.items() if key not in self.added}


def plan_properties(requested: Any, selected: Any, needed: Sequence[str]) -> PropertiesPlan:
    """Widen ``requested`` (``selected`` is its parsed form: names, nested, or None/True for all)."""
    if selected is None or selected is True:
        return PropertiesPlan(requested)
    items = [selected] if isinstance(selected, (str, QueryNested)) else list(selected)
    present = {item if isinstance(item, str) else item.name for item in items}
    missing = [name for name in needed if name not in present]
    return PropertiesPlan(items + missing, missing) if missing else PropertiesPlan(requested)


def plan_metadata(requested: Any, score_field: str | None) -> tuple[Any, bool]:
    """``return_metadata`` with the database score asked for too; True when it was added."""
    if score_field is None:
        return requested, False
    if requested is None:
        return [score_field], True
    if isinstance(requested, MetadataQuery):
        if getattr(requested, score_field):
            return requested, False
        return requested.model_copy(update={score_field: True}), True
    names = list(requested)
    return (requested, False) if score_field in names else (names + [score_field], True)


@dataclass
class SearchPlan:
    """One intercepted search: what is sent to Weaviate, and how to rebuild what comes back."""

    pipeline: RerankPipeline
    text: str
    offset: int
    limit: int
    arguments: dict[str, Any]
    properties: PropertiesPlan
    score_field: str | None
    score_added: bool

    def request(self, result: QueryReturn) -> RerankRequest:
        """The server's objects as the pipeline's candidates, in server order."""
        candidates = [
            Candidate(
                id=uuid.UUID(int=obj.uuid.int),  # a plain UUID, so messages read UUID('...')
                payload=obj.properties,
                vector_score=self._database_score(obj),
                position=i,
                hit=obj,
            )
            for i, obj in enumerate(result.objects)
        ]
        return RerankRequest(self.text, candidates)

    def finish(self, result: QueryReturn, ordered: list[Candidate]) -> QueryReturn:
        """A copy of ``result`` (its own type) with the reranked objects ``offset``..``offset + limit``."""
        page = ordered[self.offset : self.offset + self.limit]
        reranked = copy.copy(result)
        reranked.objects = [self._object(candidate) for candidate in page]
        return reranked

    def _database_score(self, obj: Object) -> float | None:
        """The server's score, higher is better (a distance is negated)."""
        value = getattr(obj.metadata, self.score_field) if self.score_field else None
        if value is None:
            return None
        return -value if self.score_field == "distance" else value

    def _object(self, candidate: Candidate) -> Object:
        """A copy of the hit (copied, not rebuilt: ``near_vector`` gives ``GenerativeObject``s)."""
        obj: Object = copy.copy(candidate.hit)
        obj.metadata = dataclasses.replace(obj.metadata, rerank_score=candidate.score)
        if self.score_added:
            setattr(obj.metadata, self.score_field, None)
        obj.properties = self.properties.trim(obj.properties)
        return obj


class _QueryReranking:
    """What both twins share: the query methods, argument rewriting and result rebuilding, no I/O."""

    def __init__(self, query: Any, pipeline: RerankPipeline, collection: str) -> None:
        self._query = query
        self._pipeline = pipeline
        self._collection = collection

    def __getattr__(self, name: str) -> Any:
        return getattr(self._query, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._query!r}, collection={self._collection!r})"

    def near_text(self, *args: Any, **kwargs: Any) -> Any:
        """``query.near_text``, reranked by its query text (or ``rerank.query``)."""
        return self._search("near_text", args, kwargs)

    def hybrid(self, *args: Any, **kwargs: Any) -> Any:
        """``query.hybrid``, reranked by its query text (or ``rerank.query``)."""
        return self._search("hybrid", args, kwargs)

    def bm25(self, *args: Any, **kwargs: Any) -> Any:
        """``query.bm25``, reranked by its query text (or ``rerank.query``)."""
        return self._search("bm25", args, kwargs)

    def near_vector(self, *args: Any, **kwargs: Any) -> Any:
        """``query.near_vector``, reranked when ``rerank=Rerank(prop, query)`` is given."""
        return self._search("near_vector", args, kwargs)

    def near_object(self, *args: Any, **kwargs: Any) -> Any:
        """``query.near_object``, reranked when ``rerank=Rerank(prop, query)`` is given."""
        return self._search("near_object", args, kwargs)

    def near_image(self, *args: Any, **kwargs: Any) -> Any:
        """``query.near_image``, reranked when ``rerank=Rerank(prop, query)`` is given."""
        return self._search("near_image", args, kwargs)

    def near_media(self, *args: Any, **kwargs: Any) -> Any:
        """``query.near_media``, reranked when ``rerank=Rerank(prop, query)`` is given."""
        return self._search("near_media", args, kwargs)

    def fetch_objects(self, *args: Any, rerank: Rerank | None = None, **kwargs: Any) -> Any:
        """``query.fetch_objects``, reranked when ``rerank=Rerank(prop, query)`` is given (vecrank's own)."""
        return self._search("fetch_objects", args, {**kwargs, "rerank": rerank})

    def _search(self, method: str, args: tuple, kwargs: dict) -> Any:
        """Run one search: the twins do the I/O (the async one returns a coroutine)."""
        raise NotImplementedError

    def _plan(self, method: str, args: tuple, kwargs: dict) -> tuple[dict[str, Any], SearchPlan | None]:
        """The call's arguments by name, and how to rerank it (None: send the arguments as they are)."""
        rerank: Rerank | None = kwargs.get("rerank")
        signature = inspect.signature(getattr(type(self._query), method))
        if "rerank" not in signature.parameters:
            kwargs = {key: value for key, value in kwargs.items() if key != "rerank"}
        arguments = dict(signature.bind(self._query, *args, **kwargs).arguments)
        del arguments["self"]
        name, pipeline = self._collection, self._pipeline
        rerank_text = self._pipeline.query_text(rerank.query, "rerank.query") if rerank is not None else None
        text = rerank_text or search_text(method, arguments)
        if rerank is not None:
            pipeline = pipeline.with_settings(name, text_field=rerank.prop, template=None)
        if not pipeline.should_rerank(name, [text]):
            return arguments, None
        if arguments.get("group_by") is not None:
            raise GroupByNotSupportedError(
                f"collection {name!r}: vecrank does not rerank group_by queries; drop group_by, "
                "query the unwrapped collection (`.collection`), or set enabled = false for it"
            )
        offset = arguments.pop("offset", None) or 0
        limit = DEFAULT_LIMIT if arguments.get("limit") is None else arguments["limit"]
        arguments.pop("rerank", None)
        arguments["limit"] = pipeline.fetch_limit(name, offset, limit)
        requested = arguments.get("return_properties")
        # The client's own reading of it: names, nested, or None / True for all (data models resolved).
        selected = self._query._parse_return_properties(requested)
        properties = plan_properties(requested, selected, pipeline.text_fields(name))
        arguments["return_properties"] = properties.fetch
        score_field = SEARCHES[method].score_field
        arguments["return_metadata"], score_added = plan_metadata(
            arguments.get("return_metadata"), score_field
        )
        return arguments, SearchPlan(
            pipeline, text, offset, limit, arguments, properties, score_field, score_added
        )


class RerankingQuery(_QueryReranking):
    """A collection's ``query`` namespace whose searches are reranked."""

    def _search(self, method: str, args: tuple, kwargs: dict) -> QueryReturn:
        arguments, plan = self._plan(method, args, kwargs)
        search = getattr(self._query, method)
        if plan is None:
            return search(**arguments)
        result = search(**plan.arguments)
        [ordered] = plan.pipeline.rerank(self._collection, [plan.request(result)])
        return plan.finish(result, ordered)


class AsyncRerankingQuery(_QueryReranking):
    """An async collection's ``query`` namespace whose searches are reranked."""

    async def _search(self, method: str, args: tuple, kwargs: dict) -> QueryReturn:
        arguments, plan = self._plan(method, args, kwargs)
        search = getattr(self._query, method)
        if plan is None:
            return await search(**arguments)
        result = await search(**plan.arguments)
        [ordered] = await plan.pipeline.arerank(self._collection, [plan.request(result)])
        return plan.finish(result, ordered)


class _CollectionProxy:
    """A collection whose ``query`` is reranked; everything else is the collection's own."""

    _query_type: type[_QueryReranking]

    def __init__(self, collection: Any, pipeline: RerankPipeline, name: str) -> None:
        self._collection = collection
        self._pipeline = pipeline
        self._name = name
        self.query = self._query_type(collection.query, pipeline, name)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collection, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._collection!r})"

    @property
    def collection(self) -> Any:
        """The wrapped collection."""
        return self._collection

    def with_tenant(self, *args: Any, **kwargs: Any) -> Any:
        """``with_tenant``, still reranked."""
        return type(self)(self._collection.with_tenant(*args, **kwargs), self._pipeline, self._name)

    def with_consistency_level(self, *args: Any, **kwargs: Any) -> Any:
        """``with_consistency_level``, still reranked."""
        collection = self._collection.with_consistency_level(*args, **kwargs)
        return type(self)(collection, self._pipeline, self._name)


class RerankingCollection(_CollectionProxy):
    """A ``Collection`` whose ``query`` searches are reranked."""

    _query_type = RerankingQuery

    def __len__(self) -> int:
        return len(self._collection)


class AsyncRerankingCollection(_CollectionProxy):
    """A ``CollectionAsync`` whose ``query`` searches are reranked."""

    _query_type = AsyncRerankingQuery


class _CollectionsProxy:
    """``client.collections``, handing out reranking collections."""

    _collection_type: type[_CollectionProxy]

    def __init__(self, collections: Any, pipeline: RerankPipeline) -> None:
        self._collections = collections
        self._pipeline = pipeline

    def __getattr__(self, name: str) -> Any:
        return getattr(self._collections, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._collections!r})"

    def get(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``collections.get``, reranked."""
        return self._wrap(self._collections.get(name, *args, **kwargs), name)

    def use(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """``collections.use``, reranked."""
        return self._wrap(self._collections.use(name, *args, **kwargs), name)

    def _wrap(self, collection: Any, name: str) -> Any:
        return self._collection_type(collection, self._pipeline, config_key(self._pipeline, name))


class RerankingCollections(_CollectionsProxy):
    """A sync client's ``collections``."""

    _collection_type = RerankingCollection

    def create(self, name: str, *args: Any, **kwargs: Any) -> RerankingCollection:
        """``collections.create``, reranked."""
        return self._wrap(self._collections.create(name, *args, **kwargs), name)

    def create_from_config(self, config: Any) -> RerankingCollection:
        """``collections.create_from_config``, reranked."""
        collection = self._collections.create_from_config(config)
        return self._wrap(collection, collection.name)

    def create_from_dict(self, config: dict) -> RerankingCollection:
        """``collections.create_from_dict``, reranked."""
        collection = self._collections.create_from_dict(config)
        return self._wrap(collection, collection.name)


class AsyncRerankingCollections(_CollectionsProxy):
    """An async client's ``collections``."""

    _collection_type = AsyncRerankingCollection

    async def create(self, name: str, *args: Any, **kwargs: Any) -> AsyncRerankingCollection:
        """``collections.create``, reranked."""
        return self._wrap(await self._collections.create(name, *args, **kwargs), name)

    async def create_from_config(self, config: Any) -> AsyncRerankingCollection:
        """``collections.create_from_config``, reranked."""
        collection = await self._collections.create_from_config(config)
        return self._wrap(collection, collection.name)

    async def create_from_dict(self, config: dict) -> AsyncRerankingCollection:
        """``collections.create_from_dict``, reranked."""
        collection = await self._collections.create_from_dict(config)
        return self._wrap(collection, collection.name)


class _ClientProxy:
    """A Weaviate client whose collections rerank; everything else is the client's own."""

    _collections_type: type[_CollectionsProxy]

    def __init__(self, client: WeaviateClient | WeaviateAsyncClient, pipeline: RerankPipeline) -> None:
        self._client = client
        self._pipeline = pipeline
        self.collections = self._collections_type(client.collections, pipeline)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self._client!r})"

    @property
    def client(self) -> WeaviateClient | WeaviateAsyncClient:
        """The wrapped client."""
        return self._client

    @property
    def pipeline(self) -> RerankPipeline:
        """The reranking pipeline (its ``config`` holds the per-collection settings)."""
        return self._pipeline


class RerankingWeaviateClient(_ClientProxy):
    """A ``WeaviateClient`` whose collections' searches are reranked."""

    _collections_type = RerankingCollections

    def __enter__(self) -> RerankingWeaviateClient:
        self._client.__enter__()
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self._client.__exit__(*exc_info)


class AsyncRerankingWeaviateClient(_ClientProxy):
    """A ``WeaviateAsyncClient`` whose collections' searches are reranked."""

    _collections_type = AsyncRerankingCollections

    async def __aenter__(self) -> AsyncRerankingWeaviateClient:
        await self._client.__aenter__()
        return self

    async def __aexit__(self, *exc_info: Any) -> None:
        await self._client.__aexit__(*exc_info)


def wrap_weaviate(
    client: WeaviateClient | WeaviateAsyncClient, pipeline: RerankPipeline
) -> RerankingWeaviateClient | AsyncRerankingWeaviateClient:
    """The reranking twin of a ``WeaviateClient`` or ``WeaviateAsyncClient``."""
    if isinstance(client, WeaviateClient):
        return RerankingWeaviateClient(client, pipeline)
    if isinstance(client, WeaviateAsyncClient):
        return AsyncRerankingWeaviateClient(client, pipeline)
    raise TypeError(
        f"vecrank.wrap takes a WeaviateClient or WeaviateAsyncClient, not {type(client).__name__}"
    )
