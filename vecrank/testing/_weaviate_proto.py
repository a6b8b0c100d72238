"""Conversions between stored Python values and the Weaviate v1 gRPC messages."""

from __future__ import annotations

import struct
import uuid as uuid_lib
from collections.abc import Mapping, Sequence
from datetime import datetime, timezone
from typing import Any

from google.protobuf import json_format
from weaviate.proto.v1 import base_pb2, batch_pb2, generative_pb2, properties_pb2, search_get_pb2

from vecrank.testing._weaviate_store import DEFAULT_VECTOR, StoredObject

_SINGLE = base_pb2.Vectors.VECTOR_TYPE_SINGLE_FP32


def pack_floats(vector: Sequence[float]) -> bytes:
    """float32 bytes in the client's (native) byte order."""
    return struct.pack(f"{len(vector)}f", *vector)


def unpack_floats(data: bytes) -> list[float]:
    """Inverse of :func:`pack_floats`."""
    return list(struct.unpack(f"{len(data) // 4}f", data))


def decode_batch_object(obj: batch_pb2.BatchObject) -> tuple[dict[str, Any], dict[str, Any]]:
    """Properties and vectors (by name) of one object of a gRPC ``BatchObjects`` insert.

    Raises ValueError for what the stand-in does not store (references, nested objects,
    multi-vectors). Numbers arrive as floats (a ``google.protobuf.Struct``).
    """
    props = obj.properties
    if props.single_target_ref_props or props.multi_target_ref_props:
        raise ValueError("the Weaviate stand-in does not store cross-references")
    if props.object_properties or props.object_array_properties:
        raise ValueError("the Weaviate stand-in does not store nested objects over gRPC")
    out: dict[str, Any] = json_format.MessageToDict(props.non_ref_properties)
    for arrays in (
        props.text_array_properties,
        props.int_array_properties,
        props.boolean_array_properties,
    ):
        out.update({a.prop_name: list(a.values) for a in arrays})
    for a in props.number_array_properties:
        out[a.prop_name] = _unpack_doubles(a.values_bytes) if a.values_bytes else list(a.values)
    out.update({name: [] for name in props.empty_list_props})
    if any(v.type == base_pb2.Vectors.VECTOR_TYPE_MULTI_FP32 for v in obj.vectors):
        raise ValueError("the Weaviate stand-in does not store multi-vectors")
    vectors = {v.name or DEFAULT_VECTOR: unpack_floats(v.vector_bytes) for v in obj.vectors}
    if obj.vector_bytes or obj.vector:
        vectors[DEFAULT_VECTOR] = unpack_floats(obj.vector_bytes) or list(obj.vector)
    return out, vectors


def _unpack_doubles(data: bytes) -> list[float]:
    """float64 values packed by the client."""
    return list(struct.unpack(f"{len(data) // 8}d", data))


def _date(value: datetime) -> str:
    """RFC 3339 in UTC, as Weaviate writes dates (naive datetimes are taken as UTC)."""
    value = value if value.tzinfo else value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds").replace("+00:00", "Z")


def _list_value(values: list[Any]) -> properties_pb2.ListValue:
    """Encode a homogeneous list the way Weaviate does (numbers as packed bytes)."""
    if values and all(isinstance(v, bool) for v in values):
        return properties_pb2.ListValue(bool_values=properties_pb2.BoolValues(values=values))
    if values and all(isinstance(v, int) for v in values):
        packed = struct.pack(f"{len(values)}q", *values)
        return properties_pb2.ListValue(int_values=properties_pb2.IntValues(values=packed))
    if values and all(isinstance(v, (int, float)) for v in values):
        packed = struct.pack(f"{len(values)}d", *values)
        return properties_pb2.ListValue(number_values=properties_pb2.NumberValues(values=packed))
    if values and all(isinstance(v, datetime) for v in values):
        dates = properties_pb2.DateValues(values=[_date(v) for v in values])
        return properties_pb2.ListValue(date_values=dates)
    if values and all(isinstance(v, uuid_lib.UUID) for v in values):
        uuids = properties_pb2.UuidValues(values=[str(v) for v in values])
        return properties_pb2.ListValue(uuid_values=uuids)
    if values and all(isinstance(v, Mapping) for v in values):
        objects = properties_pb2.ObjectValues(values=[encode_properties(v) for v in values])
        return properties_pb2.ListValue(object_values=objects)
    texts = properties_pb2.TextValues(values=[str(v) for v in values])
    return properties_pb2.ListValue(text_values=texts)


