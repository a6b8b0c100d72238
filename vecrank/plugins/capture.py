"""Built-in plugin: record reranked searches to a JSONL file (``[capture]``), for ``vecrank distill``.

One line per search::

    {"v": 1, "time": "2025-01-01T12:00:00.000+00:00", "source": "qdrant", "collection": "docs",
     "model": "ettin-17m", "query": "...", "candidates": [{"id": "7", "text": "...",
     "retriever_score": 0.81, "rerank_score": 3.2}, ...]}

A search never waits on the disk: it puts its record on a bounded queue (a full queue drops it, and
counts it) and a writer thread, one per file, applies the ``vecrank_capture_redact`` hooks, appends the
line and rotates the file at ``max_bytes``. A write that fails (a full disk, any ``OSError``) logs one
warning, and that file's capture stays paused until :func:`close_capture` or the process ends; it is
not retried. :func:`flush_capture` waits until every queued record is written; an ``atexit`` handler
closes the writers.
"""

from __future__ import annotations

import atexit
import contextlib
import io
import json
import logging
import os
import queue
import random
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..candidate import Candidate
from ..config import CaptureConfig
from ..errors import PluginError
from ..hookspecs import hookimpl
from .hooks import call_impl
from .manager import get_plugin_manager

__all__ = ["CaptureStats", "capture_record", "capture_stats", "close_capture", "flush_capture"]

FORMAT_VERSION = 1

logger = logging.getLogger("vecrank.capture")
_sampler = random.Random()


@hookimpl
def vecrank_reranked(source, collection, query, model, candidates, config, capture):
    if not capture.enabled or not candidates or (config is not None and not config.capture):
        return
    if capture.sample_rate < 1.0 and _sampler.random() >= capture.sample_rate:
        return
    writer = _writer(capture)
    if writer.paused:
        writer.count("paused")
        return
    writer.submit(capture_record(source, collection, query, model, candidates, capture.keep_texts))


def capture_record(
    source: str,
    collection: str | None,
    query: str,
    model: str,
    candidates: Iterable[Candidate],
    keep_texts: bool,
) -> dict[str, Any]:
    """One search as its JSONL record: the candidates in the order given (the retriever's), ids as strings."""
    return {
        "v": FORMAT_VERSION,
        "time": datetime.now(timezone.utc).isoformat(timespec="milliseconds"),
        "source": source,
        "collection": collection,
        "model": model,
        "query": query,
        "candidates": [_candidate(candidate, keep_texts) for candidate in candidates],
    }


def _candidate(candidate: Candidate, keep_texts: bool) -> dict[str, Any]:
    """A hit's entry: its id (its position where it has none), and its text where kept and scored."""
    entry: dict[str, Any] = {"id": str(candidate.position if candidate.id is None else candidate.id)}
    if keep_texts and candidate.text is not None:
        entry["text"] = candidate.text
    entry["retriever_score"] = _number(candidate.vector_score)
    entry["rerank_score"] = _number(candidate.raw_score)
    return entry


def _number(value: Any) -> float | None:
    return None if value is None else float(value)


@dataclass
class CaptureStats:
    """What happened to the records of one file."""

    written: int = 0
    queue_full: int = 0  # dropped: the queue was full
    paused: int = 0  # dropped: capture paused after a write error
    redacted: int = 0  # dropped by a vecrank_capture_redact hook
    failed: int = 0  # dropped: a redact hook raised, or the record was not JSON


_STOP = object()


