"""A Qdrant or Weaviate collection as ``vecrank distill``'s corpus, and its own vector search as the
first stage.

A source is spelled ``qdrant:PATH`` (an embedded Qdrant folder, ``QdrantClient(path=...)``),
``qdrant:URL``, ``weaviate:URL`` (gRPC on port 50051 of the same host unless the URL says
``?grpc_port=N``, and ``grpc_host=H``), or given as a connected ``QdrantClient`` /
``WeaviateClient``, which is used as it is and left open. The corpus is read page by page
(Qdrant's scroll, Weaviate's cursor iterator). Searches: a query made from a document is that
document, then its nearest neighbours by its stored vector; a given query is embedded by the
``--query-encoder`` (a vecrank bi-encoder such as ``minilm-bi``) and searched with that vector.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tqdm.auto import tqdm

from ..errors import ConfigError
from ..extras import needs_extra

logger = logging.getLogger(__name__)

SCHEMES = ("qdrant", "weaviate")
PAGE = 256  # points read per scroll / iterator page
WEAVIATE_GRPC_PORT = 50051
WEAVIATE_UNNAMED = "default"  # the name weaviate-client gives a collection's unnamed vector


@dataclass(frozen=True)
class CollectionOptions:
    """Which collection of a database source to read, and which of its fields and vectors."""

    collection: str | None = None
    text_field: str = "text"
    title_field: str | None = None
    vector_name: str | None = None
    query_encoder: str | None = None

    def given(self) -> list[str]:
        """The options set away from their defaults (they only make sense with a database source)."""
        return [
            f"--{name.replace('_', '-')}"
            for name, default in (("collection", None), ("text_field", "text"), ("title_field", None),
                                  ("vector_name", None), ("query_encoder", None))
            if getattr(self, name) != default
        ]  # fmt: skip


def is_database(source: object) -> bool:
    """A ``qdrant:...`` / ``weaviate:...`` spelling, or a Qdrant or Weaviate client."""
    if isinstance(source, str):
        return source.partition(":")[0] in SCHEMES and ":" in source
    return _client_kind(source) is not None


def _client_kind(source: object) -> str | None:
    qdrant, weaviate = sys.modules.get("qdrant_client"), sys.modules.get("weaviate")
    if qdrant is not None and isinstance(source, qdrant.QdrantClient):
        return "qdrant"
    if weaviate is not None and isinstance(source, weaviate.WeaviateClient):
        return "weaviate"
    return None


class _Qdrant:
    """One Qdrant collection: its points' payloads, its vectors, and searches."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name
        self.point_ids: dict[str, Any] = {}  # str(id) -> the id as Qdrant holds it (int or UUID string)

    def names(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    def exists(self) -> bool:
        return self.client.collection_exists(self.name)

    def records(self, fields: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        offset = None
        while True:
            points, offset = self.client.scroll(
                self.name, limit=PAGE, offset=offset, with_payload=list(fields), with_vectors=False
            )
            for point in points:
                self.point_ids[str(point.id)] = point.id
                yield str(point.id), point.payload or {}
            if offset is None:
                return

    def first_keys(self) -> list[str]:
        points, _ = self.client.scroll(self.name, limit=1, with_payload=True, with_vectors=False)
        return sorted(points[0].payload or {}) if points else []

    def vectors(self) -> dict[str, int]:
        params = self.client.get_collection(self.name).config.params.vectors
        if isinstance(params, Mapping):
            return {name: vector.size for name, vector in params.items()}
        return {"": params.size} if params is not None else {}

    def near_document(self, doc_id: str, vector: str, limit: int) -> list[str]:
        # Searching by a point's id searches with its stored vector and leaves the point out.
        return self._ids(self.point_ids[doc_id], vector, limit)

    def near_vector(self, values: Sequence[float], vector: str, limit: int) -> list[str]:
        return self._ids(list(values), vector, limit)

    def _ids(self, query: Any, vector: str, limit: int) -> list[str]:
        found = self.client.query_points(
            self.name, query=query, using=vector or None, limit=limit, with_payload=False
        )
        return [str(point.id) for point in found.points]


class _Weaviate:
    """One Weaviate collection: its objects' properties, its vectors, and searches."""

    def __init__(self, client: Any, name: str) -> None:
        self.client, self.name = client, name
        self.collection = client.collections.get(name)

    def names(self) -> list[str]:
        return sorted(self.client.collections.list_all(simple=True))

    def exists(self) -> bool:
        return self.client.collections.exists(self.name)

    def records(self, fields: Sequence[str]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        for obj in self.collection.iterator(return_properties=list(fields), cache_size=PAGE):
            yield str(obj.uuid), obj.properties

    def first_keys(self) -> list[str]:
        objects = self.collection.query.fetch_objects(limit=1).objects
        return sorted(objects[0].properties) if objects else []

    def vectors(self) -> dict[str, int]:
        objects = self.collection.query.fetch_objects(limit=1, include_vector=True).objects
        return {name: len(values) for name, values in objects[0].vector.items()} if objects else {}

    def near_document(self, doc_id: str, vector: str, limit: int) -> list[str]:
        found = self.collection.query.near_object(doc_id, limit=limit, target_vector=self._target(vector))
        return [str(obj.uuid) for obj in found.objects]

    def near_vector(self, values: Sequence[float], vector: str, limit: int) -> list[str]:
        found = self.collection.query.near_vector(
            list(values), limit=limit, target_vector=self._target(vector)
        )
        return [str(obj.uuid) for obj in found.objects]

    @staticmethod
    def _target(vector: str) -> str | None:
        return None if vector == WEAVIATE_UNNAMED else vector


class Collection:
    """A database collection read as a corpus, searched for candidates, closed when done."""

    def __init__(self, kind: str, client: Any, label: str, options: CollectionOptions, owned: bool) -> None:
        self.label = f"{kind} collection {options.collection!r} at {label}"
        self.options, self.client, self.owned = options, client, owned
        self.backend = (_Qdrant if kind == "qdrant" else _Weaviate)(client, options.collection)
        self.encodes = False  # given queries are searched with the query encoder's vectors
        self._vector: str | None = None
        self._encoder: Any = None

    def close(self) -> None:
        """Close the client if this source opened it (an embedded Qdrant folder is then free again)."""
        if self.owned:
            self.client.close()

    def read(self, progress: bool = True) -> tuple[dict[str, str], dict[str, str]]:
        """``({doc_id: text}, {doc_id: title})`` of every point; points without text are left out."""
        try:
            exists = self.backend.exists()
        except Exception as error:  # the client's own connection errors, whatever their type
            raise ConfigError(f"cannot read the {self.label}: {type(error).__name__}: {error}") from None
        if not exists:
            found = ", ".join(repr(name) for name in self.backend.names()) or "none"
            raise ConfigError(f"{self.label}: no such collection; expected one of: {found}")
        text_field, title_field = self.options.text_field, self.options.title_field
        fields = [text_field] + ([title_field] if title_field else [])
        documents, titles, missing = {}, {}, 0
        reading = tqdm(desc=f"Reading {self.options.collection}", unit="doc", disable=not progress)
        with reading:
            for doc_id, payload in self.backend.records(fields):
                reading.update()
                text = payload.get(text_field)
                if not isinstance(text, str) or not text.strip():
                    missing += 1
                    continue
                documents[doc_id] = text
                if title_field and isinstance(payload.get(title_field), str):
                    titles[doc_id] = payload[title_field]
        if not documents:
            if not missing:
                raise ConfigError(f"{self.label}: expected documents to read, found an empty collection")
            raise ConfigError(
                f"{self.label}: expected a text field {text_field!r} (--text-field), found none in its "
                f"{missing} points; the first one has {self.backend.first_keys() or 'no fields'}"
            )
        if title_field and not titles:
            raise ConfigError(
                f"{self.label}: expected a title field {title_field!r} (--title-field), found none; "
                f"the first point has {self.backend.first_keys()}"
            )
        if missing:
            logger.warning("%s: %d points without text in %r are left out", self.label, missing, text_field)
        return documents, titles

    def prepare(self, by_document: int, by_text: int) -> None:
        """Check, before any work is done, what the searches of ``by_document`` queries (made from a
        document) and ``by_text`` others need; without a query encoder, the others fall back to BM25."""
        name = self.options.query_encoder
        if name:
            check_bi_encoder(name)
        self.encodes = bool(by_text and name)
        if by_text and not name:
            logger.warning(
                "%d queries come with no candidates and from no document of the %s, and no "
                "--query-encoder embeds them: their candidates come from BM25 over its texts",
                by_text,
                self.label,
            )
        if not (by_document or self.encodes):
            return
        size = self._pick_vector()
        dimensions = len(self._embed(["a query"])[0]) if self.encodes else size
        if dimensions != size:
            raise ConfigError(
                f"--query-encoder {name!r} makes {dimensions}-d vectors, but the {self.label} holds "
                f"{size}-d ones in vector {self._vector!r}: expected the model that embedded the collection"
            )

    def rankings(
        self,
        made: Sequence[tuple[str, str]],
        given: Sequence[tuple[str, str]],
        depth: int,
        progress: bool = True,
    ) -> dict[str, list[str]]:
        """Each query's ``depth`` best document ids: ``made`` are (query id, source document id), the
        document first; ``given`` are (query id, text), searched with the encoder's vector."""
        vector = self._vector or ""
        found: dict[str, list[str]] = {}
        bar = tqdm(total=len(made) + len(given), desc="Retrieving (vector search)", unit="query",
                   disable=not progress)  # fmt: skip
        with bar:
            for query_id, doc_id in made:
                near = self.backend.near_document(doc_id, vector, depth)
                found[query_id] = [doc_id] + [hit for hit in near if hit != doc_id][: depth - 1]
                bar.update()
            vectors = self._embed([text for _, text in given]) if given else []
            for (query_id, _), values in zip(given, vectors):
                found[query_id] = self.backend.near_vector(values, vector, depth)
                bar.update()
        return found

    def _pick_vector(self) -> int:
        """The vector searched (``--vector-name`` where there are several) and its size."""
        vectors = self.backend.vectors()
        name = self.options.vector_name
        listed = ", ".join(repr(n) for n in vectors)
        if not vectors:
            raise ConfigError(
                f"{self.label}: expected stored vectors to search with, found none; without vectors, "
                "give every query its candidates (a captured-traffic file) or use a JSONL or BEIR source"
            )
        if name is not None and name not in vectors:
            raise ConfigError(f"{self.label}: no vector named {name!r} (--vector-name); it has {listed}")
        if name is None and len(vectors) > 1:
            raise ConfigError(f"{self.label} has several vectors ({listed}): pick one with --vector-name")
        self._vector = name if name is not None else next(iter(vectors))
        return vectors[self._vector]

    def _embed(self, texts: Sequence[str]) -> list[list[float]]:
        if self._encoder is None:
            from ..config import CollectionConfig
            from ..plugins import get_scorer

            self._encoder = get_scorer(
                CollectionConfig(model=check_bi_encoder(self.options.query_encoder or ""))
            )
        return self._encoder.embed(list(texts)).cpu().tolist()


def check_bi_encoder(name: str) -> str:
    """The registered name of bi-encoder ``name`` (a reranker whose scorer ``embed``s texts)."""
    from ..plugins import get_reranker_registry

    registry = get_reranker_registry()
    entry = registry.get(name)
    if entry is None or not callable(getattr(entry.factory, "embed", None)):
        known = sorted({e.name for e in registry.entries() if callable(getattr(e.factory, "embed", None))})
        raise ConfigError(
            f"--query-encoder {name!r}: expected a vecrank bi-encoder (one that embeds texts), "
            f"found {'another kind of reranker' if entry else 'no such name'}; bi-encoders here: "
            f"{', '.join(known) or 'none'}"
        )
    return entry.name


def open_collection(source: object, options: CollectionOptions) -> Collection:
    """Connect to ``source`` (a spelling or a client); a ConfigError names what could not be reached."""
    if not options.collection:
        raise ConfigError(f"--data {source}: expected --collection NAME, the collection to read")
    kind = _client_kind(source)
    if kind is not None:
        return Collection(kind, source, f"the given {type(source).__name__}", options, owned=False)
    kind, _, where = str(source).partition(":")
    if kind == "qdrant":
        with needs_extra("vecrank distill from a Qdrant collection", extra="qdrant"):
            from qdrant_client import QdrantClient
        if where.startswith(("http://", "https://")):
            return Collection(kind, QdrantClient(url=where), where, options, owned=True)
        if not Path(where).is_dir():
            raise ConfigError(
                f"--data {source}: expected an embedded Qdrant folder (QdrantClient(path=...)) or an "
                "http(s):// URL after 'qdrant:', found no folder there"
            )
        try:
            client = QdrantClient(path=where)
        except RuntimeError as error:  # the folder is locked by another client
            raise ConfigError(f"--data {source}: {error}") from None
        return Collection(kind, client, where, options, owned=True)
    with needs_extra("vecrank distill from a Weaviate collection", extra="weaviate"):
        import weaviate
        from weaviate.exceptions import WeaviateBaseError
    url = urlsplit(where)
    if url.scheme not in ("http", "https") or not url.hostname:
        raise ConfigError(f"--data {source}: expected weaviate:http(s)://HOST:PORT, found {where!r}")
    secure, extra = url.scheme == "https", parse_qs(url.query)
    try:
        client = weaviate.connect_to_custom(
            http_host=url.hostname,
            http_port=url.port or (443 if secure else 80),
            http_secure=secure,
            grpc_host=extra.get("grpc_host", [url.hostname])[0],
            grpc_port=int(extra.get("grpc_port", [WEAVIATE_GRPC_PORT])[0]),
            grpc_secure=secure,
        )
    except (WeaviateBaseError, ValueError) as error:
        raise ConfigError(f"--data {source}: cannot connect to Weaviate: {error}") from None
    return Collection(kind, client, where, options, owned=True)
