"""Run a Weaviate v1 ``SearchRequest`` against an in-memory :class:`StoredCollection`.

Vector searches rank by cosine distance, keyword searches by a BM25F-style score
(k1=1.2, b=0.75, idf over the whole collection), hybrid searches fuse the two with
Weaviate's relative-score or ranked fusion, and plain fetches keep insertion order.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from typing import Any

import grpc
from weaviate.proto.v1 import base_pb2, base_search_pb2, search_get_pb2

from vecrank.testing._weaviate_proto import unpack_floats
from vecrank.testing._weaviate_store import (
    Embed,
    StoredCollection,
    StoredObject,
    parse_date,
    tokenize,
)

_F = base_pb2.Filters
_COMBINE = base_search_pb2.CombinationMethod
_BM25_K1, _BM25_B = 1.2, 0.75
_RANKED_K = 60
_OPERATORS = ("near_vector", "near_object", "near_text", "bm25_search", "hybrid_search")
_UNSUPPORTED = {
    "boost": "boost",
    "near_image": "near_image",
    "near_audio": "near_audio",
    "near_video": "near_video",
    "near_depth": "near_depth",
    "near_thermal": "near_thermal",
    "near_imu": "near_imu",
}


class SearchError(Exception):
    """A search the stand-in refuses, with the gRPC status code to answer it with."""

    def __init__(self, code: grpc.StatusCode, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass
class ScoredObject:
    """One ranked object with the distance and/or score that ranked it."""

    obj: StoredObject
    distance: float | None = None
    score: float | None = None


def check_supported(request: search_get_pb2.SearchRequest) -> None:
    """Raise UNIMPLEMENTED for request features the stand-in does not model."""
    if request.HasField("rerank"):
        raise SearchError(
            grpc.StatusCode.UNIMPLEMENTED,
            "the Weaviate stand-in has no reranker module: rerank "
            f"(property={request.rerank.property!r}) is not supported",
        )
    flags = {
        "sort_by": bool(request.sort_by),
        "multi-tenancy (tenant)": bool(request.tenant),
        "cross-references": bool(request.properties.ref_properties),
    }
    unsupported = [label for name, label in _UNSUPPORTED.items() if request.HasField(name)]
    if request.HasField("generative") and request.HasField("group_by"):
        unsupported.append("generative search with group_by")
    unsupported += [label for label, used in flags.items() if used]
    if unsupported:
        raise SearchError(
            grpc.StatusCode.UNIMPLEMENTED,
            f"the Weaviate stand-in does not support {', '.join(unsupported)}",
        )


def search(
    request: search_get_pb2.SearchRequest,
    collection: StoredCollection,
    embed: Embed,
    default_limit: int,
) -> list[ScoredObject]:
    """Filter, rank, page (offset/limit) and autocut the collection for ``request``.

    A ``group_by`` request gets every ranked hit, unpaged, for :func:`group`.
    """
    if request.after:
        return _after_cursor(request, collection, default_limit)
    candidates = [
        obj
        for obj in collection.objects.values()
        if not request.HasField("filters") or _matches(request.filters, obj)
    ]
    hits = _rank(request, collection, candidates, embed)
    if request.HasField("group_by"):
        return hits
    page = hits[request.offset : request.offset + (request.limit or default_limit)]
    return page[: _autocut(page, request.autocut)] if request.autocut > 0 else page


def _after_cursor(
    request: search_get_pb2.SearchRequest, collection: StoredCollection, default_limit: int
) -> list[ScoredObject]:
    """A cursor page (``after``, as ``collection.iterator()`` asks): the objects stored after that one.

    Pages follow insertion order, as a plain fetch does (Weaviate itself pages by uuid).
    """
    if request.HasField("filters") or any(request.HasField(name) for name in _OPERATORS):
        raise SearchError(grpc.StatusCode.INVALID_ARGUMENT, "a cursor (after) goes with a plain fetch only")
    order = list(collection.objects)
    if request.after.lower() not in collection.objects:
        raise SearchError(grpc.StatusCode.NOT_FOUND, f"after: no object with id {request.after}")
    start = order.index(request.after.lower()) + 1
    page = order[start : start + (request.limit or default_limit)]
    return [ScoredObject(collection.objects[key]) for key in page]


def _rank(
    request: search_get_pb2.SearchRequest,
    collection: StoredCollection,
    candidates: list[StoredObject],
    embed: Embed,
) -> list[ScoredObject]:
    """Order the candidates by the request's search operator."""
    if request.HasField("near_vector"):
        nv = request.near_vector
        return _within(_vector_hits(collection, candidates, _near_vector_queries(nv), nv), nv)
    if request.HasField("near_object"):
        no = request.near_object
        source = collection.objects.get(no.id.lower())
        if source is None:
            raise SearchError(grpc.StatusCode.NOT_FOUND, f"near_object: no object with id {no.id}")
        return _within(_vector_hits(collection, candidates, source.vectors, no), no)
    if request.HasField("near_text"):
        nt = request.near_text
        if nt.HasField("move_to") or nt.HasField("move_away"):
            raise SearchError(grpc.StatusCode.UNIMPLEMENTED, "near_text move_to/move_away")
        query = _mean([list(embed(text)) for text in nt.query])
        return _within(_vector_hits(collection, candidates, {None: query}, nt), nt)
    if request.HasField("bm25_search"):
        bm = request.bm25_search
        scores = _bm25(collection, candidates, bm.query, bm.properties, bm.search_operator)
        return _sorted_hits(candidates, scores)
    if request.HasField("hybrid_search"):
        return _hybrid(request.hybrid_search, collection, candidates, embed)
    return [ScoredObject(obj) for obj in candidates]