class CaptureWriter:
    """One file's bounded queue and the thread that appends its records, rotating at ``max_bytes``."""

    def __init__(self, path: Path, settings: CaptureConfig) -> None:
        self.path = path
        self.max_bytes = settings.max_bytes
        self.backups = settings.backups
        self.stats = CaptureStats()
        self.paused = False
        self._queue: queue.Queue[Any] = queue.Queue(settings.queue_size)
        self._counts = threading.Lock()
        self._warned: set[str] = set()
        self._file: io.FileIO | None = None  # unbuffered: nothing is held back to fail later
        self._size = 0  # bytes of whole lines in the file
        self._thread = threading.Thread(target=self._run, name=f"vecrank-capture {path.name}", daemon=True)
        self._thread.start()

    def submit(self, record: dict[str, Any]) -> None:
        """Queue ``record`` without waiting; a full queue drops it (counted, one warning)."""
        try:
            self._queue.put_nowait(record)
        except queue.Full:
            self.count("queue_full")
            self._warn_once(
                "queue_full",
                "capture to %s: the queue (queue_size %d) is full, records are dropped until the writer "
                "catches up",
                self.path,
                self._queue.maxsize,
            )

    def flush(self, timeout: float | None) -> bool:
        """Wait until every queued record is handled and on disk; False if ``timeout`` passed first."""
        done = self._queue.all_tasks_done
        with done:
            return done.wait_for(lambda: not self._queue.unfinished_tasks, timeout)

    def close(self, timeout: float | None) -> None:
        """Write what is queued, then stop the thread and close the file."""
        try:
            self._queue.put(_STOP, timeout=timeout)
        except queue.Full:
            return
        self._thread.join(timeout)

    def count(self, name: str, number: int = 1) -> None:
        """Add ``number`` to the ``name`` field of :attr:`stats`."""
        with self._counts:
            setattr(self.stats, name, getattr(self.stats, name) + number)

    def _warn_once(self, kind: str, message: str, *args: Any) -> None:
        if kind not in self._warned:
            self._warned.add(kind)
            logger.warning(message, *args)

    def _run(self) -> None:
        while True:
            batch = [self._queue.get()]
            while len(batch) < self._queue.maxsize:
                try:
                    batch.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            stop = any(record is _STOP for record in batch)
            records = [record for record in batch if record is not _STOP]
            try:
                self._write([line for line in map(self._line, records) if line is not None])
            finally:
                for _ in batch:
                    self._queue.task_done()
            if stop:
                self._close_file()
                return

    def _line(self, record: dict[str, Any]) -> bytes | None:
        """The record redacted and encoded, or None where it is dropped (counted)."""
        try:
            redacted = redact(record)
            if redacted is None:
                self.count("redacted")
                return None
            return (json.dumps(redacted, ensure_ascii=False, allow_nan=False) + "\n").encode()
        except Exception as error:
            self.count("failed")
            self._warn_once("failed", "capture to %s: a record was dropped: %s", self.path, error)
            return None

    def _write(self, lines: list[bytes]) -> None:
        if self.paused:
            self.count("paused", len(lines))
            return
        written = 0
        try:
            for line in lines:
                file = self._file or self._open()
                if self._size > 0 and self._size + len(line) > self.max_bytes:
                    self._rotate()
                    file = self._open()
                rest = memoryview(line)
                while rest:  # unbuffered: a short write (the disk filling up) leaves the rest to write
                    rest = rest[file.write(rest) :]
                self._size += len(line)
                written += 1
        except OSError as error:
            self._pause(error)
            self.count("paused", len(lines) - written)
        self.count("written", written)

    def _open(self) -> io.FileIO:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = io.FileIO(self.path, "ab")
        self._size = os.fstat(self._file.fileno()).st_size
        return self._file

    def _rotate(self) -> None:
        """path -> path.1 -> ... -> path.<backups> (the oldest dropped)."""
        self._close_file()
        if self.backups:
            for number in range(self.backups - 1, 0, -1):
                older = self._backup(number)
                if older.exists():
                    os.replace(older, self._backup(number + 1))
            os.replace(self.path, self._backup(1))
        else:
            self.path.unlink()

    def _backup(self, number: int) -> Path:
        return self.path.with_name(f"{self.path.name}.{number}")

    def _pause(self, error: OSError) -> None:
        """Stop writing this file: one warning; a partly written line is cut off where the disk allows."""
        self.paused = True
        logger.warning(
            "capture to %s paused: %s; no more searches are recorded to it until the process restarts",
            self.path,
            error,
        )
        if self._file is not None:
            with contextlib.suppress(OSError):  # /dev/full and some devices cannot be truncated
                os.ftruncate(self._file.fileno(), self._size)
        self._close_file()

    def _close_file(self) -> None:
        if self._file is None:
            return
        self._file.close()
        self._file = None


def redact(record: dict[str, Any]) -> dict[str, Any] | None:
    """``record`` through every ``vecrank_capture_redact`` hook in turn; None once one drops it."""
    for impl in reversed(get_plugin_manager().hook.vecrank_capture_redact.get_hookimpls()):
        record = call_impl(impl, record=record)
        if record is None:
            return None
        if not isinstance(record, dict):
            raise PluginError(
                f"plugin {impl.plugin_name!r}: vecrank_capture_redact must return a dict or None, "
                f"got {type(record).__name__}",
                plugin=impl.plugin_name,
            )
    return record


_writers: dict[Path, CaptureWriter] = {}
_writers_lock = threading.Lock()


def _writer(settings: CaptureConfig) -> CaptureWriter:
    """The writer of ``settings.path``, started on its first record (the first settings set its rotation)."""
    assert settings.path is not None  # CaptureConfig requires it when enabled
    path = Path(settings.path).absolute()
    with _writers_lock:
        writer = _writers.get(path)
        if writer is None:
            if not _writers:
                atexit.register(close_capture)
            writer = _writers[path] = CaptureWriter(path, settings)
        return writer


def flush_capture(timeout: float | None = 10.0) -> bool:
    """Wait until every captured search so far is written (or dropped); False if ``timeout`` passed first."""
    with _writers_lock:
        writers = list(_writers.values())
    return all([writer.flush(timeout) for writer in writers])


def close_capture(timeout: float | None = 10.0) -> None:
    """Write what is queued and stop every writer; the next captured search starts afresh (unpaused)."""
    with _writers_lock:
        writers = list(_writers.values())
        _writers.clear()
        atexit.unregister(close_capture)
    for writer in writers:
        writer.close(timeout)


def capture_stats() -> dict[str, CaptureStats]:
    """What happened to the records of each file being written, by path."""
    with _writers_lock:
        return {str(path): writer.stats for path, writer in _writers.items()}
