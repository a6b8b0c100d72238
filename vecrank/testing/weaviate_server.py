"""An in-process Weaviate stand-in that the real ``weaviate-client`` v4 talks to over loopback.

:class:`WeaviateStandIn` runs, on free ports of 127.0.0.1, a gRPC server (the v1 ``Weaviate``
service's ``Search`` and ``BatchObjects``, plus the health check the client pings on connect)
and a small REST server (meta, readiness, schema, single-object insert), all answering from
in-memory collections.
Searches follow Weaviate's semantics closely enough for tests: cosine ``near_vector`` /
``near_object`` / ``near_text``, BM25 keyword search, hybrid fusion, filters, limit/offset,
autocut, returned properties, metadata and (named) vectors. There is no vectorizer module:
texts are embedded with the ``embed`` callable given to the constructor (a hashed
bag-of-words by default), and objects added without a vector get ``embed`` of their text.
Generative searches (``collection.generate.*``) are answered by an echo module that returns
the prompt it was given (see ``_weaviate_generative``).

``group_by`` groups every ranked, filtered hit (offset and limit are not applied) by the
property's value, groups in the order of their best hit. Unsupported request features (rerank,
generative group_by, sort, tenants, references, media searches) are answered with gRPC
``UNIMPLEMENTED``. A cursor (``after``, what ``collection.iterator()`` sends) pages through a plain
fetch in insertion order.

Example::

    with WeaviateStandIn() as standin:
        standin.add_collection("Docs", ["text"])
        standin.add_object("Docs", {"text": "cats purr"}, vector=[1.0, 0.0])
        with weaviate.connect_to_custom(**standin.connection_kwargs) as client:
            docs = client.collections.get("Docs")
            hits = docs.query.near_vector([1.0, 0.1], limit=3).objects

By default the client's best-effort "is a newer client on PyPI?" check, made on connect, is
pointed at this server too (see ``redirect_version_check``), so connecting stays on loopback.
"""

from __future__ import annotations

import json
import threading
import time
import uuid as uuid_lib
from collections.abc import Mapping, Sequence
from concurrent import futures
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib.metadata import version as package_version
from typing import Any
from urllib.parse import unquote, urlsplit

import grpc
import weaviate.connect.v4 as weaviate_connection
from weaviate.proto.v1 import batch_pb2, health_weaviate_pb2, search_get_pb2, weaviate_pb2_grpc

from vecrank.testing._weaviate_generative import generative_answers
from vecrank.testing._weaviate_proto import decode_batch_object, search_result
from vecrank.testing._weaviate_search import ScoredObject, SearchError, check_supported, group, search
from vecrank.testing._weaviate_store import (
    DEFAULT_VECTOR,
    Embed,
    StoredCollection,
    capitalize,
    hashed_embedding,
)

__all__ = ["WeaviateStandIn"]

_HOST = "127.0.0.1"
_PYPI_PATH = "/pypi/weaviate-client/json"
_GRPC_MAX_MESSAGE = 104_858_000


