"""What a documentation block may ask for in ``<!-- run: ... -->``: each setup is a context
manager around one program's run. It may set environment variables, write input files, add
a prelude or postlude (Python run in the block's process, before or after it), swap a
documented host for a local server, and check afterwards what the page promises.

Services run in the test process and listen on 127.0.0.1 only.
"""

from __future__ import annotations

import json
import socket
import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests import pg

# Hosts the pages use in examples; the `http` setup points them at its local server.
EXAMPLE_HOSTS = ("https://api.example.com", "https://payments.example")


@dataclass
class HttpRequest:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


class HttpServer:
    """Answers every request 200 with a small JSON body, and records it."""

    def __init__(self) -> None:
        self.requests: list[HttpRequest] = []
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                owner.requests.append(
                    HttpRequest(
                        self.command,
                        self.path,
                        {k.lower(): v for k, v in self.headers.items()},
                        self.rfile.read(length),
                    )
                )
                body = json.dumps({"id": f"id-{len(owner.requests)}", "path": self.path})
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(body.encode())

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(
            target=self.httpd.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )


@dataclass
class SmtpRecorder:
    messages: list[bytes] = field(default_factory=list)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        assert isinstance(envelope.content, bytes)
        self.messages.append(envelope.content)
        return "250 Message accepted"


@dataclass
class Run:
    """One program's run: what the setups add to it."""

    workdir: Path
    env: dict[str, str]
    prelude: list[tuple[str, str]] = field(default_factory=list)  # (name, source)
    postlude: list[tuple[str, str]] = field(default_factory=list)
    replace: dict[str, str] = field(default_factory=dict)
    unhandled: set[str] = field(default_factory=set)  # job types allowed to wait
    http: HttpServer | None = None


SetupFactory = Callable[[Run, str], AbstractContextManager[None]]
SETUPS: dict[str, SetupFactory] = {}


def setup(name: str) -> Callable[[Callable[[Run, str], Iterator[None]]], SetupFactory]:
    def register(fn: Callable[[Run, str], Iterator[None]]) -> SetupFactory:
        factory = contextmanager(fn)
        SETUPS[name] = factory
        return factory

    return register


def count(arg: str, name: str) -> int:
    if not arg.isdigit():
        raise AssertionError(f"setup {name} needs the expected count: {name}=N")
    return int(arg)


MANAGER = """\
from noormme_queue import QueueConfig as _QueueConfig, QueueManager as _QueueManager
qm = _QueueManager(_QueueConfig.from_env())
"""


@setup("qm")
def started_manager(run: Run, arg: str) -> Iterator[None]:
    """``qm``: a started manager configured from the environment, as in the README's quick
    start. Afterwards it runs every due job it has a handler for, then stops."""
    run.prelude.append(("qm", MANAGER + "await qm.start()\n"))
    drain = "from tests.docs.support import drain as _drain\nawait _drain(qm)\n"
    run.postlude.append(("qm", drain + "await qm.stop()\n"))
    yield


@setup("manager")
def manager(run: Run, arg: str) -> Iterator[None]:
    """``qm``: a manager configured from the environment, not started (the block starts it,
    or an app's lifespan does)."""
    run.prelude.append(("manager", MANAGER))
    run.postlude.append(("manager", "await qm.stop()\n"))
    yield


@setup("unhandled")
def unhandled(run: Run, arg: str) -> Iterator[None]:
    """``unhandled=a,b``: jobs of these types may stay pending (no handler in the example)."""
    run.unhandled.update(filter(None, arg.split(",")))
    yield


@setup("http")
def http(run: Run, arg: str) -> Iterator[None]:
    """A real HTTP server on 127.0.0.1 standing in for the pages' example hosts (private
    addresses allowed); the block must reach it."""
    server = HttpServer()
    server.thread.start()
    run.http = server
    run.replace.update(dict.fromkeys(EXAMPLE_HOSTS, server.url))
    run.env["QUEUE_WEBHOOK_ALLOW_PRIVATE"] = "true"
    try:
        yield
        assert server.requests, "the block never reached the HTTP server"
    finally:
        server.httpd.shutdown()
        server.httpd.server_close()


@setup("image")
def image(run: Run, arg: str) -> Iterator[None]:
    """A real JPEG at uploads/cat.jpg."""
    from PIL import Image

    (run.workdir / "uploads").mkdir(parents=True, exist_ok=True)
    Image.new("RGB", (640, 480), "orange").save(run.workdir / "uploads" / "cat.jpg")
    yield


