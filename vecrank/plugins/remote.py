"""Built-in plugin: score through a reranking service when the model name is its URL.

``model = "http://rerank.internal:8080"`` with a ``[remote]`` table naming the ``protocol``:

- ``vecrank``: a ``vecrank serve`` fleet, ``POST /rerank`` with raw logits (scores equal a local engine's);
- ``tei``: Hugging Face text-embeddings-inference, ``POST /rerank``;
- ``cohere``: Cohere v2, ``POST /v2/rerank`` (``relevance_score``);
- ``jina``: Jina AI, ``POST /v1/rerank`` (``relevance_score``).

A URL that already ends in ``/rerank`` is used as it is. One pooled httpx client per endpoint (and per
event loop for the async twin); bounded retries with backoff on 429, 503 and refused connections,
honouring ``Retry-After``; requests split to the service's document limit. Every failure is a
:class:`RerankError` naming the endpoint, so ``on_error = "passthrough"`` keeps the database order.
This module never imports torch: an application server needs only httpx (``pip install vecrank[remote]``).
"""

from __future__ import annotations

import asyncio
import email.utils
import itertools
import os
import threading
import time
import weakref
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from ..config import CollectionConfig, RemoteConfig
from ..errors import ConfigError, RerankError
from ..hookspecs import hookimpl
from ..models import is_remote_model

PATHS = {"vecrank": "/rerank", "tei": "/rerank", "cohere": "/v2/rerank", "jina": "/v1/rerank"}
API_KEY_ENVS = {
    "vecrank": "VECRANK_API_KEY",
    "tei": "TEI_API_KEY",
    "cohere": "CO_API_KEY",
    "jina": "JINA_API_KEY",
}
# Documents per request: vecrank serve's and Cohere's documented limits, TEI's default client batch.
MAX_DOCUMENTS = {"vecrank": 10_000, "tei": 32, "cohere": 1_000, "jina": 1_000}
RETRY_STATUS = frozenset({429, 503})

_sync_clients: dict[str, Any] = {}
_async_clients: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, Any]] = (
    weakref.WeakKeyDictionary()
)
_clients_lock = threading.Lock()


def _httpx() -> Any:
    try:
        import httpx
    except ImportError as error:
        raise RerankError("remote rerankers need httpx: pip install 'vecrank[remote]'") from error
    return httpx


def sync_client(url: str) -> Any:
    """The process-wide pooled ``httpx.Client`` of ``url``."""
    with _clients_lock:
        if url not in _sync_clients:
            _sync_clients[url] = _httpx().Client()
        return _sync_clients[url]


def async_client(url: str) -> Any:
    """The pooled ``httpx.AsyncClient`` of ``url`` on the running event loop."""
    loop = asyncio.get_running_loop()
    with _clients_lock:
        clients = _async_clients.setdefault(loop, {})
        if url not in clients:
            clients[url] = _httpx().AsyncClient()
        return clients[url]


def close_clients() -> None:
    """Close the pooled sync clients (the next call opens new ones)."""
    with _clients_lock:
        clients = list(_sync_clients.values())
        _sync_clients.clear()
    for client in clients:
        client.close()


@dataclass(frozen=True)
class Retry:
    """Wait ``seconds``, then send the request again."""

    seconds: float


