"""Run the app with uvicorn: in the foreground (``serve``) or on a background thread (``running_server``)."""

from __future__ import annotations

import errno
import socket
import threading
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import uvicorn
from fastapi import FastAPI

from ..core.reranker import CrossEncoderReranker
from ..errors import VecrankError
from .app import create_app
from .logs import configure_logging
from .protocol import GuardedH11Protocol
from .settings import ServerSettings


def _server(app: FastAPI, settings: ServerSettings) -> uvicorn.Server:
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=settings.shutdown_timeout,
        http=GuardedH11Protocol.with_limits(
            settings.header_timeout, settings.body_timeout, settings.max_connections
        ),
        timeout_keep_alive=settings.keep_alive_timeout,
        h11_max_incomplete_event_size=settings.max_header_bytes,
    )
    return uvicorn.Server(config)


def bind(host: str, port: int) -> socket.socket:
    """A listening socket on ``host:port``; a taken port is a plain error, raised before any model loads."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)
    except OSError as error:
        sock.close()
        reason = (
            "the port is taken by another process; stop it or choose another with --port"
            if error.errno == errno.EADDRINUSE
            else error.strerror or str(error)
        )
        raise VecrankError(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def serve(settings: ServerSettings) -> None:
    """Bind the port, load the models, then serve until SIGINT or SIGTERM (requests in flight finish)."""
    sock = bind(settings.host, settings.port)
    with sock:
        configure_logging(settings.log_level)
        _server(create_app(settings), settings).run(sockets=[sock])


@contextmanager
def running_server(
    settings: ServerSettings,
    rerankers: Mapping[str, CrossEncoderReranker] | None = None,
    *,
    start_timeout: float = 60.0,
) -> Iterator[str]:
    """Serve on a background thread (``port=0`` picks a free port); yields the base URL.

    On exit the server shuts down gracefully: requests in flight are finished first.
    """
    server = _server(create_app(settings, rerankers), settings)
    thread = threading.Thread(target=server.run, name="vecrank-server", daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    while not server.started:
        if not thread.is_alive() or time.monotonic() > deadline:
            server.should_exit = True
            raise RuntimeError("the vecrank server did not start; see its log")
        time.sleep(0.01)
    host, port = server.servers[0].sockets[0].getsockname()[:2]
    try:
        yield f"http://{f'[{host}]' if ':' in host else host}:{port}"
    finally:
        server.should_exit = True
        thread.join(settings.shutdown_timeout + 5)
