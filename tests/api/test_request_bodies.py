"""Request bodies against a real ``serve`` process: the token is checked before a body is read,
bodies are capped while they stream, 405 names the allowed methods, HEAD works like GET.

The requests that stream large bodies go over a raw socket, so the test controls exactly how
much of the body has been sent when the server answers.
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from noormme_queue.api.route_class import BODY_MARGIN

from ..waiting import wait_for
from .conftest import AUTH, TOKEN

MAX_PAYLOAD = 100_000
CAP = MAX_PAYLOAD + BODY_MARGIN
MIB = 1024 * 1024
ANSWER_WAIT = 20.0  # seconds to wait for an answer that needs no more of the body


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def memory_kib(self, field: str) -> int:
        """``VmRSS`` (now) or ``VmHWM`` (peak so far) of the server process, in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1])
        raise AssertionError(f"no {field} in /proc/{self.process.pid}/status")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = {
        **os.environ,
        "QUEUE_API_TOKEN": TOKEN,
        "QUEUE_DATABASE_URL": f"sqlite:///{tmp_path_factory.mktemp('bodies') / 'q.db'}",
        "QUEUE_MAX_PAYLOAD_BYTES": str(MAX_PAYLOAD),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "noormme_queue", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    running = Server(process, port)
    try:

        def started() -> bool:
            try:
                httpx.get(f"{running.url}/api/queue/health", timeout=1)
            except httpx.TransportError:
                assert process.poll() is None, "serve exited"
                return False
            return True

        wait_for(started, 30, "serve to start", poll=0.05)
        yield running
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0


def _head(port: int, *, token: str | None, length: int | None) -> bytes:
    lines = [
        "POST /api/queue/jobs HTTP/1.1",
        f"Host: 127.0.0.1:{port}",
        "Content-Type: application/json",
        f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked",
    ]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def _answer(sock: socket.socket, timeout: float = ANSWER_WAIT) -> tuple[int, dict[str, str], bytes]:
    """Read one HTTP answer (status, headers, body); fail if none comes within ``timeout``."""
    deadline = time.monotonic() + timeout
    data = b""
    while b"\r\n\r\n" not in data or len(data) < _answer_size(data):
        left = deadline - time.monotonic()
        assert left > 0, f"no answer within {timeout}s (the server waits for the body?)"
        readable, _, _ = select.select([sock], [], [], left)
        if readable:
            chunk = sock.recv(65536)
            assert chunk, f"connection closed before a whole answer: {data!r}"
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    status_line, *header_lines = head.decode("latin-1").split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in header_lines)}
    return int(status_line.split()[1]), headers, body[: int(headers["content-length"])]


def _answer_size(data: bytes) -> int:
    head, _, _ = data.partition(b"\r\n\r\n")
    for line in head.decode("latin-1").split("\r\n")[1:]:
        name, _, value = line.partition(":")
        if name.lower() == "content-length":
            return len(head) + 4 + int(value)
    raise AssertionError(f"an answer without Content-Length: {head!r}")


def _send_all_you_can(sock: socket.socket, total: int) -> int:
    """Send up to ``total`` more body bytes; stop early if the server closes. Bytes sent."""
    chunk = b"x" * MIB
    sent = 0
    try:
        while sent < total:
            sock.sendall(chunk[: min(MIB, total - sent)])
            sent += min(MIB, total - sent)
    except (BrokenPipeError, ConnectionResetError):
        pass
    return sent