class RemoteScorer:
    """Scores pairs through the service at ``config.model``; ``predict`` and ``apredict`` are twins."""

    def __init__(self, config: CollectionConfig) -> None:
        remote: RemoteConfig = config.remote
        if config.instruction is not None and remote.protocol != "vecrank":
            raise ConfigError(
                f"remote reranker {config.model} ({remote.protocol}) takes no instruction: only the "
                "vecrank protocol sends one (to a vecrank serve fleet); remove `instruction`"
            )
        self.remote = remote
        self.instruction = config.instruction
        base = config.model.rstrip("/")
        self.url = base if base.endswith("/rerank") else base + PATHS[remote.protocol]
        self.max_documents = remote.max_documents or MAX_DOCUMENTS[remote.protocol]

    @property
    def headers(self) -> dict[str, str]:
        """The ``Authorization`` header from the API key's environment variable, read on each call."""
        key = os.environ.get(self.remote.api_key_env or API_KEY_ENVS[self.remote.protocol])
        return {"Authorization": f"Bearer {key}"} if key else {}

    def predict(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        scores: list[float] = []
        for query, texts in self._chunks(pairs):
            scores += self._parse(self._post(self._body(query, texts)), len(texts))
        return scores

    async def apredict(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        chunks = self._chunks(pairs)
        bodies = await asyncio.gather(*(self._apost(self._body(query, texts)) for query, texts in chunks))
        return [score for body, (_, texts) in zip(bodies, chunks) for score in self._parse(body, len(texts))]

    def _chunks(self, pairs: Sequence[tuple[str, str]]) -> list[tuple[str, list[str]]]:
        """Runs of pairs with the same query, each cut to at most ``max_documents`` texts."""
        chunks: list[tuple[str, list[str]]] = []
        for query, text in pairs:
            if not chunks or chunks[-1][0] != query or len(chunks[-1][1]) >= self.max_documents:
                chunks.append((query, []))
            chunks[-1][1].append(text)
        return chunks

    def _body(self, query: str, texts: list[str]) -> dict[str, Any]:
        protocol, model = self.remote.protocol, self.remote.model
        if protocol in ("vecrank", "tei"):
            body: dict[str, Any] = {"query": query, "texts": texts, "raw_scores": protocol == "vecrank"}
            body["truncate"] = True
            if self.instruction is not None:
                body["instruction"] = self.instruction
        else:
            body = {"query": query, "documents": texts, "top_n": len(texts)}
            if protocol == "jina":
                body["return_documents"] = False
        if model is not None:
            body["model"] = model
        return body

    def _parse(self, body: Any, count: int) -> list[float]:
        """Scores in document order from a TEI list or a Cohere/Jina ``results`` object."""
        items = body if self.remote.protocol in ("vecrank", "tei") else _get(body, "results")
        key = "score" if self.remote.protocol in ("vecrank", "tei") else "relevance_score"
        if not isinstance(items, list):
            raise self._error(f"answered {type(items).__name__} where a list of scores was expected")
        scores: dict[int, float] = {}
        for item in items:
            index, score = _get(item, "index"), _get(item, key)
            if not isinstance(index, int) or not 0 <= index < count or not isinstance(score, (int, float)):
                raise self._error(f"answered a malformed result {item!r} for {count} documents")
            scores[index] = float(score)
        if len(scores) != count:
            raise self._error(f"answered {len(scores)} scores for {count} documents")
        return [scores[index] for index in range(count)]

    def _post(self, body: dict[str, Any]) -> Any:
        client = sync_client(self.url)
        for attempt in itertools.count():
            try:
                response, error = client.post(self.url, json=body, **self._options), None
            except Exception as failure:
                response, error = None, failure
            step = self._after(attempt, response, error)
            if not isinstance(step, Retry):
                return step
            time.sleep(step.seconds)

    async def _apost(self, body: dict[str, Any]) -> Any:
        client = async_client(self.url)
        for attempt in itertools.count():
            try:
                response, error = await client.post(self.url, json=body, **self._options), None
            except Exception as failure:
                response, error = None, failure
            step = self._after(attempt, response, error)
            if not isinstance(step, Retry):
                return step
            await asyncio.sleep(step.seconds)

    @property
    def _options(self) -> dict[str, Any]:
        """The keywords of every POST: the API key's header and the timeout."""
        return {"headers": self.headers, "timeout": self.remote.timeout}

    def _after(self, attempt: int, response: Any, error: BaseException | None) -> Any:
        """What an attempt leads to, with no I/O: the answer's JSON, a :class:`Retry`, or a RerankError."""
        delay = self._retry_delay(attempt, response=response, error=error)
        if delay is not None:
            return Retry(delay)
        if error is not None:
            raise self._failure(error) from error
        return self._json(response)

    def _retry_delay(
        self, attempt: int, response: Any = None, error: BaseException | None = None
    ) -> float | None:
        """Seconds to wait before retrying, or None to stop (answer or give up)."""
        httpx = _httpx()
        if error is not None and not isinstance(error, httpx.ConnectError):
            return None
        if response is not None and response.status_code not in RETRY_STATUS:
            return None
        if attempt >= self.remote.retries:
            return None
        delay = self.remote.backoff * 2**attempt
        if response is not None:
            asked = _retry_after(response.headers.get("Retry-After"))
            if asked is not None:
                if asked > self.remote.max_retry_wait:
                    return None
                delay = asked
        return min(delay, self.remote.max_retry_wait)

    def _json(self, response: Any) -> Any:
        if response.status_code != 200:
            detail = response.text[:300].strip()
            retried = f" after {self.remote.retries} retries" if response.status_code in RETRY_STATUS else ""
            raise self._error(f"answered HTTP {response.status_code}{retried}: {detail}")
        try:
            return response.json()
        except ValueError:
            raise self._error(f"answered something that is not JSON: {response.text[:200]!r}") from None

    def _failure(self, error: BaseException) -> RerankError:
        httpx = _httpx()
        if isinstance(error, httpx.TimeoutException):
            return self._error(f"did not answer within {self.remote.timeout} s ({type(error).__name__})")
        if isinstance(error, httpx.ConnectError):
            return self._error(f"cannot be reached after {self.remote.retries} retries: {error}")
        return self._error(f"request failed: {type(error).__name__}: {error}")

    def _error(self, message: str) -> RerankError:
        return RerankError(f"remote reranker {self.url} ({self.remote.protocol}) {message}")


def _get(body: Any, key: str) -> Any:
    return body.get(key) if isinstance(body, dict) else None


def _retry_after(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header: a number of seconds or an HTTP date."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - datetime.now(timezone.utc)).total_seconds())


_scorers: dict[CollectionConfig, RemoteScorer] = {}


def get_remote_scorer(config: CollectionConfig) -> RemoteScorer:
    """The scorer of ``config`` (built once per distinct config)."""
    with _clients_lock:
        if config not in _scorers:
            _scorers[config] = RemoteScorer(config)
        return _scorers[config]


@hookimpl(tryfirst=True)
def vecrank_rerank(collection, pairs, config):
    if is_remote_model(config.model):
        return get_remote_scorer(config).predict(pairs)
    return None


@hookimpl(tryfirst=True)
def vecrank_arerank(collection, pairs, config):
    if is_remote_model(config.model):
        return get_remote_scorer(config).apredict(pairs)
    return None