def group(hits: list[ScoredObject], group_by: search_get_pb2.GroupBy) -> list[tuple[str, list[ScoredObject]]]:
    """Weaviate's ``group_by`` over ranked hits: groups named by the property's value, in the order of
    their best hit, ``number_of_groups`` of them, each with its best ``objects_per_group`` hits."""
    groups: dict[str, list[ScoredObject]] = {}
    prop = group_by.path[0]
    for hit in hits:
        if prop not in hit.obj.properties:
            continue
        name = str(hit.obj.properties[prop])
        if name not in groups and len(groups) == group_by.number_of_groups:
            continue
        members = groups.setdefault(name, [])
        if len(members) < group_by.objects_per_group:
            members.append(hit)
    return list(groups.items())


def _mean(vectors: list[list[float]]) -> list[float]:
    """Element-wise mean, how Weaviate combines several near_text concepts."""
    return [sum(column) / len(vectors) for column in zip(*vectors)]


def _near_vector_queries(nv: base_search_pb2.NearVector) -> dict[str | None, list[float]]:
    """Query vectors by target name (``None``: the same vector for every target)."""
    if nv.vector_for_targets:
        return {vt.name: _single(vt.vectors, vt.vector_bytes) for vt in nv.vector_for_targets}
    if nv.vector_per_target:
        return {name: unpack_floats(data) for name, data in nv.vector_per_target.items()}
    if nv.vectors or nv.vector_bytes:
        return {None: _single(nv.vectors, nv.vector_bytes)}
    return {None: list(nv.vector)}


def _single(vectors: Sequence[base_pb2.Vectors], vector_bytes: bytes) -> list[float]:
    """Decode one single (not multi-) vector from the request's two encodings."""
    if not vectors:
        return unpack_floats(vector_bytes)
    if len(vectors) > 1 or vectors[0].type == base_pb2.Vectors.VECTOR_TYPE_MULTI_FP32:
        raise SearchError(grpc.StatusCode.UNIMPLEMENTED, "multi-vectors (ColBERT-style)")
    return unpack_floats(vectors[0].vector_bytes)


def _cosine_distance(a: Sequence[float], b: Sequence[float]) -> float:
    """1 - cosine similarity; 1.0 when either vector is all zeros."""
    if len(a) != len(b):
        raise SearchError(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"vector lengths don't match: query has {len(a)}, object has {len(b)}",
        )
    norm = math.sqrt(sum(x * x for x in a) * sum(y * y for y in b))
    return 1.0 - sum(x * y for x, y in zip(a, b)) / norm if norm else 1.0