def test_an_unauthenticated_100_mb_body_is_answered_401_without_being_read(
    server: Server,
) -> None:
    total = 100 * MIB
    body_start = b'{"type": "ok", "payload": "'
    # warm up: the same path with a small body, so lazy imports are not counted
    for _ in range(3):
        assert (
            httpx.post(f"{server.url}/api/queue/jobs", json={"type": "report"}).status_code == 401
        )
    before = server.memory_kib("VmRSS")
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(server.port, token=None, length=total) + body_start)
        _send_all_you_can(sock, MIB)
        # 99 MB of the body are still to come: the answer must not need them
        status, headers, body = _answer(sock)
        assert status == 401 and headers["www-authenticate"] == "Bearer"
        assert json.loads(body)["error"] == "unauthorized"
        # The client goes on sending the rest; the server must not keep it either.
        _send_all_you_can(sock, total - len(body_start) - MIB)
    # the server's own answer that it is alive also tells that it dealt with the connection
    assert httpx.get(f"{server.url}/api/queue/health").status_code == 200
    growth_mib = (server.memory_kib("VmHWM") - before) / 1024
    assert growth_mib < 20, f"serve grew by {growth_mib:.1f} MiB for a 100 MiB body"


def test_an_announced_body_over_the_cap_is_413_before_it_is_sent(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(server.port, token=TOKEN, length=100 * MIB))
        status, _, body = _answer(sock)  # not one byte of the body was sent
    assert status == 413
    answer = json.loads(body)
    assert answer["error"] == "too_large" and answer["field"] == "body"
    assert str(CAP) in answer["message"] and "QUEUE_MAX_PAYLOAD_BYTES" in answer["message"]


def test_a_streamed_body_is_413_as_soon_as_it_passes_the_cap(server: Server) -> None:
    with socket.create_connection(("127.0.0.1", server.port)) as sock:
        sock.sendall(_head(server.port, token=TOKEN, length=None))
        piece = b"x" * 16384
        for _ in range(CAP // len(piece) + 2):  # just past the cap, and the body never ends
            sock.sendall(f"{len(piece):x}\r\n".encode() + piece + b"\r\n")
        status, _, body = _answer(sock)
    assert status == 413 and json.loads(body)["error"] == "too_large"


def test_a_body_within_the_cap_is_accepted(server: Server) -> None:
    # Its payload is just under QUEUE_MAX_PAYLOAD_BYTES; pretty-printed, the body is over it.
    payload = {"blob": "x" * (MAX_PAYLOAD - 100)}
    body = json.dumps({"type": "report", "payload": payload, "options": {"delay": 3600}}, indent=8)
    response = httpx.post(
        f"{server.url}/api/queue/jobs",
        content=body + " " * 1000,
        headers={**AUTH, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    too_big = {"type": "report", "payload": {"blob": "x" * (MAX_PAYLOAD + 10)}}
    refused = httpx.post(f"{server.url}/api/queue/jobs", json=too_big, headers=AUTH)
    assert refused.status_code == 422 and refused.json()["field"] == "payload"


def test_head_works_where_get_does(server: Server) -> None:
    for path in ("/api/queue/stats", "/api/queue/health", "/api/queue/jobs", "/queue"):
        get = httpx.get(f"{server.url}{path}", headers=AUTH)
        head = httpx.head(f"{server.url}{path}", headers=AUTH)
        assert get.status_code == head.status_code == 200, (path, head)
        assert head.content == b""
        assert head.headers["content-type"] == get.headers["content-type"]
    assert httpx.head(f"{server.url}/api/queue/stats").status_code == 401


def test_405_names_the_allowed_methods(server: Server) -> None:
    expected = {
        ("PUT", "/api/queue/jobs"): "GET, HEAD, POST",
        ("POST", "/api/queue/jobs/job_x"): "DELETE, GET, HEAD",
        ("GET", "/api/queue/cleanup"): "POST",
        ("GET", "/api/queue/queues/emails/pause"): "POST",
        ("POST", "/api/queue/queues"): "GET, HEAD",
        ("POST", "/api/queue/health"): "GET, HEAD",
        ("DELETE", "/queue"): "GET, HEAD",
    }
    for (method, path), allow in expected.items():
        response = httpx.request(method, f"{server.url}{path}", headers=AUTH)
        assert response.status_code == 405, (method, path)
        assert response.headers["allow"] == allow, (method, path)
        assert response.json()["error"] == "method_not_allowed"