class WeaviateStandIn:
    """An in-memory Weaviate server on loopback; use as a context manager or ``start()``/``stop()``.

    Args:
        embed: text -> vector function used for ``near_text``, hybrid queries without a
            vector, and objects added without one. Defaults to a 256-d hashed bag-of-words.
        version: the Weaviate version ``/v1/meta`` reports (the client needs >= 1.27).
        default_limit: page size when a query sets no limit (Weaviate's default is 10).
        redirect_version_check: while running, point the client's PyPI version check
            (``weaviate.connect.v4.PYPI_PACKAGE_URL``) at this server.

    Attributes:
        http_port, grpc_port: the bound ports (0 until started).
        requests: every ``SearchRequest`` received, oldest first.
        embed: the embedding function in use.
    """

    def __init__(
        self,
        embed: Embed | None = None,
        *,
        version: str = "1.32.0",
        default_limit: int = 10,
        redirect_version_check: bool = True,
    ) -> None:
        self.embed: Embed = embed or hashed_embedding
        self.version = version
        self.default_limit = default_limit
        self.requests: list[search_get_pb2.SearchRequest] = []
        self.http_port = 0
        self.grpc_port = 0
        self._redirect_version_check = redirect_version_check
        self._saved_pypi_url: str | None = None
        self._collections: dict[str, StoredCollection] = {}
        self._lock = threading.Lock()
        self._grpc_server: grpc.Server | None = None
        self._http_server: _RestServer | None = None

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> WeaviateStandIn:
        """Bind free loopback ports and serve gRPC and REST in background threads."""
        if self._grpc_server is not None:
            raise RuntimeError("the Weaviate stand-in is already running")
        self._grpc_server = grpc.server(
            futures.ThreadPoolExecutor(max_workers=8),
            options=[
                ("grpc.max_receive_message_length", _GRPC_MAX_MESSAGE),
                ("grpc.max_send_message_length", _GRPC_MAX_MESSAGE),
            ],
        )
        weaviate_pb2_grpc.add_WeaviateServicer_to_server(_WeaviateServicer(self), self._grpc_server)
        self._grpc_server.add_generic_rpc_handlers((health_handler(),))
        try:
            self.grpc_port = self._grpc_server.add_insecure_port(f"{_HOST}:0")
            self._grpc_server.start()
            self._http_server = _RestServer(self)
        except BaseException:
            self.stop()
            raise
        self.http_port = self._http_server.server_address[1]
        threading.Thread(target=self._http_server.serve_forever, daemon=True).start()

        if self._redirect_version_check and hasattr(weaviate_connection, "PYPI_PACKAGE_URL"):
            self._saved_pypi_url = weaviate_connection.PYPI_PACKAGE_URL
            weaviate_connection.PYPI_PACKAGE_URL = self.url + _PYPI_PATH
        return self

    def stop(self) -> None:
        """Stop both servers (idempotent) and undo the version-check redirect."""
        if self._saved_pypi_url is not None:
            if self.url + _PYPI_PATH == weaviate_connection.PYPI_PACKAGE_URL:
                weaviate_connection.PYPI_PACKAGE_URL = self._saved_pypi_url
            self._saved_pypi_url = None
        if self._http_server is not None:
            self._http_server.shutdown()
            self._http_server.server_close()
            self._http_server = None
        if self._grpc_server is not None:
            self._grpc_server.stop(grace=None).wait()
            self._grpc_server = None

    def __enter__(self) -> WeaviateStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def url(self) -> str:
        """Base URL of the REST server."""
        return f"http://{_HOST}:{self.http_port}"

    @property
    def connection_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``weaviate.connect_to_custom`` / ``use_async_with_custom``."""
        return {
            "http_host": _HOST,
            "http_port": self.http_port,
            "http_secure": False,
            "grpc_host": _HOST,
            "grpc_port": self.grpc_port,
            "grpc_secure": False,
        }

    @property
    def last_request(self) -> search_get_pb2.SearchRequest:
        """The most recent ``SearchRequest`` (IndexError if none arrived yet)."""
        return self.requests[-1]

    # -- data ----------------------------------------------------------------------------------

    def add_collection(self, name: str, properties: Sequence[str] | Mapping[str, str] = ()) -> None:
        """Create an empty collection (name capitalised, like Weaviate does).

        ``properties`` is a list of names, each typed by its first value (``text`` if none),
        or a mapping name -> Weaviate data type (``"text"``, ``"int"``, ``"number"``, ...).
        """
        types = dict(properties) if isinstance(properties, Mapping) else dict.fromkeys(properties, "")
        with self._lock:
            self._create(StoredCollection(capitalize(name), data_types=types))

    def add_object(
        self,
        collection: str,
        properties: Mapping[str, Any],
        vector: Sequence[float] | None = None,
        *,
        vectors: Mapping[str, Sequence[float]] | None = None,
        uuid: str | uuid_lib.UUID | None = None,
    ) -> str:
        """Add an object and return its uuid.

        ``vector`` is the unnamed vector, ``vectors`` named ones. With neither, the object
        gets ``embed`` of its text property values joined by spaces, under each of the
        collection's vector names (the unnamed vector if it has none yet).
        """
        with self._lock:
            stored = self._collections.get(capitalize(collection))
            if stored is None:
                raise KeyError(f"no collection {collection!r} in the Weaviate stand-in")
            return self._add(stored, properties, vector, vectors, uuid)

    def _create(self, collection: StoredCollection) -> None:
        """Register a new collection (caller holds the lock)."""
        if collection.name in self._collections:
            raise ValueError(f"collection {collection.name} already exists")
        self._collections[collection.name] = collection

    def _add(
        self,
        collection: StoredCollection,
        properties: Mapping[str, Any],
        vector: Sequence[float] | None,
        vectors: Mapping[str, Sequence[float]] | None,
        uuid: str | uuid_lib.UUID | None,
    ) -> str:
        """Store one object, embedding its text when no vector is given (caller holds the lock)."""
        by_name = dict(vectors or {})
        if vector is not None:
            by_name[DEFAULT_VECTOR] = vector
        if not by_name:
            text = " ".join(v for v in properties.values() if isinstance(v, str))
            embedded = list(self.embed(text))
            by_name = dict.fromkeys(collection.vector_names or [DEFAULT_VECTOR], embedded)
        return collection.add(properties, by_name, uuid)

    # -- protocol handlers ---------------------------------------------------------------------

    def _search(self, request: search_get_pb2.SearchRequest) -> search_get_pb2.SearchReply:
        """Answer one gRPC ``Search`` call (raises :class:`SearchError`)."""
        started = time.perf_counter()
        with self._lock:
            self.requests.append(request)
            check_supported(request)
            collection = self._collections.get(capitalize(request.collection))
            if collection is None:
                raise SearchError(
                    grpc.StatusCode.NOT_FOUND, f"no collection {request.collection!r} in schema"
                )
            hits = search(request, collection, self.embed, self.default_limit)
            if request.HasField("group_by"):
                groups = [
                    self._group_result(request, collection.name, name, members)
                    for name, members in group(hits, request.group_by)
                ]
                return search_get_pb2.SearchReply(took=time.perf_counter() - started, group_by_results=groups)
            singles, grouped = [None] * len(hits), None
            if request.HasField("generative"):
                singles, grouped = generative_answers(request.generative, [h.obj for h in hits])
            results = [
                search_result(request, collection.name, h.obj, h.distance, h.score, single)
                for h, single in zip(hits, singles)
            ]
        return search_get_pb2.SearchReply(
            took=time.perf_counter() - started, results=results, generative_grouped_results=grouped
        )

    @staticmethod
    def _group_result(
        request: search_get_pb2.SearchRequest, collection: str, name: str, hits: list[ScoredObject]
    ) -> search_get_pb2.GroupByResult:
        """One group of a ``group_by`` reply: its hits, count and distance range."""
        distances = [hit.distance for hit in hits if hit.distance is not None]
        return search_get_pb2.GroupByResult(
            name=name,
            min_distance=min(distances, default=0.0),
            max_distance=max(distances, default=0.0),
            number_of_objects=len(hits),
            objects=[search_result(request, collection, h.obj, h.distance, h.score) for h in hits],
        )

    def _rest(self, method: str, path: str, body: Any) -> tuple[int, Any]:
        """Answer one REST call with (status, JSON body or None)."""
        parts = [unquote(p) for p in urlsplit(path).path.strip("/").split("/")]
        with self._lock:
            match method, parts:
                case "GET", ["v1", ".well-known", "ready" | "live"]:
                    return 200, None
                case "GET", ["v1", "meta"]:
                    return 200, self._meta()
                case "GET", ["v1", "schema"]:
                    return 200, {"classes": [c.schema() for c in self._collections.values()]}
                case "GET", ["v1", "schema", name]:
                    stored = self._collections.get(capitalize(name))
                    return (200, stored.schema()) if stored else (404, None)
                case "POST", ["v1", "schema"]:
                    collection = StoredCollection.from_schema(body)
                    self._create(collection)
                    return 200, collection.schema()
                case "DELETE", ["v1", "schema", name]:
                    self._collections.pop(capitalize(name), None)
                    return 200, None
                case "POST", ["v1", "objects"]:
                    return 200, self._insert(body)
                case "GET", ["pypi", "weaviate-client", "json"]:
                    return 200, {"info": {"version": package_version("weaviate-client")}}
        return 404, _error(f"the Weaviate stand-in does not serve {method} {path}")

    def _batch(self, request: batch_pb2.BatchObjectsRequest) -> batch_pb2.BatchObjectsReply:
        """Answer one gRPC ``BatchObjects`` call (``insert_many``, batching), creating
        collections as needed; objects that cannot be stored are reported as errors."""
        started = time.perf_counter()
        errors = []
        with self._lock:
            for index, obj in enumerate(request.objects):
                try:
                    if obj.tenant:
                        raise ValueError("the Weaviate stand-in does not support tenants")
                    properties, vectors = decode_batch_object(obj)
                    name = capitalize(obj.collection)
                    if name not in self._collections:
                        self._create(StoredCollection(name))
                    self._add(self._collections[name], properties, None, vectors, obj.uuid or None)
                except ValueError as exc:
                    errors.append(batch_pb2.BatchObjectsReply.BatchError(index=index, error=str(exc)))
        return batch_pb2.BatchObjectsReply(took=time.perf_counter() - started, errors=errors)

    def _meta(self) -> dict[str, Any]:
        """The ``/v1/meta`` document."""
        return {
            "hostname": self.url,
            "modules": {},
            "version": self.version,
            "grpcMaxMessageSize": _GRPC_MAX_MESSAGE,
        }

    def _insert(self, body: Mapping[str, Any]) -> dict[str, Any]:
        """``POST /v1/objects``: add one object, creating its collection if needed."""
        name = capitalize(str(body["class"]))
        if name not in self._collections:
            self._create(StoredCollection(name))
        uuid = self._add(
            self._collections[name],
            body.get("properties") or {},
            body.get("vector"),
            body.get("vectors"),
            body.get("id"),
        )
        return {**body, "class": name, "id": uuid}


class _WeaviateServicer(weaviate_pb2_grpc.WeaviateServicer):
    """The v1 ``Weaviate`` gRPC service: ``Search`` and ``BatchObjects`` (others UNIMPLEMENTED)."""

    def __init__(self, standin: WeaviateStandIn) -> None:
        self._standin = standin

    def Search(
        self, request: search_get_pb2.SearchRequest, context: grpc.ServicerContext
    ) -> search_get_pb2.SearchReply:
        try:
            return self._standin._search(request)
        except SearchError as exc:
            context.abort(exc.code, str(exc))

    def BatchObjects(
        self, request: batch_pb2.BatchObjectsRequest, context: grpc.ServicerContext
    ) -> batch_pb2.BatchObjectsReply:
        return self._standin._batch(request)


def health_handler() -> grpc.GenericRpcHandler:
    """``grpc.health.v1.Health/Check``, which the client pings on connect: always SERVING."""
    response = health_weaviate_pb2.WeaviateHealthCheckResponse
    check = grpc.unary_unary_rpc_method_handler(
        lambda request, context: response(status=response.SERVING),
        request_deserializer=health_weaviate_pb2.WeaviateHealthCheckRequest.FromString,
        response_serializer=response.SerializeToString,
    )
    return grpc.method_handlers_generic_handler("grpc.health.v1.Health", {"Check": check})


def _error(message: str) -> dict[str, Any]:
    """A REST error body in Weaviate's format."""
    return {"error": [{"message": message}]}


class _RestServer(ThreadingHTTPServer):
    """The REST server of one stand-in, on a free loopback port."""

    def __init__(self, standin: WeaviateStandIn) -> None:
        super().__init__((_HOST, 0), _RestHandler)
        self.standin = standin


class _RestHandler(BaseHTTPRequestHandler):
    """Routes REST calls to the stand-in and writes JSON replies (HTTP/1.1 keep-alive)."""

    protocol_version = "HTTP/1.1"
    server: _RestServer

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def do_DELETE(self) -> None:
        self._handle()

    def _handle(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body_in = json.loads(raw) if raw else None
            status, body = self.server.standin._rest(self.command, self.path, body_in)
        except (ValueError, KeyError, TypeError) as exc:
            status, body = 422, _error(f"{type(exc).__name__}: {exc}")
        payload = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""
