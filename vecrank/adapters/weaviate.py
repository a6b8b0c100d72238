"""Weaviate adapter: rerank a v4 client's ``collection.query`` searches.

:func:`vecrank.wrap` returns :class:`RerankingWeaviateClient` (or the async twin) around a
``WeaviateClient``. Its ``collections.get`` / ``use`` / ``create*`` give a :class:`RerankingCollection`
whose ``query.near_text``, ``near_vector``, ``near_object``, ``near_image``, ``near_media``, ``hybrid``,
``bm25`` and ``fetch_objects`` over-fetch, rerank, then apply ``offset`` / ``limit``. Its ``generate``
searches (retrieval-augmented generation) are reranked too; everything else (``.data``,
``collections.list_all``, ...) is the client's own.

- Query text: ``rerank=Rerank(prop, query)``, or, where the config enables the collection, the
  near_text concepts or the hybrid or bm25 query. vecrank serves ``rerank`` itself (it is never
  sent to the server): ``prop`` is the text property for that query, ``query`` the text (the search
  text when None). ``fetch_objects`` takes ``rerank=`` too. No text, or a disabled collection: the
  call goes to the server unchanged.
- Results: the client's ``QueryReturn``, objects in the new order (by the final score, after
  normalisation and fusion), ``metadata.rerank_score`` the raw reranker score, as Weaviate's own
  reranker modules give it; the server's ``distance`` / ``score`` are kept.
  The text property, and the database score that fusion needs, are fetched when not asked for
  and removed again. ``auto_limit`` (autocut) runs on the server over the over-fetched candidates.
- Collection names: config keys match names as Weaviate does, first letter in either case
  (``[collections.articles]`` configures ``Articles``); the key as written is the one used.
- ``group_by``: hits are reranked inside their groups and groups ordered by their best hit, as
  ``query_points_groups`` is for Qdrant; ``number_of_groups`` is over-fetched, ``limit`` and
  ``offset`` go to the server as given. Grouped objects' metadata gains ``rerank_score``
  (:class:`RerankedGroupByMetadata`), and each ``Group.rerank_score`` is its best hit's raw score.
- ``generate.*``: where the query would be reranked, the candidates are fetched with the same search
  on ``query`` (no generation yet), reranked and paged; then ``generate.fetch_objects`` runs the
  prompts on exactly those objects (a filter on their ids), so ``single_prompt`` answers each of
  them and ``grouped_task`` sees them all and no other. The ``GenerativeReturn`` holds them in the
  reranked order, with the search's metadata and ``rerank_score``. ``group_by`` with generation
  cannot be reranked faithfully (the server generates per group before vecrank sees the hits):
  it raises a :class:`~vecrank.errors.RerankError` that says what to do instead.
- Every object handed out (client, ``collections``, collection, ``query``, ``generate``) is a
  transparent proxy of the plain one: ``isinstance``, ``dir``, attributes and signatures are the
  client's own.
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
from weaviate.classes.query import Filter, MetadataQuery, QueryNested, Rerank
from weaviate.collections.classes.internal import (
    GenerativeObject,
    GenerativeReturn,
    GroupByMetadataReturn,
    GroupByReturn,
    Object,
    QueryReturn,
)
from weaviate.collections.collection import Collection, CollectionAsync
from weaviate.collections.collections.async_ import _CollectionsAsync
from weaviate.collections.collections.base import _CollectionsBase
from weaviate.collections.collections.sync import _Collections
from weaviate.collections.generate import _GenerateCollection, _GenerateCollectionAsync
from weaviate.collections.query import _QueryCollection, _QueryCollectionAsync

from ..candidate import Candidate, to_candidates
from ..errors import RerankError
from .pipeline import DEFAULT_LIMIT, QueryCandidates, RerankPipeline, regroup
from .proxy import RerankingProxy, acall_plain, call_plain, signature_of

__all__ = [
    "AsyncRerankingCollection",
    "AsyncRerankingCollections",
    "AsyncRerankingGenerate",
    "AsyncRerankingQuery",
    "AsyncRerankingWeaviateClient",
    "RerankedGroupByMetadata",
    "RerankingCollection",
    "RerankingCollections",
    "RerankingGenerate",
    "RerankingQuery",
    "RerankingWeaviateClient",
    "wrap_weaviate",
]


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
class RerankedGroupByMetadata(GroupByMetadataReturn):
    """A grouped object's metadata after reranking: ``rerank_score`` beside the server's ``distance``."""

    rerank_score: float | None = None


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
    groups: int | None = None  # group_by: the number of groups the caller asked for

    def request(self, result: QueryReturn | GroupByReturn) -> QueryCandidates:
        """The server's objects as the pipeline's candidates, in server order."""
        candidates = to_candidates(
            result.objects,
            id_of=lambda obj: uuid.UUID(int=obj.uuid.int),  # a plain UUID, so messages read UUID('...')
            payload_of=lambda obj: obj.properties,
            vector_score_of=self._database_score,
        )
        return QueryCandidates(self.text, candidates)

    def finish(self, result: Any, ordered: list[Candidate]) -> Any:
        """A copy of ``result`` (its own type): objects ``offset``..``offset + limit``, or regrouped."""
        reranked = copy.copy(result)
        if self.groups is None:
            page = ordered[self.offset : self.offset + self.limit]
            reranked.objects = [self._object(candidate) for candidate in page]
            return reranked
        reranked.groups = {}
        for members in regroup(ordered, lambda candidate: candidate.hit.belongs_to_group, self.groups):
            group = result.groups[members[0].hit.belongs_to_group]
            objects = [self._object(candidate) for candidate in members]
            reranked.groups[group.name] = dataclasses.replace(
                group, objects=objects, rerank_score=members[0].raw_score
            )
        reranked.objects = [obj for group in reranked.groups.values() for obj in group.objects]
        return reranked

    def _database_score(self, obj: Object) -> float | None:
        """The server's score, higher is better (a distance is negated)."""
        value = getattr(obj.metadata, self.score_field, None) if self.score_field else None
        if value is None:
            return None
        return -value if self.score_field == "distance" else value

    def _object(self, candidate: Candidate) -> Object:
        """A copy of the hit (copied, not rebuilt: ``near_vector`` gives ``GenerativeObject``s)."""
        obj: Object = copy.copy(candidate.hit)
        if isinstance(obj.metadata, GroupByMetadataReturn):
            fields = {f.name: getattr(obj.metadata, f.name) for f in dataclasses.fields(obj.metadata)}
            obj.metadata = RerankedGroupByMetadata(**fields, rerank_score=candidate.raw_score)
        else:
            obj.metadata = dataclasses.replace(obj.metadata, rerank_score=candidate.raw_score)
        if self.score_added and hasattr(obj.metadata, self.score_field):
            setattr(obj.metadata, self.score_field, None)
        obj.properties = self.properties.trim(obj.properties)
        return obj