def _targets(collection: StoredCollection, message: Any) -> tuple[list[str], Any]:
    """Target vector names of a near_* / hybrid message and its ``Targets`` (combination)."""
    names = list(message.targets.target_vectors) or list(message.target_vectors)
    if names:
        return names, message.targets
    try:
        return [collection.default_target()], message.targets
    except LookupError as exc:
        raise SearchError(grpc.StatusCode.INVALID_ARGUMENT, str(exc)) from None


def _combine(distances: list[float], names: list[str], targets: Any) -> float:
    """Join per-target distances with the request's multi-target combination method."""
    method = targets.combination
    if method in (_COMBINE.COMBINATION_METHOD_UNSPECIFIED, _COMBINE.COMBINATION_METHOD_TYPE_MIN):
        return min(distances)
    if method == _COMBINE.COMBINATION_METHOD_TYPE_SUM:
        return sum(distances)
    if method == _COMBINE.COMBINATION_METHOD_TYPE_AVERAGE:
        return sum(distances) / len(distances)
    if method == _COMBINE.COMBINATION_METHOD_TYPE_MANUAL:
        weights = {w.target: w.weight for w in targets.weights_for_targets}
        return sum(weights.get(n, 1.0) * d for n, d in zip(names, distances))
    raise SearchError(grpc.StatusCode.UNIMPLEMENTED, "relative-score multi-target combination")


def _vector_hits(
    collection: StoredCollection,
    candidates: list[StoredObject],
    queries: dict[str | None, list[float]],
    target_message: Any,
) -> list[ScoredObject]:
    """Rank by cosine distance to the query vector(s) in the message's targets, nearest first."""
    names, targets = _targets(collection, target_message)
    missing = [n for n in names if n not in queries and None not in queries]
    if missing:
        raise SearchError(grpc.StatusCode.INVALID_ARGUMENT, f"no query vector for {missing}")
    hits = []
    for obj in candidates:
        if all(name in obj.vectors for name in names):
            distances = [
                _cosine_distance(queries.get(name, queries.get(None, [])), obj.vectors[name])
                for name in names
            ]
            hits.append(ScoredObject(obj, distance=_combine(distances, names, targets)))
    return sorted(hits, key=lambda h: h.distance)


def _within(hits: list[ScoredObject], near: Any) -> list[ScoredObject]:
    """Drop hits beyond a near_* message's optional ``distance`` / ``certainty`` cut-offs."""
    if near.HasField("distance"):
        hits = [h for h in hits if h.distance <= near.distance]
    if near.HasField("certainty"):
        hits = [h for h in hits if 1.0 - h.distance / 2.0 >= near.certainty]
    return hits


def _bm25(
    collection: StoredCollection,
    candidates: list[StoredObject],
    query: str,
    properties: Sequence[str],
    operator: base_search_pb2.SearchOperatorOptions,
) -> dict[str, float]:
    """BM25F scores (object uuid -> score) of the candidates matching the query.

    ``properties`` may carry boosts (``"title^2"``); by default all text properties count.
    """
    fields = [(p.partition("^")[0], float(p.partition("^")[2] or 1)) for p in properties]
    fields = fields or [(name, 1.0) for name in collection.text_properties()]
    docs: dict[str, Counter[str]] = {}
    for obj in collection.objects.values():
        tf: Counter[str] = Counter()
        for name, weight in fields:
            for token in tokenize(_text(obj.properties.get(name))):
                tf[token] += weight
        docs[obj.uuid] = tf
    if not docs:
        return {}
    avg_len = sum(sum(tf.values()) for tf in docs.values()) / len(docs) or 1.0
    terms = list(dict.fromkeys(tokenize(query)))
    all_terms = (operator.OPERATOR_AND, operator.OPERATOR_AND_CROSS)
    required = len(terms) if operator.operator in all_terms else 1
    if operator.operator == operator.OPERATOR_OR and operator.minimum_or_tokens_match:
        required = operator.minimum_or_tokens_match
    df = Counter(t for tf in docs.values() for t in terms if t in tf)
    idf = {t: math.log(1 + (len(docs) - df[t] + 0.5) / (df[t] + 0.5)) for t in terms}
    scores = {}
    for obj in candidates:
        tf = docs[obj.uuid]
        matched = [t for t in terms if t in tf]
        if matched and len(matched) >= required:
            norm = _BM25_K1 * (1 - _BM25_B + _BM25_B * sum(tf.values()) / avg_len)
            scores[obj.uuid] = sum(idf[t] * tf[t] * (_BM25_K1 + 1) / (tf[t] + norm) for t in matched)
    return scores