@setup("outbox")
def outbox(run: Run, arg: str) -> Iterator[None]:
    """``outbox=N``: the default file transport wrote N messages to ./data/outbox."""
    expected = count(arg, "outbox")
    yield
    written = sorted((run.workdir / "data" / "outbox").glob("*.eml"))
    assert len(written) == expected, f"{len(written)} messages in the outbox, not {expected}"


@setup("smtp")
def smtp(run: Run, arg: str) -> Iterator[None]:
    """``smtp=N``: EMAIL_TRANSPORT=smtp to a real aiosmtpd server, which gets N messages."""
    expected = count(arg, "smtp")
    recorder = SmtpRecorder()
    with socket.socket() as probe:  # aiosmtpd needs the port before it listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        run.env |= {"EMAIL_TRANSPORT": "smtp", "EMAIL_SMTP_URL": f"smtp://127.0.0.1:{port}"}
        yield
        got = len(recorder.messages)
        assert got == expected, f"the SMTP server got {got} messages, not {expected}"
    finally:
        controller.stop()


@setup("postgres")
def postgres(run: Run, arg: str) -> Iterator[None]:
    """QUEUE_DATABASE_URL names a fresh schema on the test PostgreSQL server."""
    with pg.fresh_schema() as url:
        run.env["QUEUE_DATABASE_URL"] = url
        yield


@setup("asgi")
def asgi(run: Run, arg: str) -> Iterator[None]:
    """``asgi=/a,/b``: the block's ``app`` runs its lifespan and answers 200 on each path."""
    paths = [p for p in arg.split(",") if p]
    run.postlude.append(("asgi", f"from tests.docs.support import visit\nvisit(app, {paths!r})\n"))
    yield


def postlude(name: str, source: str) -> None:
    """A setup that only runs ``source`` after the block: a page's promise, checked."""

    def fn(run: Run, arg: str) -> Iterator[None]:
        run.postlude.append((name, source))
        yield

    setup(name)(fn)


postlude("fastapi-signup", "from tests.docs.support import fastapi_signup\nfastapi_signup(app)\n")
postlude("flask-invoice", "from tests.docs.support import flask_invoice\nflask_invoice(app, qm)\n")
postlude("ledger", "from tests.docs.support import ledger\nawait ledger(create_manager, credit)\n")
postlude(
    "verify-signature",
    """\
import base64 as _b64
from tests.docs.support import signed_delivery
_secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
_headers, _body = await signed_delivery(_secret)
_key = _b64.b64decode(_secret.removeprefix("whsec_"))
assert verify(_key, _headers, _body), _headers
assert not verify(_key, _headers, _body + b" "), "a changed body must not verify"
""",
)
postlude("django-shop", "from tests.docs.support import django_shop\ndjango_shop()\n")


@setup("django")
def django(run: Run, arg: str) -> Iterator[None]:
    """Django configured with minimal settings before the block."""
    run.prelude.append(
        ("django", "from tests.docs.support import configure_django\nconfigure_django()\n")
    )
    yield


@setup("django-tasks")
def django_tasks(run: Run, arg: str) -> Iterator[None]:
    """Django with integrations.md's TASKS settings (the queue in Django's database) before
    the block; afterwards its ``result`` is run by the backend's worker, in this process."""
    support = "from tests.docs.support import configure_django_tasks, django_tasks_worker\n"
    run.prelude.append(("django-tasks", support + "configure_django_tasks()\n"))
    run.postlude.append(("django-tasks", "django_tasks_worker(result)\n"))
    yield


@setup("charge")
def charge(run: Run, arg: str) -> Iterator[None]:
    """reliability.md's ``charge`` handler, run as a job: the payment service sees the job id
    as its idempotency key. Needs ``http`` before it."""
    run.postlude.append(
        (
            "charge",
            "from noormme_queue import QueueConfig as _QueueConfig, QueueManager as _QueueManager\n"
            "from tests.docs.support import run_handler\n"
            "qm = _QueueManager(_QueueConfig.from_env())\n"
            "qm.register_handler('charge', charge)\n"
            "async with qm:\n"
            "    job = await run_handler(qm, 'charge', {'amount': 12})\n"
            "assert job.result == {'charge': 'id-1'}, job\n",
        )
    )
    yield
    assert run.http is not None, "charge needs the http setup before it"
    keys = [r.headers.get("idempotency-key") for r in run.http.requests]
    assert keys and all(k and k.startswith("job_") for k in keys), keys