def encode_value(value: Any) -> properties_pb2.Value:
    """Encode one property value as a ``properties_pb2.Value``."""
    if value is None:
        return properties_pb2.Value(null_value=0)
    if isinstance(value, bool):
        return properties_pb2.Value(bool_value=value)
    if isinstance(value, int):
        return properties_pb2.Value(int_value=value)
    if isinstance(value, float):
        return properties_pb2.Value(number_value=value)
    if isinstance(value, datetime):
        return properties_pb2.Value(date_value=_date(value))
    if isinstance(value, uuid_lib.UUID):
        return properties_pb2.Value(uuid_value=str(value))
    if isinstance(value, Mapping):
        return properties_pb2.Value(object_value=encode_properties(value))
    if isinstance(value, (list, tuple)):
        return properties_pb2.Value(list_value=_list_value(list(value)))
    return properties_pb2.Value(text_value=str(value))


def encode_properties(properties: Mapping[str, Any]) -> properties_pb2.Properties:
    """Encode a property mapping as ``properties_pb2.Properties``."""
    return properties_pb2.Properties(fields={name: encode_value(value) for name, value in properties.items()})


def _returned_properties(request: search_get_pb2.SearchRequest, obj: StoredObject) -> dict:
    """The properties the request asks for: all of them unless it names some."""
    if not request.HasField("properties") or request.properties.return_all_nonref_properties:
        return obj.properties
    wanted = [*request.properties.non_ref_properties]
    wanted += [nested.prop_name for nested in request.properties.object_properties]
    return {name: obj.properties[name] for name in wanted if name in obj.properties}


def _metadata(
    request: search_get_pb2.MetadataRequest,
    obj: StoredObject,
    distance: float | None,
    score: float | None,
) -> search_get_pb2.MetadataResult:
    """Metadata for one object, with only the fields the request asks for marked present."""
    meta = search_get_pb2.MetadataResult(id=obj.uuid, id_as_bytes=uuid_lib.UUID(obj.uuid).bytes)
    if request.creation_time_unix:
        meta.creation_time_unix, meta.creation_time_unix_present = obj.created_ms, True
    if request.last_update_time_unix:
        meta.last_update_time_unix, meta.last_update_time_unix_present = obj.created_ms, True
    if request.distance and distance is not None:
        meta.distance, meta.distance_present = distance, True
    if request.certainty and distance is not None:
        meta.certainty, meta.certainty_present = 1.0 - distance / 2.0, True
    if request.score and score is not None:
        meta.score, meta.score_present = score, True
    if request.explain_score and score is not None:
        meta.explain_score, meta.explain_score_present = f"stand-in score {score:.6f}", True
    if request.is_consistent:
        meta.is_consistent, meta.is_consistent_present = True, True
    names = list(obj.vectors) if request.vector else list(request.vectors)
    meta.vectors.extend(
        base_pb2.Vectors(name=n, vector_bytes=pack_floats(obj.vectors[n]), type=_SINGLE)
        for n in names
        if n in obj.vectors
    )
    return meta


def search_result(
    request: search_get_pb2.SearchRequest,
    collection: str,
    obj: StoredObject,
    distance: float | None,
    score: float | None,
    generative: generative_pb2.GenerativeResult | None = None,
) -> search_get_pb2.SearchResult:
    """One ``SearchResult`` as Weaviate builds it for ``request`` (with its single-prompt answer)."""
    return search_get_pb2.SearchResult(
        properties=search_get_pb2.PropertiesResult(
            non_ref_props=encode_properties(_returned_properties(request, obj)),
            target_collection=collection,
        ),
        metadata=_metadata(request.metadata, obj, distance, score),
        generative=generative,
    )