_RERANK = {"rerank": (Rerank | None, None)}


class _QueryReranking(RerankingProxy):
    """What both twins share: the query methods, argument rewriting and result rebuilding, no I/O.

    The proxy's state is the collection's settings key (see :func:`config_key`).
    """

    @signature_of(_QueryCollection.near_text)
    def near_text(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked by ``rerank`` or, where the config enables the collection, the query text."""
        return self._search("near_text", args, kwargs)

    @signature_of(_QueryCollection.hybrid)
    def hybrid(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked by ``rerank`` or, where the config enables the collection, the query text."""
        return self._search("hybrid", args, kwargs)

    @signature_of(_QueryCollection.bm25)
    def bm25(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked by ``rerank`` or, where the config enables the collection, the query text."""
        return self._search("bm25", args, kwargs)

    @signature_of(_QueryCollection.near_vector)
    def near_vector(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked when ``rerank=Rerank(prop, query)`` is given (served on the client)."""
        return self._search("near_vector", args, kwargs)

    @signature_of(_QueryCollection.near_object)
    def near_object(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked when ``rerank=Rerank(prop, query)`` is given (served on the client)."""
        return self._search("near_object", args, kwargs)

    @signature_of(_QueryCollection.near_image)
    def near_image(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked when ``rerank=Rerank(prop, query)`` is given (served on the client)."""
        return self._search("near_image", args, kwargs)

    @signature_of(_QueryCollection.near_media)
    def near_media(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked when ``rerank=Rerank(prop, query)`` is given (served on the client)."""
        return self._search("near_media", args, kwargs)

    @signature_of(_QueryCollection.fetch_objects, **_RERANK)
    def fetch_objects(self, *args: Any, rerank: Rerank | None = None, **kwargs: Any) -> Any:
        """vecrank: reranked when ``rerank=Rerank(prop, query)`` is given (a vecrank keyword here)."""
        return self._search("fetch_objects", args, {**kwargs, "rerank": rerank})

    def _search(self, method: str, args: tuple, kwargs: dict) -> Any:
        """Run one search: the twins do the I/O (the async one returns a coroutine)."""
        raise NotImplementedError

    def _plan(self, method: str, args: tuple, kwargs: dict) -> tuple[dict[str, Any], SearchPlan | None]:
        """The call's arguments by name, and how to rerank it (None: send the arguments as they are)."""
        query = self.__wrapped__
        rerank: Rerank | None = kwargs.get("rerank")
        signature = inspect.signature(getattr(type(query), method))
        if "rerank" not in signature.parameters:
            kwargs = {key: value for key, value in kwargs.items() if key != "rerank"}
        arguments = dict(signature.bind(query, *args, **kwargs).arguments)
        del arguments["self"]
        name, pipeline = self._self_state[0], self._self_pipeline
        own = search_text(method, arguments)
        asked = (pipeline.query_text(rerank.query, "rerank.query") or own) if rerank is not None else None
        text = pipeline.rerank_text(name, asked, own)
        if rerank is not None:
            pipeline = pipeline.with_settings(name, text_field=rerank.prop, template=None)
        if not pipeline.should_rerank(name, [text]):
            return arguments, None
        arguments.pop("rerank", None)
        group_by = arguments.get("group_by")
        if group_by is None:
            offset = arguments.pop("offset", None) or 0
            limit = DEFAULT_LIMIT if arguments.get("limit") is None else arguments["limit"]
            arguments["limit"] = pipeline.fetch_limit(name, offset, limit)
            groups = None
        else:
            offset, limit, groups = 0, 0, group_by.number_of_groups
            fetched = pipeline.fetch_limit(name, 0, groups)
            arguments["group_by"] = group_by.model_copy(update={"number_of_groups": fetched})
        requested = arguments.get("return_properties")
        # The client's own reading of it: names, nested, or None / True for all (data models resolved).
        selected = query._parse_return_properties(requested)
        properties = plan_properties(requested, selected, pipeline.text_fields(name))
        arguments["return_properties"] = properties.fetch
        score_field = SEARCHES[method].score_field
        arguments["return_metadata"], score_added = plan_metadata(
            arguments.get("return_metadata"), score_field
        )
        return arguments, SearchPlan(
            pipeline, text, offset, limit, arguments, properties, score_field, score_added, groups
        )


class RerankingQuery(_QueryReranking):
    """A collection's ``query`` namespace whose searches are reranked."""

    def _search(self, method: str, args: tuple, kwargs: dict) -> Any:
        arguments, plan = self._plan(method, args, kwargs)
        search = getattr(self.__wrapped__, method)
        if plan is None:
            return call_plain(search, **arguments)
        result = call_plain(search, **plan.arguments)
        [ordered] = plan.pipeline.rerank(self._self_state[0], [plan.request(result)], source="weaviate")
        return plan.finish(result, ordered)


class AsyncRerankingQuery(_QueryReranking):
    """An async collection's ``query`` namespace whose searches are reranked."""

    async def _search(self, method: str, args: tuple, kwargs: dict) -> Any:
        arguments, plan = self._plan(method, args, kwargs)
        search = getattr(self.__wrapped__, method)
        if plan is None:
            return await acall_plain(search, **arguments)
        result = await acall_plain(search, **plan.arguments)
        request = plan.request(result)
        [ordered] = await plan.pipeline.arerank(self._self_state[0], [request], source="weaviate")
        return plan.finish(result, ordered)


GENERATIVE_ARGUMENTS = ("single_prompt", "grouped_task", "grouped_properties", "generative_provider")


@dataclass
class GenerativePlan:
    """One intercepted generative search: the reranked search, then generation over its page."""

    search: SearchPlan
    generative: dict[str, Any]

    def generate_arguments(self, page: QueryReturn) -> dict[str, Any] | None:
        """``generate.fetch_objects`` arguments for exactly the page's objects (None: no objects)."""
        ids = [obj.uuid for obj in page.objects]
        if not ids:
            return None
        return {**self.generative, "filters": Filter.by_id().contains_any(ids), "limit": len(ids)}

    def finish(self, page: QueryReturn, generated: GenerativeReturn | None) -> GenerativeReturn:
        """The page's objects, in their reranked order, with what was generated for them."""
        by_id = {obj.uuid: obj for obj in generated.objects} if generated is not None else {}
        objects = []
        for obj in page.objects:
            answer = by_id.get(obj.uuid)
            objects.append(
                GenerativeObject(
                    generated=answer.generated if answer is not None else None,
                    generative=answer.generative if answer is not None else None,
                    uuid=obj.uuid,
                    metadata=obj.metadata,
                    properties=obj.properties,
                    references=obj.references,
                    vector=obj.vector,
                    collection=obj.collection,
                )
            )
        return GenerativeReturn(
            generated=generated.generated if generated is not None else None,
            objects=objects,
            generative=generated.generative if generated is not None else None,
            query_profile=page.query_profile,
        )


def query_of(generate: Any) -> Any:
    """The ``query`` namespace of the collection a plain ``generate`` namespace belongs to (same tenant,
    consistency level and data model), for :func:`vecrank.instrument`, which sees only the namespace."""
    query_type = _QueryCollectionAsync if isinstance(generate, _GenerateCollectionAsync) else _QueryCollection
    return query_type(
        generate._connection,
        generate._name,
        generate._BaseExecutor__consistency_level,
        generate._BaseExecutor__tenant,
        generate._properties,
        generate._references,
        generate._validate_arguments,
    )


def _generative_search(method: str) -> Any:
    """A ``generate`` method with the client's signature, reranked by :meth:`_GenerateReranking._search`."""
    keywords = _RERANK if method == "fetch_objects" else {}

    @signature_of(getattr(_GenerateCollection, method), **keywords)
    def search(self: _GenerateReranking, *args: Any, **kwargs: Any) -> Any:
        """vecrank: reranked as ``query`` is, then generated over exactly the reranked objects."""
        return self._search(method, args, kwargs)

    search.__name__ = search.__qualname__ = method
    return search


class _GenerateReranking(_QueryReranking):
    """What both ``generate`` twins share, no I/O; the state is the settings key and the plain ``query``."""

    near_text = _generative_search("near_text")
    hybrid = _generative_search("hybrid")
    bm25 = _generative_search("bm25")
    near_vector = _generative_search("near_vector")
    near_object = _generative_search("near_object")
    near_image = _generative_search("near_image")
    near_media = _generative_search("near_media")
    fetch_objects = _generative_search("fetch_objects")

    def _generative_plan(
        self, method: str, args: tuple, kwargs: dict
    ) -> tuple[dict[str, Any], GenerativePlan | None]:
        """The call's arguments by name, and how to rerank it and generate (None: send it as it is)."""
        arguments, plan = self._plan(method, args, kwargs)
        if plan is None:
            return arguments, None
        if plan.groups is not None:
            raise RerankError(
                f"collection {self._self_state[0]!r}: vecrank cannot rerank a generative search with "
                "group_by (the server generates per group before vecrank sees the hits); rerank the "
                f"groups with query.{method}(group_by=...), or generate without reranking on the plain "
                "collection (collection.__wrapped__.generate)"
            )
        generative = {key: plan.arguments.pop(key) for key in GENERATIVE_ARGUMENTS if key in plan.arguments}
        return arguments, GenerativePlan(plan, generative)


class RerankingGenerate(_GenerateReranking):
    """A collection's ``generate`` namespace whose searches are reranked before generation."""

    def _search(self, method: str, args: tuple, kwargs: dict) -> Any:
        arguments, plan = self._generative_plan(method, args, kwargs)
        if plan is None:
            return call_plain(getattr(self.__wrapped__, method), **arguments)
        name, query = self._self_state
        result = call_plain(getattr(query, method), **plan.search.arguments)
        [ordered] = plan.search.pipeline.rerank(name, [plan.search.request(result)], source="weaviate")
        page = plan.search.finish(result, ordered)
        generate = plan.generate_arguments(page)
        generated = call_plain(self.__wrapped__.fetch_objects, **generate) if generate else None
        return plan.finish(page, generated)


class AsyncRerankingGenerate(_GenerateReranking):
    """An async collection's ``generate`` namespace whose searches are reranked before generation."""

    async def _search(self, method: str, args: tuple, kwargs: dict) -> Any:
        arguments, plan = self._generative_plan(method, args, kwargs)
        if plan is None:
            return await acall_plain(getattr(self.__wrapped__, method), **arguments)
        name, query = self._self_state
        result = await acall_plain(getattr(query, method), **plan.search.arguments)
        [ordered] = await plan.search.pipeline.arerank(name, [plan.search.request(result)], source="weaviate")
        page = plan.search.finish(result, ordered)
        generate = plan.generate_arguments(page)
        generated = await acall_plain(self.__wrapped__.fetch_objects, **generate) if generate else None
        return plan.finish(page, generated)


class _CollectionReranking(RerankingProxy):
    """A collection whose ``query`` and ``generate`` are reranked; its state is the settings key."""

    _query_type: type[_QueryReranking]
    _generate_type: type[_GenerateReranking]

    @property
    def query(self) -> Any:
        """The collection's ``query`` namespace, reranked."""
        return self._self_child(
            "_self_query",
            self.__wrapped__.query,
            lambda query: self._query_type(query, self._self_pipeline, *self._self_state),
        )

    @property
    def generate(self) -> Any:
        """The collection's ``generate`` namespace, reranked before generation."""
        plain = self.__wrapped__
        return self._self_child(
            "_self_generate",
            plain.generate,
            lambda generate: self._generate_type(
                generate, self._self_pipeline, *self._self_state, plain.query
            ),
        )


class RerankingCollection(_CollectionReranking):
    """A ``Collection`` whose ``query`` searches are reranked."""

    _query_type = RerankingQuery
    _generate_type = RerankingGenerate

    @signature_of(Collection.with_tenant)
    def with_tenant(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: still reranked."""
        return self._self_rewrap(self.__wrapped__.with_tenant(*args, **kwargs))

    @signature_of(Collection.with_consistency_level)
    def with_consistency_level(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: still reranked."""
        return self._self_rewrap(self.__wrapped__.with_consistency_level(*args, **kwargs))


class AsyncRerankingCollection(_CollectionReranking):
    """A ``CollectionAsync`` whose ``query`` searches are reranked."""

    _query_type = AsyncRerankingQuery
    _generate_type = AsyncRerankingGenerate

    @signature_of(CollectionAsync.with_tenant)
    def with_tenant(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: still reranked."""
        return self._self_rewrap(self.__wrapped__.with_tenant(*args, **kwargs))

    @signature_of(CollectionAsync.with_consistency_level)
    def with_consistency_level(self, *args: Any, **kwargs: Any) -> Any:
        """vecrank: still reranked."""
        return self._self_rewrap(self.__wrapped__.with_consistency_level(*args, **kwargs))


class _CollectionsReranking(RerankingProxy):
    """``client.collections``, handing out reranking collections."""

    _collection_type: type[_CollectionReranking]

    @signature_of(_CollectionsBase.get)
    def get(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """vecrank: the collection, reranked."""
        return self._wrap(self.__wrapped__.get(name, *args, **kwargs), name)

    def _wrap(self, collection: Any, name: str) -> Any:
        return self._collection_type(collection, self._self_pipeline, config_key(self._self_pipeline, name))


class RerankingCollections(_CollectionsReranking):
    """A sync client's ``collections``."""

    _collection_type = RerankingCollection

    @signature_of(_Collections.use)
    def use(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """vecrank: the collection, reranked."""
        return self._wrap(self.__wrapped__.use(name, *args, **kwargs), name)

    @signature_of(_Collections.create)
    def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """vecrank: the new collection, reranked."""
        return self._wrap(self.__wrapped__.create(name, *args, **kwargs), name)

    @signature_of(_Collections.create_from_config)
    def create_from_config(self, config: Any) -> Any:
        """vecrank: the new collection, reranked."""
        collection = self.__wrapped__.create_from_config(config)
        return self._wrap(collection, collection.name)

    @signature_of(_Collections.create_from_dict)
    def create_from_dict(self, config: dict) -> Any:
        """vecrank: the new collection, reranked."""
        collection = self.__wrapped__.create_from_dict(config)
        return self._wrap(collection, collection.name)


class AsyncRerankingCollections(_CollectionsReranking):
    """An async client's ``collections``."""

    _collection_type = AsyncRerankingCollection

    @signature_of(_CollectionsAsync.use)
    def use(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """vecrank: the collection, reranked."""
        return self._wrap(self.__wrapped__.use(name, *args, **kwargs), name)

    @signature_of(_CollectionsAsync.create)
    async def create(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """vecrank: the new collection, reranked."""
        return self._wrap(await self.__wrapped__.create(name, *args, **kwargs), name)

    @signature_of(_CollectionsAsync.create_from_config)
    async def create_from_config(self, config: Any) -> Any:
        """vecrank: the new collection, reranked."""
        collection = await self.__wrapped__.create_from_config(config)
        return self._wrap(collection, collection.name)

    @signature_of(_CollectionsAsync.create_from_dict)
    async def create_from_dict(self, config: dict) -> Any:
        """vecrank: the new collection, reranked."""
        collection = await self.__wrapped__.create_from_dict(config)
        return self._wrap(collection, collection.name)


class _ClientReranking(RerankingProxy):
    """A Weaviate client whose collections rerank; everything else is the client's own."""

    _collections_type: type[_CollectionsReranking]

    @property
    def collections(self) -> Any:
        """The client's ``collections``, handing out reranking collections."""
        return self._self_child(
            "_self_collections",
            self.__wrapped__.collections,
            lambda collections: self._collections_type(collections, self._self_pipeline),
        )


class RerankingWeaviateClient(_ClientReranking):
    """A ``WeaviateClient`` whose collections' searches are reranked."""

    _collections_type = RerankingCollections


class AsyncRerankingWeaviateClient(_ClientReranking):
    """A ``WeaviateAsyncClient`` whose collections' searches are reranked."""

    _collections_type = AsyncRerankingCollections


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