def _text(value: Any) -> str:
    """The searchable text of a property value (lists are joined)."""
    if isinstance(value, (list, tuple)):
        return " ".join(str(v) for v in value)
    return value if isinstance(value, str) else ""


def _sorted_hits(candidates: list[StoredObject], scores: dict[str, float]) -> list[ScoredObject]:
    """Hits for the scored candidates, best score first (ties keep insertion order)."""
    hits = [ScoredObject(obj, score=scores[obj.uuid]) for obj in candidates if obj.uuid in scores]
    return sorted(hits, key=lambda h: -h.score)


def _hybrid(
    hybrid: base_search_pb2.Hybrid,
    collection: StoredCollection,
    candidates: list[StoredObject],
    embed: Embed,
) -> list[ScoredObject]:
    """Fuse BM25 and vector rankings with weight ``alpha`` on the vector side."""
    if hybrid.use_alpha_param:
        alpha = hybrid.alpha_param if hybrid.HasField("alpha_param") else 0.75
    else:
        alpha = hybrid.alpha
    keyword: dict[str, float] = {}
    if alpha < 1 and hybrid.query:
        operator = hybrid.bm25_search_operator
        keyword = _bm25(collection, candidates, hybrid.query, hybrid.properties, operator)
    vector: dict[str, float] = {}
    if alpha > 0:
        hits = _vector_hits(collection, candidates, _hybrid_queries(hybrid, embed), hybrid)
        hits = _within(_within(hits, hybrid.near_vector), hybrid.near_text)
        if hybrid.HasField("vector_distance"):
            hits = [h for h in hits if h.distance <= hybrid.vector_distance]
        vector = {h.obj.uuid: -h.distance for h in hits}
    fuse = _ranked if hybrid.fusion_type == hybrid.FUSION_TYPE_RANKED else _relative
    fused = {uuid: alpha * s for uuid, s in fuse(vector).items()}
    for uuid, s in fuse(keyword).items():
        fused[uuid] = fused.get(uuid, 0.0) + (1 - alpha) * s
    return _sorted_hits(candidates, fused)


def _hybrid_queries(hybrid: base_search_pb2.Hybrid, embed: Embed) -> dict[str | None, list[float]]:
    """The vector side's query: the given vector, a near_text, or the embedded query."""
    if hybrid.HasField("near_vector"):
        return _near_vector_queries(hybrid.near_vector)
    if hybrid.HasField("near_text"):
        return {None: _mean([list(embed(text)) for text in hybrid.near_text.query])}
    if hybrid.vectors or hybrid.vector_bytes:
        return {None: _single(hybrid.vectors, hybrid.vector_bytes)}
    if hybrid.vector:
        return {None: list(hybrid.vector)}
    return {None: list(embed(hybrid.query))}


def _relative(scores: dict[str, float]) -> dict[str, float]:
    """Min-max normalise scores to [0, 1] (all 1.0 when they are equal)."""
    if not scores:
        return {}
    low, high = min(scores.values()), max(scores.values())
    return {k: (v - low) / (high - low) if high > low else 1.0 for k, v in scores.items()}


def _ranked(scores: dict[str, float]) -> dict[str, float]:
    """Reciprocal-rank scores 1 / (60 + rank), rank 0 for the best."""
    order = sorted(scores, key=lambda k: -scores[k])
    return {k: 1.0 / (_RANKED_K + rank) for rank, k in enumerate(order)}


