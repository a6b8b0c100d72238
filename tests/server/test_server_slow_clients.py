"""Slow and abusive clients: half-sent headers and trickled bodies are closed after their timeout while
others are served; connections past the cap are refused at once; bodies past the byte budget get 429."""

from __future__ import annotations

import json
import select
import socket
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from server_helpers import AUTH, DOCUMENTS, QUERIES, small_settings, wait_until

from vecrank.server import running_server

HEADER_TIMEOUT = 0.5
BODY_TIMEOUT = 1.0
# Bounds of the loops below: far above the timeouts, so only a server that never closes fails them.
GIVE_UP_S = 15.0


@pytest.fixture(scope="module")
def url(model_path: str) -> Iterator[str]:
    settings = small_settings(model_path, header_timeout=HEADER_TIMEOUT, body_timeout=BODY_TIMEOUT)
    with running_server(settings) as url:
        yield url


def connect(url: str) -> socket.socket:
    address = urlsplit(url)
    return socket.create_connection((address.hostname, address.port), timeout=GIVE_UP_S)


def served(url: str) -> bool:
    body = {"query": QUERIES[0], "texts": DOCUMENTS[:3]}
    return httpx.post(url + "/rerank", json=body, headers=AUTH, timeout=GIVE_UP_S).status_code == 200


def closed_by_server(connection: socket.socket) -> bool:
    """Whether the server has closed ``connection`` (waits up to GIVE_UP_S for it)."""
    try:
        while chunk := connection.recv(4096):
            assert b"HTTP/1.1 2" not in chunk  # no request was completed on this connection
        return True
    except ConnectionResetError:
        return True
    except TimeoutError:
        return False


def test_half_sent_headers_are_closed_after_the_timeout_while_others_are_served(url: str) -> None:
    started = time.monotonic()  # before connecting: the server's clock starts when it accepts
    slow = [connect(url) for _ in range(5)]
    for connection in slow:
        connection.sendall(b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: appl")
    assert served(url)  # a whole request meanwhile is answered at once
    assert all(closed_by_server(connection) for connection in slow)
    assert time.monotonic() - started >= HEADER_TIMEOUT
    for connection in slow:
        connection.close()
    silent = connect(url)  # a connection that sends nothing at all is closed too
    assert closed_by_server(silent)
    silent.close()


def test_trickled_body_is_closed_after_the_timeout_while_others_are_served(url: str) -> None:
    body = json.dumps({"query": "q", "texts": ["a"] * 50}).encode()
    connection = connect(url)
    connection.sendall(
        b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        + f"Authorization: {AUTH['Authorization']}\r\nContent-Length: {len(body)}\r\n\r\n".encode()
    )
    started = time.monotonic()
    closed = False
    for byte in body[:-1]:  # one byte every 50 ms: the whole body would take seconds longer than allowed
        try:
            connection.sendall(bytes([byte]))
        except (BrokenPipeError, ConnectionResetError):
            closed = True
            break
        if select.select([connection], [], [], 0.05)[0]:
            closed = closed_by_server(connection)
            break
        if time.monotonic() - started > GIVE_UP_S:
            break
    seconds = time.monotonic() - started
    connection.close()
    assert closed and BODY_TIMEOUT <= seconds < GIVE_UP_S
    assert served(url)


def test_connections_past_the_cap_are_refused_at_once(model_path: str) -> None:
    settings = small_settings(model_path, max_connections=4, header_timeout=30)
    with running_server(settings) as url:
        idle = [connect(url) for _ in range(4)]
        refused = connect(url)
        answer = b""
        while chunk := refused.recv(4096):
            answer += chunk
        assert answer.startswith(b"HTTP/1.1 503") and b"too many open connections" in answer
        refused.close()
        idle.pop().close()
        wait_until(lambda: served(url), timeout=GIVE_UP_S)  # a freed place is taken again
        for connection in idle:
            connection.close()


def test_bodies_past_the_byte_budget_get_429_while_smaller_ones_are_served(model_path: str) -> None:
    settings = small_settings(model_path, max_request_bytes=200_000, max_body_bytes_in_flight=250_000)
    body = json.dumps({"query": "q", "texts": ["word " * 20] * 1000}).encode()
    assert 60_000 < len(body) < 200_000
    with running_server(settings) as url:
        large = connect(url)
        large.sendall(  # announces a large body, then waits: its bytes are reserved in the budget
            b"POST /rerank HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            + f"Authorization: {AUTH['Authorization']}\r\nContent-Length: 200000\r\n\r\n".encode()
        )

        def post() -> httpx.Response:
            headers = {**AUTH, "Content-Type": "application/json"}
            return httpx.post(url + "/rerank", content=body, headers=headers, timeout=GIVE_UP_S)

        wait_until(lambda: post().status_code == 429, timeout=GIVE_UP_S)
        refused = post()
        assert refused.status_code == 429 and refused.headers["retry-after"] == "1"
        assert "max_body_bytes_in_flight" in refused.json()["error"]
        assert served(url)  # a small body fits beside the large one
        large.close()
        wait_until(lambda: post().status_code == 200, timeout=GIVE_UP_S)  # the budget is given back
