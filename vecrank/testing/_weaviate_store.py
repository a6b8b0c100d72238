"""In-memory collections and objects held by the Weaviate stand-in."""

from __future__ import annotations

import hashlib
import math
import re
import time
import uuid as uuid_lib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

Embed = Callable[[str], Sequence[float]]

DEFAULT_VECTOR = "default"
"""Name under which a collection's unnamed vector is kept (the client uses it too)."""

_WORD = re.compile(r"[^\W_]+")
_HNSW_CONFIG: dict[str, Any] = {
    "cleanupIntervalSeconds": 300,
    "distance": "cosine",
    "dynamicEfMin": 100,
    "dynamicEfMax": 500,
    "dynamicEfFactor": 8,
    "ef": -1,
    "efConstruction": 128,
    "filterStrategy": "sweeping",
    "flatSearchCutoff": 40000,
    "maxConnections": 32,
    "skip": False,
    "vectorCacheMaxObjects": 1000000000000,
}


def tokenize(text: str) -> list[str]:
    """Lower-cased alphanumeric words, like Weaviate's default ``word`` tokenization."""
    return _WORD.findall(text.lower())


def hashed_embedding(text: str, dim: int = 256) -> list[float]:
    """A deterministic, L2-normalised hashed bag-of-words vector (the default embedder)."""
    vec = [0.0] * dim
    for token in tokenize(text):
        digest = hashlib.blake2b(token.encode(), digest_size=8).digest()
        vec[int.from_bytes(digest, "little") % dim] += 1.0
    norm = math.sqrt(sum(v * v for v in vec))
    return [v / norm for v in vec] if norm else vec


def capitalize(name: str) -> str:
    """Collection names as Weaviate (and the client) spell them: first letter upper-cased."""
    return name[:1].upper() + name[1:]


def parse_date(text: str) -> datetime:
    """Parse an RFC 3339 date as Weaviate and the client write them."""
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def data_type(value: Any) -> str:
    """The Weaviate data type auto-schema would give ``value``."""
    if isinstance(value, (list, tuple)):
        return (data_type(value[0]) if value else "text") + "[]"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "number"
    if isinstance(value, datetime):
        return "date"
    if isinstance(value, uuid_lib.UUID):
        return "uuid"
    if isinstance(value, Mapping):
        return "object"
    return "text"


def _coerce(value: Any, dtype: str) -> Any:
    """Convert a JSON / protobuf-Struct value to the Python type of data type ``dtype``."""
    if isinstance(value, list):
        return [_coerce(v, dtype.removesuffix("[]")) for v in value]
    if dtype == "date" and isinstance(value, str):
        return parse_date(value)
    if dtype == "uuid" and isinstance(value, str):
        return uuid_lib.UUID(value)
    if dtype == "number" and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if dtype == "int" and isinstance(value, float) and value.is_integer():
        return int(value)
    return value


@dataclass
class StoredObject:
    """One object: its id, properties, vectors by name and creation time (ms since epoch)."""

    uuid: str
    properties: dict[str, Any]
    vectors: dict[str, list[float]]
    created_ms: int


@dataclass
class StoredCollection:
    """A collection: property data types in declaration order, vector names, objects.

    A property declared without a type (``""``) takes the type of its first value.
    """

    name: str
    data_types: dict[str, str] = field(default_factory=dict)
    vector_names: list[str] = field(default_factory=list)
    objects: dict[str, StoredObject] = field(default_factory=dict)

    def add(
        self,
        properties: Mapping[str, Any],
        vectors: Mapping[str, Sequence[float]],
        uuid: str | uuid_lib.UUID | None,
    ) -> str:
        """Store an object (new properties are added to the schema) and return its uuid."""
        key = str(uuid_lib.UUID(str(uuid)) if uuid is not None else uuid_lib.uuid4())
        if key in self.objects:
            raise ValueError(f"id '{key}' already exists in collection {self.name}")
        for name, value in properties.items():
            if value is not None and not self.data_types.get(name):
                self.data_types[name] = data_type(value)
        self.vector_names.extend(n for n in vectors if n not in self.vector_names)
        self.objects[key] = StoredObject(
            uuid=key,
            properties={k: _coerce(v, self.data_types.get(k, "")) for k, v in properties.items()},
            vectors={name: [float(x) for x in vec] for name, vec in vectors.items()},
            created_ms=time.time_ns() // 1_000_000,
        )
        return key

    def text_properties(self) -> list[str]:
        """Names of the ``text`` and ``text[]`` properties, the default BM25 fields."""
        return [name for name, dtype in self.data_types.items() if dtype.startswith("text")]

    def default_target(self) -> str:
        """The vector a query without ``target_vector`` searches, as Weaviate picks it."""
        if DEFAULT_VECTOR in self.vector_names or not self.vector_names:
            return DEFAULT_VECTOR
        if len(self.vector_names) == 1:
            return self.vector_names[0]
        raise LookupError(
            f"collection {self.name} has several named vectors {self.vector_names}: pass target_vector"
        )

    def schema(self) -> dict[str, Any]:
        """The collection's class definition, as ``GET /v1/schema/{name}`` returns it."""
        out: dict[str, Any] = {
            "class": self.name,
            "properties": [
                {
                    "name": name,
                    "dataType": [dtype or "text"],
                    "indexFilterable": True,
                    "indexSearchable": not dtype or dtype.startswith("text"),
                    **({"tokenization": "word"} if not dtype or dtype.startswith("text") else {}),
                }
                for name, dtype in self.data_types.items()
            ],
            "invertedIndexConfig": {
                "bm25": {"b": 0.75, "k1": 1.2},
                "cleanupIntervalSeconds": 60,
                "stopwords": {"preset": "en", "additions": None, "removals": None},
            },
            "multiTenancyConfig": {"enabled": False},
            "replicationConfig": {"factor": 1},
            "shardingConfig": {
                "virtualPerPhysical": 128,
                "desiredCount": 1,
                "actualCount": 1,
                "desiredVirtualCount": 128,
                "actualVirtualCount": 128,
                "key": "_id",
                "strategy": "hash",
                "function": "murmur3",
            },
            "vectorizer": "none",
        }
        named = [n for n in self.vector_names if n != DEFAULT_VECTOR]
        if named:
            out["vectorConfig"] = {
                n: {
                    "vectorizer": {"none": {}},
                    "vectorIndexType": "hnsw",
                    "vectorIndexConfig": dict(_HNSW_CONFIG),
                }
                for n in named
            }
        if DEFAULT_VECTOR in self.vector_names or not named:
            out["vectorIndexType"] = "hnsw"
            out["vectorIndexConfig"] = dict(_HNSW_CONFIG)
        return out

    @classmethod
    def from_schema(cls, schema: Mapping[str, Any]) -> StoredCollection:
        """An empty collection from a class definition sent to ``POST /v1/schema``."""
        return cls(
            name=capitalize(str(schema["class"])),
            data_types={p["name"]: p["dataType"][0] for p in schema.get("properties") or []},
            vector_names=list(schema.get("vectorConfig") or {}),
        )