def _autocut(hits: list[ScoredObject], jumps: int) -> int:
    """How many hits to keep: Weaviate's autocut, cutting after ``jumps`` score jumps."""
    values = [h.distance if h.distance is not None else h.score for h in hits]
    if len(values) <= 1 or None in values or values[0] == values[-1]:
        return len(values)
    step = 1.0 / (len(values) - 1)
    diff = [(v - values[0]) / (values[-1] - values[0]) - i * step for i, v in enumerate(values)]
    found = 0
    for i in range(1, len(diff)):
        last = i == len(diff) - 1
        if last and len(diff) > 2:
            extremum = diff[i] > diff[i - 1] and diff[i] > diff[i - 2]
        else:
            extremum = not last and diff[i] > diff[i - 1] and diff[i] >= diff[i + 1]
        found += extremum
        if extremum and found >= jumps:
            return i
    return len(values)


def _filter_value(f: base_pb2.Filters) -> Any:
    """The filter's comparison value (a list for the array variants)."""
    kind = f.WhichOneof("test_value")
    if kind is None or kind == "value_geo":
        raise SearchError(grpc.StatusCode.UNIMPLEMENTED, f"filter value {kind}")
    value = getattr(f, kind)
    return list(value.values) if kind.endswith("_array") else value


def _property_values(f: base_pb2.Filters, obj: StoredObject) -> list[Any]:
    """The filtered property's values on ``obj`` (a scalar becomes a 1-item list)."""
    if f.HasField("target"):
        if f.target.WhichOneof("target") != "property":
            raise SearchError(grpc.StatusCode.UNIMPLEMENTED, "filters on cross-references")
        name = f.target.property
    else:
        name = f.on[0]
    value = obj.uuid if name == "_id" else obj.properties.get(name)
    values = value if isinstance(value, (list, tuple)) else [value]
    return [v if isinstance(v, (str, int, float, datetime)) else str(v) for v in values if v is not None]


def _contains(values: list[Any], target: Any) -> bool:
    """Weaviate equality: text matches when all of the target's words occur."""
    if isinstance(target, str) and all(isinstance(v, str) for v in values):
        words = {w for v in values for w in tokenize(v)}
        wanted = set(tokenize(target))
        return bool(wanted) and wanted <= words or target in values
    return any(_compare(v, target) == 0 for v in values)


def _compare(value: Any, target: Any) -> int | None:
    """-1/0/1 comparing a property value with a filter value; None when incomparable."""
    if isinstance(value, datetime) and isinstance(target, str):
        target = parse_date(target)
    if isinstance(value, (int, float)) != isinstance(target, (int, float)):
        return None
    try:
        return (value > target) - (value < target)
    except TypeError:
        return None


def _matches(f: base_pb2.Filters, obj: StoredObject) -> bool:
    """Whether ``obj`` passes the filter tree."""
    op = f.operator
    if op == _F.OPERATOR_AND:
        return all(_matches(child, obj) for child in f.filters)
    if op == _F.OPERATOR_OR:
        return any(_matches(child, obj) for child in f.filters)
    if op == _F.OPERATOR_NOT:
        return not all(_matches(child, obj) for child in f.filters)
    values = _property_values(f, obj)
    if op == _F.OPERATOR_IS_NULL:
        return (not values) == f.value_boolean
    target = _filter_value(f)
    if op == _F.OPERATOR_EQUAL:
        return _contains(values, target)
    if op == _F.OPERATOR_NOT_EQUAL:
        return not _contains(values, target)
    if op == _F.OPERATOR_CONTAINS_ANY:
        return any(_contains(values, t) for t in target)
    if op == _F.OPERATOR_CONTAINS_ALL:
        return all(_contains(values, t) for t in target)
    if op == _F.OPERATOR_CONTAINS_NONE:
        return not any(_contains(values, t) for t in target)
    if op == _F.OPERATOR_LIKE:
        pattern = target.lower()
        words = [w for v in values if isinstance(v, str) for w in [v.lower(), *tokenize(v)]]
        return any(fnmatchcase(w, pattern) for w in words)
    accept = {
        _F.OPERATOR_GREATER_THAN: (1,),
        _F.OPERATOR_GREATER_THAN_EQUAL: (0, 1),
        _F.OPERATOR_LESS_THAN: (-1,),
        _F.OPERATOR_LESS_THAN_EQUAL: (-1, 0),
    }.get(op)
    if accept is None:
        raise SearchError(grpc.StatusCode.UNIMPLEMENTED, f"filter operator {_F.Operator.Name(op)}")
    return any(_compare(v, target) in accept for v in values)
